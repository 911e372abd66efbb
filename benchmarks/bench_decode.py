"""Decoding throughput: batched beam search (k=5) vs greedy vs the textbook per-sample beam search.

    python benchmarks/bench_decode.py [--batch 1024] [--steps 18] [--classes 63] [--beam 5]

All three decode the same log-probs; the textbook search runs on a subset (it is ~30x slower) and
the agreement of the batched search with it is reported on that subset.
"""

from __future__ import annotations

import argparse
import time

import torch

from crnn.decode import beam_search, beam_search_reference, greedy_decode


def timed(fn, *args, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--classes", type=int, default=63)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--reference-samples", type=int, default=128)
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    # peaked like a half-trained model: a few plausible classes per frame
    lp = (torch.randn(args.steps, args.batch, args.classes, generator=g) * 4).log_softmax(-1)  # (T, B, K)
    n_ref = min(args.reference_samples, args.batch)

    t_greedy, _ = timed(greedy_decode, lp)
    t_beam, (beam_ids, _) = timed(beam_search, lp, args.beam)
    t_ref, (ref_ids, _) = timed(beam_search_reference, lp[:, :n_ref], args.beam, repeat=1)
    agree = sum(a == b for a, b in zip(beam_ids[:n_ref], ref_ids, strict=True)) / n_ref

    us = lambda t, n: 1e6 * t / n  # noqa: E731
    threads = torch.get_num_threads()
    print(f"log-probs (T={args.steps}, B={args.batch}, K={args.classes}), beam width {args.beam}, {threads} threads")
    print(f"  greedy                         {us(t_greedy, args.batch):9.1f} us/sample")
    print(f"  batched prefix beam search     {us(t_beam, args.batch):9.1f} us/sample")
    print(f"  textbook per-sample beam (py)  {us(t_ref, n_ref):9.1f} us/sample  (naive baseline, {n_ref} samples)")
    print(f"  speed-up over the baseline     {t_ref / n_ref / (t_beam / args.batch):9.1f}x")
    print(f"  agreement with the baseline    {agree:9.2%} of {n_ref} samples")


if __name__ == "__main__":
    main()
