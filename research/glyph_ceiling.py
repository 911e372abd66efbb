"""How far look-alike glyphs cap a ``captcha`` task, measured on the generator's own glyphs.

    python research/glyph_ceiling.py --out runs/glyphs [--per-class 4000] [--chars 0oOvV...] [--width --height]

The argument. ``ImageCaptcha`` draws each character on its own (``_draw_character``: font size,
offsets, rotation, warp, then stretched into the character's text box) and only then pastes the
glyphs side by side, adds noise, resizes and smooths. A character's identity reaches the final
image only through its own glyph; everything else drawn is independent of it. So (the data
processing inequality) the Bayes error of classifying the isolated glyph is a floor under the
per-character error of any recognizer of the CAPTCHA, and ``(1 - floor) ** length`` caps its
exact accuracy, however large its data or compute. The glyph is pasted vertically centred and
the image is never resized vertically, so a glyph taller than the image loses its top and bottom
rows (at 150x40, up to 17 of 74 each): they are cut here too, and the text-box mask with them.
The classifier still sees a little more than the image keeps (each glyph's absolute width, which
the final horizontal resize shows only relative to its neighbours'; no noise), which can only
lower the floor: the cap stays valid, if loose.

What a run shows. It renders ``--per-class`` glyphs of each character in ``--chars`` exactly as
the generator draws them (seeded like ``crnn data synth``), as RGBA plus the text-box mask, trains
a small CNN at 1/4, 1/2 and all of them, and scores each on fresh glyphs. A trained classifier's
error is at least the Bayes error. Only where it has stopped falling with more glyphs is it an
estimate of the floor, and the printed ceiling an estimate of the cap; while it still falls, the
printed ceiling says only that glyph ambiguity does not cap exact accuracy below it. Characters
not in ``--chars`` count as error-free; case-insensitive, a confusion within a letter's two cases
does not count.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import captcha.image
import numpy as np
import torch
from captcha.image import ImageCaptcha
from PIL import Image, ImageDraw
from torch import nn

from crnn.atomic import atomic_write_json, atomic_write_text
from crnn.charset import resolve_charset
from crnn.data.synth import seeded_secrets

LOOK_ALIKES = "0oOcCkKlI1mMpPsSuUvVwWxXyYzZjJ"
CANVAS = (80, 48)  # (H, W) at least: the largest glyph is 74x35 (font sizes do not depend on the image size)


def render_glyphs(chars: str, per_class: int, seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` glyphs of each character: uint8 (N, 5, H, W) (RGBA and the text-box mask), int64 (N,) class.

    The glyph keeps only the rows that land inside the image: ``create_captcha_image`` pastes it
    vertically centred on an image ``height`` rows high (``int((height - h) / 2)``) and never
    resizes vertically, so the rows outside are lost to every model of the CAPTCHA. The mask is the
    text box cut the same way: its width reaches the image (it moves the next glyph), but its full
    height does not, and a classifier given it would read case from the font size."""
    gen = ImageCaptcha(width=width, height=height)
    draw = ImageDraw.Draw(Image.new("RGB", (width, height)))
    canvas = (max(CANVAS[0], height), CANVAS[1])
    top = (canvas[0] - height) // 2  # the canvas row of the image's first row
    out = np.zeros((len(chars) * per_class, 5, *canvas), dtype=np.uint8)
    labels = np.repeat(np.arange(len(chars)), per_class)
    for k, c in enumerate(chars):
        for i in range(per_class):
            with seeded_secrets(f"glyph:{seed}:{c}:{i}") as rng:
                color = captcha.image.random_color(10, 200, rng.randbelow(36) + 220)  # as generate_image
                glyph = np.asarray(gen._draw_character(c, draw, color))  # (h, w, 4) RGBA
            gh, gw = glyph.shape[:2]
            y0 = top + int((height - gh) / 2)  # where create_captcha_image pastes it
            r0, r1 = max(y0, top), min(y0 + gh, top + height)  # the rows inside the image
            w = min(gw, canvas[1])
            row = out[k * per_class + i]
            row[:4, r0:r1, :w] = glyph[r0 - y0 : r1 - y0, :w].transpose(2, 0, 1)
            row[4, r0:r1, :w] = 255  # the text box as far as the image shows it
    return out, labels


def classifier(classes: int, shape: tuple[int, int, int] = (5, *CANVAS)) -> nn.Module:
    """Four conv blocks and a linear layer over input ``shape`` (C, H, W); about 12 M MACs a glyph at (5, 80, 48)."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    c, h, w = shape
    return nn.Sequential(
        *block(c, 16), *block(16, 32), *block(32, 64), *block(64, 96),  # (B, 96, H/16, W/16)
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(96 * (h // 16) * (w // 16), classes),
    )  # fmt: skip


def train(x: np.ndarray, y: np.ndarray, classes: int, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = classifier(classes, x.shape[1:])
    batch = min(256, len(x))
    steps = epochs * (len(x) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for s in range(len(x) // batch):
            idx = order[s * batch : (s + 1) * batch].numpy()
            xb = torch.from_numpy(x[idx]).float().div_(255)  # (B, 5, H, W)
            loss = nn.functional.cross_entropy(model(xb), torch.from_numpy(y[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        rate = (epoch + 1) * (len(x) // batch) * batch / (time.perf_counter() - start)
        print(f"  epoch {epoch + 1}/{epochs} loss {total / (len(x) // batch):.4f} | {rate:.0f} glyphs/s", flush=True)
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    chunks = (torch.from_numpy(x[i : i + 512]).float().div_(255) for i in range(0, len(x), 512))
    return np.concatenate([model(xb).argmax(1).numpy() for xb in chunks])


def ceiling(errors: dict[str, float], case_errors: dict[str, float], charset: str, length: int) -> tuple[float, float]:
    mean = sum(errors.get(c, 0.0) for c in charset) / len(charset)
    mean_nocase = sum(errors.get(c, 0.0) - case_errors.get(c, 0.0) for c in charset) / len(charset)
    return (1 - mean) ** length, (1 - mean_nocase) ** length


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for ceiling.json and ceiling.md")
    ap.add_argument("--chars", default=LOOK_ALIKES, help=f"characters to classify (default the look-alikes {LOOK_ALIKES})")
    ap.add_argument("--charset", default="alnum", help="the task's charset, for the ceiling (default alnum, 62)")
    ap.add_argument("--length", type=int, default=5, help="characters per CAPTCHA, for the ceiling")
    ap.add_argument("--width", type=int, default=150)
    ap.add_argument("--height", type=int, default=40)
    ap.add_argument("--per-class", type=int, default=4000, help="training glyphs per character")
    ap.add_argument("--test-per-class", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    chars = "".join(dict.fromkeys(args.chars))
    charset = resolve_charset(args.charset)
    start = time.perf_counter()
    x, y = render_glyphs(chars, args.per_class, args.seed, args.width, args.height)
    tx, ty = render_glyphs(chars, args.test_per_class, args.seed + 1, args.width, args.height)
    print(f"rendered {len(x) + len(tx)} glyphs of {len(chars)} characters in {time.perf_counter() - start:.0f} s", flush=True)
    curve, preds = [], None
    for frac in (4, 2, 1):
        per = args.per_class // frac
        keep = np.concatenate([np.arange(k * args.per_class, k * args.per_class + per) for k in range(len(chars))])
        print(f"training on {len(keep)} glyphs ({args.per_class // frac} per character)", flush=True)
        preds = predict(train(x[keep], y[keep], len(chars), args.epochs, args.seed), tx)
        curve.append({"per_class": args.per_class // frac, "test_error": float((preds != ty).mean())})
        print(f"  test error {curve[-1]['test_error']:.3%} on {len(ty)} fresh glyphs", flush=True)
    pairs = Counter((chars[t], chars[p]) for t, p in zip(ty, preds, strict=True) if t != p)
    n = args.test_per_class
    errors = {c: float((preds[ty == k] != k).mean()) for k, c in enumerate(chars)}
    case_errors = {c: sum(v for (t, p), v in pairs.items() if t == c and p.lower() == c.lower()) / n for c in chars}
    exact, nocase = ceiling(errors, case_errors, charset, args.length)
    result = {
        "chars": chars, "per_class": args.per_class, "test_per_class": n, "epochs": args.epochs, "seed": args.seed,
        "size": [args.width, args.height], "curve": curve, "per_char_error": errors,
        "pairs": [{"true": t, "pred": p, "rate": v / n} for (t, p), v in pairs.most_common()],
        "charset": args.charset, "length": args.length, "ceiling_exact": exact, "ceiling_exact_nocase": nocase,
        "minutes": (time.perf_counter() - start) / 60,
    }  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "ceiling.json", result)
    lines = ["| true -> predicted | rate |", "|---|---|"]
    lines += [f"| `{r['true']}` -> `{r['pred']}` | {r['rate']:.2%} |" for r in result["pairs"] if r["rate"] >= 0.001]
    lines += ["", "| glyphs per character | test error |", "|---|---|"]
    lines += [f"| {c['per_class']} | {c['test_error']:.3%} |" for c in curve]
    lines += ["", f"ceiling over {args.length} characters of {args.charset}: exact {exact:.2%}, ignoring case {nocase:.2%}"]
    atomic_write_text(out / "ceiling.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
