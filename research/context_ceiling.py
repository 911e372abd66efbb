"""How well one character can be read from the finished CAPTCHA when its position is given.

    python research/context_ceiling.py --out runs/context [--captchas 40000] [--charset alnum] [--width --height]
                                      [--focus 0oO] [--no-box] [--sizes a,b,c,d] [--workers 2]

``research/glyph_ceiling.py`` classifies each glyph as ``ImageCaptcha`` draws it, before pasting,
overlap with its neighbours, the horizontal squeeze, greyscale, noise and smoothing. This script
classifies the same characters *after* all of that: it renders whole CAPTCHAs exactly as
``crnn data synth`` does (the same seeded stream, byte-identical pixels), records where each
character's glyph box lands in the final image, and trains a small CNN to name the character from a
window of the final greyscale image centred on it, plus a channel marking its box. So the reader
is told where the character is (a sequence model must find it itself) and sees everything the
finished image keeps around it.

What a run shows. Its fresh-character error, with per-pair rates, is what the finished image lets
a plain classifier achieve at that many labels. The gap to the glyph floor is what rendering
destroyed (or what this classifier fails to recover); the gap to a CRNN's per-character error is
what the sequence model still leaves on the table. As with the glyph floor, an error that still
falls with more data is an upper bound on what the image allows, not an estimate of it.
``(1 - error) ** length`` converts it into exact accuracy if errors were independent.
Every size's predictions on the fresh windows are kept (``predictions.npz``): with four or more
sizes, ``research/ceiling_fit.py`` fits where each confusion group's error is heading.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from captcha.image import ImageCaptcha
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from ceiling_fit import lower_ids
from glyph_ceiling import ceiling, predict, train

from crnn.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from crnn.charset import resolve_charset
from crnn.data.synth import SynthSpec, make_labels, render_with
from crnn.progress import Progress


class _Recorder(ImageCaptcha):
    """``ImageCaptcha`` that notes, while it composes an image, each glyph drawn and where it is pasted.
    It draws no extra random numbers, so the pixels are those of the plain generator."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(width=width, height=height)
        self.drawn: list[tuple[str, int]] = []  # (character, glyph width), in drawing order
        self.pasted: list[int] = []  # the x of each paste, in the same order

    def _draw_character(self, c, draw, color):
        im = super()._draw_character(c, draw, color)
        self.drawn.append((c, im.size[0]))
        return im

    def create_captcha_image(self, chars, color, background):
        self.drawn, self.pasted = [], []
        with _recording_pastes(self.pasted):
            return super().create_captcha_image(chars, color, background)


@contextmanager
def _recording_pastes(xs: list[int]):
    original = Image.Image.paste

    def paste(self, im, box=None, mask=None):
        if isinstance(im, Image.Image) and isinstance(box, tuple):
            xs.append(int(box[0]))
        return original(self, im, box, mask)

    Image.Image.paste = paste
    try:
        yield
    finally:
        Image.Image.paste = original


def render_with_boxes(spec: SynthSpec, label: str, index: int, gen: _Recorder) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Sample ``index`` of ``spec``'s stream as uint8 (H, W) greyscale (what ``crnn data synth`` stores),
    and each character's glyph box [x0, x1) in the final image's columns."""
    image = render_with(gen, spec, label, index)  # (H, W)
    assert len(gen.pasted) == len(gen.drawn), "one paste per glyph drawn"
    text_width = sum(w for _, w in gen.drawn)
    scale = spec.width / max(text_width, spec.width)  # the final horizontal resize (1 if the text fits)
    boxes = [(x * scale, (x + w) * scale) for (c, w), x in zip(gen.drawn, gen.pasted, strict=True) if c != " "]
    assert len(boxes) == len(label)
    return image, boxes


def windows(image: np.ndarray, boxes: list[tuple[float, float]], width: int) -> np.ndarray:
    """One (2, H, width) uint8 window per character: the image centred on the box's middle (edges
    repeated past the border) and the box as a mask channel."""
    h, w = image.shape
    pad = width
    padded = np.pad(image, ((0, 0), (pad, pad)), mode="edge")
    out = np.zeros((len(boxes), 2, h, width), dtype=np.uint8)
    for k, (x0, x1) in enumerate(boxes):
        left = round((x0 + x1) / 2) - width // 2
        out[k, 0] = padded[:, left + pad : left + pad + width]
        cols = np.arange(left, left + width)
        out[k, 1, :, (cols >= int(x0)) & (cols < int(np.ceil(x1)))] = 255
    return out


def focus_labels(labels: list[str], focus: str, seed: int) -> tuple[list[str], list[int]]:
    """Each label with one position (uniform) redrawn uniformly from ``focus``, and that position.

    The other characters stay i.i.d. uniform over the charset, so a CAPTCHA made from it is drawn
    from the task's own distribution conditioned on "the character at that position is one of
    ``focus``": a reader trained and scored on those windows alone sees what the task's images of
    those characters look like, with every CAPTCHA giving one example of them instead of a few %."""
    rng = np.random.default_rng([seed, 0x0F0C05])
    out, where = [], []
    for label in labels:
        k = int(rng.integers(len(label)))
        out.append(label[:k] + focus[int(rng.integers(len(focus)))] + label[k + 1 :])
        where.append(k)
    return out, where


def _render_part(args: tuple[SynthSpec, int, int, list[str], list[int] | None]) -> tuple[np.ndarray, list[int]]:
    """CAPTCHAs ``start, start + 1, ...`` of the stream with these labels -> their windows and class ids."""
    spec, width, start, labels, keep = args
    gen = _Recorder(spec.width, spec.height)
    xs, ys = [], []
    for i, label in enumerate(labels):
        image, boxes = render_with_boxes(spec, label, start + i, gen)
        win = windows(image, boxes, width)  # (L, 2, H, width)
        if keep is None:
            xs.append(win)
            ys.extend(spec.charset.index(c) for c in label)
        else:
            xs.append(win[keep[i] : keep[i] + 1])
            ys.append(spec.charset.index(label[keep[i]]))
    return np.concatenate(xs), ys


def render_windows(
    spec: SynthSpec, count: int, width: int, progress: bool = True, focus: str = "", workers: int = 1, chunk: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` CAPTCHAs of ``spec``'s stream -> windows (N*L, 2, H, width) and their class ids (N*L,).
    With ``focus``, only the focus position's window of each (N, 2, H, width), see ``focus_labels``.
    Every image is seeded by its index, so ``workers`` processes give the same arrays as one."""
    labels = make_labels(spec, count)
    keep = None
    if focus:
        labels, keep = focus_labels(labels, focus, spec.seed)
    jobs = [
        (spec, width, s, labels[s : s + chunk], None if keep is None else keep[s : s + chunk])
        for s in range(0, count, chunk)
    ]  # fmt: skip
    pool = mp.get_context("fork").Pool(workers) if workers > 1 else None  # fork: this file is not importable by name
    xs, ys = [], []
    try:
        parts = pool.imap(_render_part, jobs) if pool else map(_render_part, jobs)
        with Progress(count, f"rendering (seed {spec.seed})", enabled=progress) as bar:
            for job, (x, y) in zip(jobs, parts, strict=True):
                xs.append(x)
                ys.extend(y)
                bar.update(len(job[3]))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return np.concatenate(xs), np.asarray(ys, dtype=np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for context.json and context.md")
    ap.add_argument("--charset", default="alnum", help="the task's charset (default alnum, 62 classes)")
    ap.add_argument("--length", type=int, default=5)
    ap.add_argument("--width", type=int, default=150)
    ap.add_argument("--height", type=int, default=40)
    ap.add_argument("--window", type=int, default=48, help="window width in pixels, a multiple of 16")
    ap.add_argument("--captchas", type=int, default=40000, help="training CAPTCHAs (each gives --length characters)")
    ap.add_argument("--test-captchas", type=int, default=4000)
    ap.add_argument("--sizes", default="", help="training sizes in CAPTCHAs, e.g. 25000,50000 (default: half and all)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--focus", default="", help="only these characters (e.g. 0O): one per CAPTCHA, at a random position (default: all)"
    )
    ap.add_argument("--workers", type=int, default=1, help="rendering processes (the arrays do not depend on it)")
    ap.add_argument(
        "--no-box", action="store_true",
        help="blank the box channel: the window is still centred on the character, but its glyph box's width is not given",
    )  # fmt: skip
    args = ap.parse_args()
    if args.workers < 1:
        ap.error(f"--workers {args.workers}: must be at least 1")
    if args.window % 16 or args.window < 16:
        ap.error(f"--window {args.window}: must be a multiple of 16")
    charset = resolve_charset(args.charset)
    if args.focus and (len(set(args.focus)) != len(args.focus) or not set(args.focus) <= set(charset)):
        ap.error(f"--focus {args.focus!r}: expected distinct characters of --charset {args.charset!r}")
    spec = SynthSpec(charset=charset, length=(args.length, args.length), width=args.width, height=args.height, seed=args.seed)
    test_spec = SynthSpec(charset=charset, length=spec.length, width=args.width, height=args.height, seed=args.seed + 1)
    start = time.perf_counter()
    x, y = render_windows(spec, args.captchas, args.window, focus=args.focus, workers=args.workers)
    tx, ty = render_windows(test_spec, args.test_captchas, args.window, focus=args.focus, workers=args.workers)
    per_captcha = 1 if args.focus else args.length  # windows each CAPTCHA gives
    if args.no_box:  # the box's width is the glyph's text box, which the image shows only through its ink
        x[:, 1] = 0
        tx[:, 1] = 0
    print(f"rendered {args.captchas + args.test_captchas} CAPTCHAs in {time.perf_counter() - start:.0f} s", flush=True)
    sizes = [args.captchas // 2, args.captchas]
    if args.sizes:
        try:
            sizes = sorted(int(v) for v in args.sizes.split(","))
        except ValueError:
            ap.error(f"--sizes {args.sizes!r}: expected comma-separated CAPTCHA counts, e.g. 25000,50000")
        if not all(0 < v <= args.captchas for v in sizes):
            ap.error(f"--sizes {args.sizes!r}: each must be between 1 and --captchas {args.captchas}")
    counts = Counter(charset[t] for t in ty)
    lower = lower_ids(charset)  # (K,) class id -> its lower case's id
    curve, preds, every = [], None, []
    for size in sizes:
        n = size * per_captcha
        print(f"training on {n} characters ({size} CAPTCHAs)", flush=True)
        preds = predict(train(x[:n], y[:n], len(charset), args.epochs, args.seed), tx)
        every.append(preds)
        wrong, wrong_nocase = preds != ty, lower[preds] != lower[ty]
        err, nocase = float(wrong.mean()), float(wrong_nocase.mean())
        train_counts = Counter(charset[t] for t in y[:n])
        curve.append({
            "captchas": size, "char_error": err, "char_error_nocase": nocase,
            "train_per_char": {c: train_counts[c] for c in counts},
            "per_char_error": {c: float(wrong[ty == k].mean()) for k, c in enumerate(charset) if counts[c]},
            "per_char_error_nocase": {c: float(wrong_nocase[ty == k].mean()) for k, c in enumerate(charset) if counts[c]},
        })  # fmt: skip
        print(f"  fresh-character error {err:.3%} ({nocase:.3%} ignoring case) on {len(ty)} characters", flush=True)
    pairs = Counter((charset[t], charset[p]) for t, p in zip(ty, preds, strict=True) if t != p)
    errors = {c: float((preds[ty == k] != k).mean()) if counts[c] else 0.0 for k, c in enumerate(charset)}
    case_errors = {
        c: sum(v for (t, p), v in pairs.items() if t == c and p.lower() == c.lower()) / max(counts[c], 1) for c in charset
    }
    exact, exact_nocase = ceiling(errors, case_errors, charset, args.length)
    test_exact = None if args.focus else float(np.mean((preds.reshape(-1, args.length) == ty.reshape(-1, args.length)).all(1)))
    result = {
        "charset": args.charset, "length": args.length, "size": [args.width, args.height], "window": args.window,
        "captchas": args.captchas, "test_captchas": args.test_captchas, "epochs": args.epochs, "seed": args.seed,
        "focus": args.focus, "box_given": not args.no_box,
        "curve": curve, "per_char_error": errors, "test_exact_all_chars_right": test_exact,
        "pairs": [{"true": t, "pred": p, "count": v, "rate": v / counts[t]} for (t, p), v in pairs.most_common()],
        "exact_if_independent": exact, "exact_nocase_if_independent": exact_nocase,
        "minutes": (time.perf_counter() - start) / 60,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "context.json", result)
    buf = io.BytesIO()  # every size's predictions on the fresh windows, for research/ceiling_fit.py's bootstrap
    np.savez_compressed(buf, truth=ty, predicted=np.stack(every), sizes=np.asarray(sizes), charset=np.asarray(list(charset)))
    atomic_write_bytes(out / "predictions.npz", buf.getvalue())
    lines = ["| true -> predicted | errors | rate |", "|---|---|---|"]
    lines += [f"| `{r['true']}` -> `{r['pred']}` | {r['count']} | {r['rate']:.2%} |" for r in result["pairs"][:20]]
    lines += ["", "| training CAPTCHAs | fresh-character error | ignoring case |", "|---|---|---|"]
    lines += [f"| {c['captchas']} | {c['char_error']:.3%} | {c['char_error_nocase']:.3%} |" for c in curve]
    lines.append("")
    if test_exact is not None:
        lines.append(f"{args.test_captchas} fresh CAPTCHAs with every character right: {test_exact:.2%}")
    else:
        lines.append(f"only {args.focus!r} read ({args.test_captchas} fresh ones); the other characters count as error-free")
    lines.append(f"(1 - per-character error)^{args.length}: exact {exact:.2%}, ignoring case {exact_nocase:.2%}")
    atomic_write_text(out / "context.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
