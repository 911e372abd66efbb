"""CTC decoding of log-probs (T, B, K), class 0 = blank: greedy and exact prefix beam search.

Both return, per sample, the label ids and a confidence in [0, 1]: for greedy the probability of
the best path, for beam search the probability of the chosen prefix summed over its alignments.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from crnn.decode_np import prefix_beam

NEG_INF = float("-inf")


def greedy_decode(log_probs: torch.Tensor) -> tuple[list[list[int]], list[float]]:
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best, ids = log_probs.max(dim=-1)  # (T, B), (T, B)
    ids = ids.t().cpu()  # (B, T)
    keep = ids != 0
    keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    conf = best.sum(0).exp().cpu().tolist()  # (B,)
    return [row[mask].tolist() for row, mask in zip(ids, keep, strict=True)], conf


def char_confidences(log_probs: torch.Tensor) -> list[list[float]]:
    """Best path, per emitted character: the highest probability among the frames that emitted it (a run of
    one character between blanks or other characters). (T, B, K) -> B lists, as long as greedy_decode's answers."""
    best, ids = log_probs.max(dim=-1)  # (T, B), (T, B)
    best, ids = best.exp().t().cpu(), ids.t().cpu()  # (B, T)
    starts = ids != 0
    starts[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    out = []
    for row, prob, start in zip(ids, best, starts, strict=True):
        run = torch.cumsum(start.long(), 0) - 1  # (T,) which character each frame's run belongs to
        run[row == 0] = -1  # blanks belong to none
        n = int(start.sum())
        conf = torch.zeros(n).scatter_reduce(0, run[run >= 0], prob[run >= 0], "amax", include_self=False) if n else prob[:0]
        out.append(conf.tolist())
    return out


@dataclass
class _Beams:
    """``W`` prefixes per sample: token ids (B, W, T) -1 padded, lengths (B, W), and the log-probability of
    each ending in a blank (pb) and in a non-blank (pnb), (B, W)."""

    prefix: torch.Tensor
    length: torch.Tensor
    pb: torch.Tensor
    pnb: torch.Tensor

    def last(self) -> torch.Tensor:
        """(B, W) each prefix's last character, -1 for the empty prefix."""
        last = self.prefix.gather(2, (self.length - 1).clamp(min=0).unsqueeze(2)).squeeze(2)
        return torch.where(self.length > 0, last, torch.full_like(last, -1))


def _extend(beams: _Beams, frame: torch.Tensor, chars: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One frame (B, K): every beam's stay (its pb and pnb, (B, W)) and its growth by each character
    (B, W*(K-1)), a growth that equals another live beam already merged into that beam's stay."""
    b, w = beams.pb.shape
    n_cls = chars.numel()  # K-1
    total = torch.logaddexp(beams.pb, beams.pnb)  # (B, W)
    alive = total > NEG_INF
    last = beams.last()
    # stay: a blank, or the last character again (collapses into the same prefix)
    stay_pb = total + frame[:, :1]  # (B, W)
    last_lp = frame.gather(1, last.clamp(min=0))  # (B, W)
    stay_pnb = torch.where(beams.length > 0, beams.pnb + last_lp, torch.full_like(beams.pnb, NEG_INF))
    # grow by c: from any ending, except that repeating the last character needs a blank before it
    is_last = chars.view(1, 1, -1) == last.unsqueeze(2)  # (B, W, K-1)
    source = torch.where(is_last, beams.pb.unsqueeze(2), total.unsqueeze(2))  # (B, W, K-1)
    grow = source + frame[:, 1:].unsqueeze(1)  # (B, W, K-1)
    # merge: beam i grown by c equals live beam j when j = i + c
    parent = beams.prefix.clone()
    parent.scatter_(2, (beams.length - 1).clamp(min=0).unsqueeze(2), -1)  # beam j without its last char
    same = (beams.prefix.unsqueeze(2) == parent.unsqueeze(1)).all(-1)  # (B, Wi, Wj)
    same &= ((beams.length > 0) & alive).unsqueeze(1)
    # each live j has at most one such (i, c): c = last_j, i = the beam equal to j's parent
    matched = same.any(1)  # (B, Wj)
    src_i = same.float().argmax(1)  # (B, Wj)
    n_grow = w * n_cls
    flat = src_i * n_cls + (last.clamp(min=1) - 1)  # (B, Wj) index into grow as (B, W*(K-1))
    flat = torch.where(matched, flat, torch.full_like(flat, n_grow))  # unmatched -> a spare column
    grow = torch.cat([grow.reshape(b, n_grow), torch.full((b, 1), NEG_INF)], dim=1)  # (B, W*(K-1) + 1)
    stay_pnb = torch.logaddexp(stay_pnb, grow.gather(1, flat))  # the spare column adds exp(-inf) = 0
    grow = grow.scatter(1, flat, NEG_INF)[:, :n_grow]  # a merged growth is no separate candidate
    return stay_pb, stay_pnb, grow


def _select(beams: _Beams, stay_pb: torch.Tensor, stay_pnb: torch.Tensor, grow: torch.Tensor, n_cls: int) -> _Beams:
    """The best W among the W stays and W*(K-1) growths."""
    w, t_steps = beams.pb.shape[1], beams.prefix.shape[2]
    stay_score = torch.logaddexp(stay_pb, stay_pnb)  # (B, W)
    scores = torch.cat([stay_score, grow], dim=1)  # (B, W + W*(K-1))
    top, idx = scores.topk(w, dim=1)  # (B, W)
    is_grow = idx >= w
    src = torch.where(is_grow, (idx - w) // n_cls, idx)  # parent beam
    new_char = (idx - w) % n_cls + 1
    prefix = beams.prefix[torch.arange(len(src)).unsqueeze(1), src]  # (B, W, T)
    length = beams.length.gather(1, src)
    grown = prefix.scatter(2, length.clamp(max=t_steps - 1).unsqueeze(2), new_char.unsqueeze(2))
    prefix = torch.where(is_grow.unsqueeze(2), grown, prefix)
    pb = torch.where(is_grow, torch.full_like(top, NEG_INF), stay_pb.gather(1, src))
    pnb = torch.where(is_grow, top, stay_pnb.gather(1, src))
    dead = top == NEG_INF
    return _Beams(prefix, length + is_grow.long(), pb.masked_fill(dead, NEG_INF), pnb.masked_fill(dead, NEG_INF))


def beam_search(log_probs: torch.Tensor, beam_width: int = 5) -> tuple[list[list[int]], list[float]]:
    """CTC prefix beam search, all samples at once; ``beam_width`` 1 is greedy decoding.

    Each sample keeps ``beam_width`` prefixes with the log-probability of ending in a blank (pb)
    and in a non-blank (pnb). Per frame every prefix either stays (a blank, or its last character
    repeated) or grows by one character; a grown prefix that equals another kept prefix is merged
    into it, exactly as the textbook dict-based search does, so the result is the same.
    """
    if beam_width <= 1:
        return greedy_decode(log_probs)
    lp = log_probs.detach().float().cpu()
    t_steps, b, k_cls = lp.shape
    w = beam_width
    beams = _Beams(
        torch.full((b, w, t_steps), -1, dtype=torch.long),
        torch.zeros(b, w, dtype=torch.long),
        torch.full((b, w), NEG_INF),
        torch.full((b, w), NEG_INF),
    )
    beams.pb[:, 0] = 0.0  # one live beam: the empty prefix
    chars = torch.arange(1, k_cls)  # (K-1,) non-blank classes
    for t in range(t_steps):
        beams = _select(beams, *_extend(beams, lp[t], chars), k_cls - 1)
    prefix, length, pb, pnb = beams.prefix, beams.length, beams.pb, beams.pnb
    final = torch.logaddexp(pb, pnb)  # (B, W)
    best_score, best = final.max(dim=1)
    out = []
    for i in range(b):
        n = int(length[i, best[i]])
        out.append(prefix[i, best[i], :n].tolist())
    return out, best_score.exp().tolist()


def beam_search_reference(log_probs: torch.Tensor, beam_width: int = 5) -> tuple[list[list[int]], list[float]]:
    """The textbook per-sample prefix beam search with dicts (``crnn.decode_np.prefix_beam``); slow, kept
    as the oracle for tests and as the naive baseline of ``benchmarks/bench_decode.py``."""
    if beam_width <= 1:
        return greedy_decode(log_probs)
    return prefix_beam(log_probs.detach().double().cpu().permute(1, 0, 2).tolist(), beam_width)  # (B, T, K)


def decode(log_probs: torch.Tensor, beam_width: int = 1) -> tuple[list[list[int]], list[float]]:
    """Greedy for width 1, beam search above."""
    return beam_search(log_probs, beam_width) if beam_width > 1 else greedy_decode(log_probs)
