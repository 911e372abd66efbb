"""CTC decoding of log-probs (T, B, K), class 0 = blank: greedy and exact prefix beam search.

Both return, per sample, the label ids and a confidence in [0, 1]: for greedy the probability of
the best path, for beam search the probability of the chosen prefix summed over its alignments.
"""

from __future__ import annotations

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
    prefix = torch.full((b, w, t_steps), -1, dtype=torch.long)  # token ids, -1 padded
    length = torch.zeros(b, w, dtype=torch.long)
    pb = torch.full((b, w), NEG_INF)
    pnb = torch.full((b, w), NEG_INF)
    pb[:, 0] = 0.0  # one live beam: the empty prefix
    chars = torch.arange(1, k_cls)  # (K-1,) non-blank classes
    rows = torch.arange(b)
    for t in range(t_steps):
        frame = lp[t]  # (B, K)
        total = torch.logaddexp(pb, pnb)  # (B, W)
        alive = total > NEG_INF
        last = prefix.gather(2, (length - 1).clamp(min=0).unsqueeze(2)).squeeze(2)  # (B, W)
        last = torch.where(length > 0, last, torch.full_like(last, -1))
        # stay: a blank, or the last character again (collapses into the same prefix)
        stay_pb = total + frame[:, :1]  # (B, W)
        last_lp = frame.gather(1, last.clamp(min=0))  # (B, W)
        stay_pnb = torch.where(length > 0, pnb + last_lp, torch.full_like(pnb, NEG_INF))
        # grow by c: from any ending, except that repeating the last character needs a blank before it
        is_last = chars.view(1, 1, -1) == last.unsqueeze(2)  # (B, W, K-1)
        source = torch.where(is_last, pb.unsqueeze(2), total.unsqueeze(2))  # (B, W, K-1)
        grow = source + frame[:, 1:].unsqueeze(1)  # (B, W, K-1)
        # merge: beam i grown by c equals live beam j when j = i + c
        parent = prefix.clone()
        parent.scatter_(2, (length - 1).clamp(min=0).unsqueeze(2), -1)  # beam j without its last char
        same = (prefix.unsqueeze(2) == parent.unsqueeze(1)).all(-1)  # (B, Wi, Wj)
        same &= ((length > 0) & alive).unsqueeze(1)
        # each live j has at most one such (i, c): c = last_j, i = the beam equal to j's parent
        matched = same.any(1)  # (B, Wj)
        src_i = same.float().argmax(1)  # (B, Wj)
        n_grow = w * (k_cls - 1)
        flat = src_i * (k_cls - 1) + (last.clamp(min=1) - 1)  # (B, Wj) index into grow as (B, W*(K-1))
        flat = torch.where(matched, flat, torch.full_like(flat, n_grow))  # unmatched -> a spare column
        grow = torch.cat([grow.reshape(b, n_grow), torch.full((b, 1), NEG_INF)], dim=1)  # (B, W*(K-1) + 1)
        stay_pnb = torch.logaddexp(stay_pnb, grow.gather(1, flat))  # the spare column adds exp(-inf) = 0
        grow = grow.scatter(1, flat, NEG_INF)[:, :n_grow]  # a merged growth is no separate candidate
        # choose the best W among W stays and W*(K-1) growths
        stay_score = torch.logaddexp(stay_pb, stay_pnb)  # (B, W)
        scores = torch.cat([stay_score, grow], dim=1)  # (B, W + W*(K-1))
        top, idx = scores.topk(w, dim=1)  # (B, W)
        is_grow = idx >= w
        src = torch.where(is_grow, (idx - w) // (k_cls - 1), idx)  # parent beam
        new_char = (idx - w) % (k_cls - 1) + 1
        prefix = prefix[rows.unsqueeze(1), src]  # (B, W, T)
        length = length.gather(1, src)
        grow_pos = length.clamp(max=t_steps - 1).unsqueeze(2)
        grown = prefix.scatter(2, grow_pos, new_char.unsqueeze(2))
        prefix = torch.where(is_grow.unsqueeze(2), grown, prefix)
        length = length + is_grow.long()
        pb = torch.where(is_grow, torch.full_like(top, NEG_INF), stay_pb.gather(1, src))
        pnb = torch.where(is_grow, top, stay_pnb.gather(1, src))
        dead = top == NEG_INF
        pb = pb.masked_fill(dead, NEG_INF)
        pnb = pnb.masked_fill(dead, NEG_INF)
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
