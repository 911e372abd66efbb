"""Where a task's per-character error stops falling: fit the data-scaling curve of a context reader.

    python scripts/ceiling_fit.py --run runs/context-62-focus [--others results/context-ceiling/alnum-150x40-100k]

``scripts/context_ceiling.py`` trains a reader of the finished image at several data sizes and
keeps every size's predictions on the same fresh windows. For each character this script fits

    error(n) = floor + a * n ** -b        (n: training examples of that character)

by weighted least squares (binomial variances; ``b`` on a grid, ``floor >= 0``), and bootstraps the
fresh windows (the same resample at every size) for a 95% interval on each floor. The floor is where
that reader's error is heading with unlimited labels (which an attacker who has the generator has):
an estimate, from an extrapolation, of the error the image forces on a reader told where the
character is. ``error(n)`` at a larger ``n`` says how many labels would get there.

With ``--others`` (a full-charset run of the same task, its last size) the characters the focus run
did not read, and the focus characters' errors into characters outside the focus set, are taken from
that run as measured: upper bounds, since they also fall with data. The task's exact-accuracy ceiling
is then ``(1 - mean per-character error) ** length`` over the whole charset (errors independent).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from crnn.atomic import atomic_write_json, atomic_write_text
from crnn.plots import save_figure

EXPONENTS = np.round(np.arange(0.05, 2.001, 0.01), 2)


def fit_floor(n: np.ndarray, err: np.ndarray, m: int) -> tuple[float, float, float]:
    """(floor, a, b) of ``err = floor + a * n**-b`` for errors measured on ``m`` fresh examples each."""
    var = np.maximum(err * (1 - err), 1.0 / m) / m  # binomial; one error's worth where none was seen
    w = 1.0 / var
    best = (np.inf, 0.0, 0.0, 0.0)
    for b in EXPONENTS:
        z = n**-b
        # weighted least squares of err on [1, z], then floor clipped to >= 0 (refit a alone)
        sw, swz, swzz = w.sum(), (w * z).sum(), (w * z * z).sum()
        swe, swze = (w * err).sum(), (w * z * err).sum()
        det = sw * swzz - swz * swz
        floor = (swzz * swe - swz * swze) / det if det > 0 else 0.0
        a = (sw * swze - swz * swe) / det if det > 0 else 0.0
        if floor < 0 or a < 0:
            floor, a = 0.0, max(swze / swzz, 0.0)
        sse = float((w * (err - floor - a * z) ** 2).sum())
        if sse < best[0]:
            best = (sse, float(floor), float(a), float(b))
    return best[1], best[2], best[3]


def errors_at(truth: np.ndarray, predicted: np.ndarray, classes: list[int], fold) -> np.ndarray:
    """(sizes, classes) error of each class's fresh windows; ``fold`` maps class ids (e.g. to lower case)."""
    wrong = fold[predicted] != fold[truth][None, :]  # (sizes, N)
    return np.stack([wrong[:, truth == k].mean(1) for k in classes], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a scripts/context_ceiling.py --out folder (context.json, predictions.npz)")
    ap.add_argument("--others", default="", help="a full-charset context_ceiling.py folder of the same task (optional)")
    ap.add_argument("--out", default="", help="where ceiling.json, ceiling.md and ceiling.png go (default: --run)")
    ap.add_argument("--bootstrap", type=int, default=200, help="resamples of the fresh windows for the intervals")
    ap.add_argument("--at", default="100000,1000000", help="examples per character to predict the error at")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    run = Path(args.run)
    for name in ("context.json", "predictions.npz"):
        if not (run / name).is_file():
            ap.error(f"--run {run}: no {name} (write it with scripts/context_ceiling.py --out {run})")
    try:
        at = [int(v) for v in args.at.split(",")]
    except ValueError:
        ap.error(f"--at {args.at!r}: expected comma-separated counts, e.g. 100000,1000000")
    ctx = json.loads((run / "context.json").read_text())
    if len(ctx["curve"]) < 4 or "train_per_char" not in ctx["curve"][0]:
        ap.error(f"--run {run}: needs at least 4 sizes with per-character counts (--sizes a,b,c,d), has {len(ctx['curve'])}")
    npz = np.load(run / "predictions.npz")
    truth, predicted, charset = npz["truth"], npz["predicted"], "".join(npz["charset"].tolist())
    read = sorted(set(truth.tolist()))
    chars = [charset[k] for k in read]
    n = np.array([[c["train_per_char"][ch] for ch in chars] for c in ctx["curve"]], dtype=float)  # (sizes, classes)
    same = np.arange(len(charset))
    lower = np.array([charset.index(c.lower()) if c.lower() in charset else k for k, c in enumerate(charset)])
    rng = np.random.default_rng(args.seed)

    def floors(idx: np.ndarray) -> dict[str, np.ndarray]:
        t, p = truth[idx], predicted[:, idx]
        out = {}
        for key, fold in (("exact", same), ("nocase", lower)):
            err = errors_at(t, p, read, fold)  # (sizes, classes)
            fits = [fit_floor(n[:, j], err[:, j], int((t == k).sum())) for j, k in enumerate(read)]
            out[key] = np.array(fits)  # (classes, 3): floor, a, b
            out[key + "_err"] = err
        return out

    point = floors(np.arange(len(truth)))
    boots = [floors(rng.integers(0, len(truth), len(truth))) for _ in range(args.bootstrap)]

    others: dict[str, dict[str, float]] = {"exact": {}, "nocase": {}}
    outside: dict[str, dict[str, float]] = {"exact": {}, "nocase": {}}
    if args.others:
        full = json.loads((Path(args.others) / "context.json").read_text())
        if full["charset"] != ctx["charset"] or full["length"] != ctx["length"] or full["size"] != ctx["size"]:
            ap.error(f"--others {args.others}: a different task ({full['charset']}, {full['length']}, {full['size']})")
        count = {ch: 0 for ch in charset}
        for r in full["pairs"]:  # rate = count / occurrences of the true character
            count[r["true"]] = r["count"] / r["rate"]
        for ch in charset:
            if ch in chars:
                for key in ("exact", "nocase"):
                    wrong = [r for r in full["pairs"] if r["true"] == ch and r["pred"] not in chars]
                    if key == "nocase":
                        wrong = [r for r in wrong if r["pred"].lower() != ch.lower()]
                    outside[key][ch] = sum(r["rate"] for r in wrong)
            else:
                others["exact"][ch] = full["per_char_error"][ch]
                case = sum(r["rate"] for r in full["pairs"] if r["true"] == ch and r["pred"].lower() == ch.lower())
                others["nocase"][ch] = full["per_char_error"][ch] - case

    def ceiling(fits: np.ndarray, key: str) -> float:
        per_char = {ch: fits[j, 0] + outside[key].get(ch, 0.0) for j, ch in enumerate(chars)}
        per_char.update(others[key])
        return (1 - sum(per_char.values()) / len(charset)) ** ctx["length"]

    result: dict = {"run": str(run), "others": args.others, "charset": ctx["charset"], "length": ctx["length"],
                    "examples_per_char": {ch: n[:, j].tolist() for j, ch in enumerate(chars)}, "chars": {}}  # fmt: skip
    for j, ch in enumerate(chars):
        entry = {}
        for key in ("exact", "nocase"):
            floor, a, b = point[key][j]
            boot = np.array([bt[key][j, 0] for bt in boots])
            entry[key] = {
                "measured": point[key + "_err"][:, j].tolist(), "floor": floor, "a": a, "b": b,
                "floor_ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                "at": {str(v): floor + a * v**-b for v in at},
            }  # fmt: skip
        result["chars"][ch] = entry
    for key in ("exact", "nocase"):
        values = np.array([ceiling(bt[key], key) for bt in boots])
        result[f"ceiling_{key}"] = ceiling(point[key], key)
        result[f"ceiling_{key}_ci"] = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
        for v in at:
            fits = point[key].copy()
            fits[:, 0] = fits[:, 0] + fits[:, 1] * v ** -fits[:, 2]
            result.setdefault(f"exact_at_{key}", {})[str(v)] = ceiling(fits, key)
    out = Path(args.out or run)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "ceiling.json", result)
    atomic_write_text(out / "ceiling.md", report(result, at))
    plot(result, out / "ceiling.png")
    print(report(result, at))


def report(result: dict, at: list[int]) -> str:
    order = sorted(result["chars"], key=lambda ch: -result["chars"][ch]["exact"]["measured"][-1])
    lines = [
        "| char | examples per char (largest) | error measured (sizes, small to large) | fitted floor [95%] | exponent b | "
        + " | ".join(f"at {v:,}" for v in at)
        + " | floor ignoring case [95%] |",
        "|---" * (5 + len(at)) + "|",
    ]
    for ch in order:
        e, c = result["chars"][ch]["exact"], result["chars"][ch]["nocase"]
        measured = " / ".join(f"{v:.2%}" for v in e["measured"])
        preds = " | ".join(f"{e['at'][str(v)]:.2%}" for v in at)
        lines.append(
            f"| `{ch}` | {result['examples_per_char'][ch][-1]:,.0f} | {measured} | {e['floor']:.2%} "
            f"[{e['floor_ci'][0]:.2%}, {e['floor_ci'][1]:.2%}] | {e['b']:.2f} | {preds} | "
            f"{c['floor']:.2%} [{c['floor_ci'][0]:.2%}, {c['floor_ci'][1]:.2%}] |"
        )
    lines.append("")
    for key, name in (("exact", "exact"), ("nocase", "ignoring case")):
        lo, hi = result[f"ceiling_{key}_ci"]
        at_text = ", ".join(f"{v:,} per char: {result[f'exact_at_{key}'][str(v)]:.2%}" for v in at)
        lines.append(f"ceiling, {name}: {result[f'ceiling_{key}']:.2%} [{lo:.2%}, {hi:.2%}]; fitted curve at {at_text}")
    if not result["others"]:
        lines.append("(characters outside the focus set count as error-free: pass --others for a full-charset run)")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    order = sorted(result["chars"], key=lambda ch: -result["chars"][ch]["exact"]["measured"][-1])[:8]
    for ch in order:
        e, n = result["chars"][ch]["exact"], np.array(result["examples_per_char"][ch])
        (line,) = ax.loglog(n, np.maximum(e["measured"], 1e-4), "o", label=f"{ch}: floor {e['floor']:.2%}")
        grid = np.geomspace(n[0], n[-1] * 50, 100)
        ax.loglog(grid, e["floor"] + e["a"] * grid ** -e["b"], "-", color=line.get_color(), alpha=0.7)
    ax.set_xlabel("training examples of the character")
    ax.set_ylabel("fresh-character error")
    ax.set_title("context reader: error vs examples, fitted floor + a n^-b")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
