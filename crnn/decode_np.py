"""CTC decoding without torch, for ``crnn predict --model model.onnx`` (onnxruntime and numpy only):
greedy on a numpy array, and the textbook prefix beam search on nested lists, which
``crnn.decode.beam_search_reference`` also runs as the oracle of the batched torch search."""

from __future__ import annotations

import math

import numpy as np

NEG_INF = float("-inf")


def greedy_np(log_probs: np.ndarray) -> tuple[list[list[int]], list[float]]:
    """log_probs (T, B, K) -> best path per sample (repeats merged, blanks dropped) and its probability."""
    ids = log_probs.argmax(-1).T  # (B, T)
    best = np.take_along_axis(log_probs, ids.T[..., None], axis=-1)[..., 0].sum(0)  # (B,)
    keep = ids != 0
    keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    return [row[mask].tolist() for row, mask in zip(ids, keep, strict=True)], np.exp(best).tolist()


def _lse(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def prefix_beam(samples: list[list[list[float]]], beam_width: int) -> tuple[list[list[int]], list[float]]:
    """Per-sample prefix beam search over log-probs as lists (B, T, K), class 0 = blank."""
    out, confs = [], []
    for sample in samples:
        beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
        for frame in sample:
            nxt: dict[tuple[int, ...], list[float]] = {}
            for pre, (p_b, p_nb) in beams.items():
                tot = _lse(p_b, p_nb)
                e = nxt.setdefault(pre, [NEG_INF, NEG_INF])
                e[0] = _lse(e[0], tot + frame[0])
                if pre:
                    e[1] = _lse(e[1], p_nb + frame[pre[-1]])
                for c in range(1, len(frame)):
                    ext = (*pre, c)
                    src = p_b if pre and pre[-1] == c else tot
                    e2 = nxt.setdefault(ext, [NEG_INF, NEG_INF])
                    e2[1] = _lse(e2[1], src + frame[c])
            ranked = sorted(nxt.items(), key=lambda kv: _lse(*kv[1]), reverse=True)[:beam_width]
            beams = {pre: (v[0], v[1]) for pre, v in ranked}
        pre, (p_b, p_nb) = max(beams.items(), key=lambda kv: _lse(*kv[1]))
        out.append(list(pre))
        confs.append(math.exp(_lse(p_b, p_nb)))
    return out, confs


def decode_np(log_probs: np.ndarray, beam_width: int = 1) -> tuple[list[list[int]], list[float]]:
    """(T, B, K) log-probs: greedy for width 1, prefix beam search above."""
    if beam_width <= 1:
        return greedy_np(log_probs)
    return prefix_beam(np.asarray(log_probs, dtype=np.float64).transpose(1, 0, 2).tolist(), beam_width)
