"""Where a task's per-character error stops falling: fit the data-scaling curve of a context reader.

    python research/ceiling_fit.py --run runs/context-62-focus [--others results/context-ceiling/alnum-150x40-100k]

``research/context_ceiling.py`` trains a reader of the finished image at several data sizes and
keeps every size's predictions on the same fresh windows. For each confusion group (a letter with
its other case, ``0/o/O``, ``l/I/1``, or ``--groups``), and for all read characters as one, it fits

    error(n) = floor + a * n ** -b        (n: training examples per character of the group)

by weighted least squares (binomial variances; ``b`` on a grid, ``floor >= 0``), and bootstraps the
fresh windows (the same resample at every size) for a 95% interval on each floor, and refits
with each size left out (the sizes' training noise). The floor is where
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
from crnn.metrics import LOOK_ALIKE_SETS
from crnn.plots import save_figure

EXPONENTS = np.round(np.arange(0.05, 2.001, 0.01), 2)


def fit_floor(n: np.ndarray, err: np.ndarray, m: int) -> tuple[float, float, float]:
    """(floor, a, b) of ``err = floor + a * n**-b`` for errors measured on ``m`` fresh examples each."""
    var = np.maximum(err * (1 - err), 1.0 / m) / m  # binomial; one error's worth where none was seen
    w = 1.0 / var
    best = (np.inf, 0.0, 0.0, 0.0)
    for b in EXPONENTS:
        z = n**-b
        # weighted least squares of err on [1, z]; a rising curve (a < 0) has no falling part, so it
        # keeps its weighted mean as the floor; a negative floor is clipped to 0 and a refitted alone
        sw, swz, swzz = w.sum(), (w * z).sum(), (w * z * z).sum()
        swe, swze = (w * err).sum(), (w * z * err).sum()
        det = sw * swzz - swz * swz
        floor = (swzz * swe - swz * swze) / det if det > 0 else 0.0
        a = (sw * swze - swz * swe) / det if det > 0 else 0.0
        if a < 0:
            floor, a = swe / sw, 0.0
        elif floor < 0:
            floor, a = 0.0, max(swze / swzz, 0.0)
        sse = float((w * (err - floor - a * z) ** 2).sum())
        if sse < best[0]:
            best = (sse, float(floor), float(a), float(b))
    return best[1], best[2], best[3]


def default_groups(chars: list[str]) -> list[str]:
    """The read characters in confusion groups: a letter with its other case, ``0/o/O``, ``l/I/1``."""
    groups: list[set[str]] = []
    for ch in chars:
        linked = {c for c in chars if c.lower() == ch.lower()}
        linked |= {c for s in LOOK_ALIKE_SETS if ch in s for c in s if c in chars}
        hits = [g for g in groups if g & linked]
        for g in hits:
            groups.remove(g)
            linked |= g
        groups.append(linked)
    ordered = ["".join(sorted(g, key=chars.index)) for g in groups]
    return sorted(ordered, key=lambda g: chars.index(g[0]))


def group_errors(truth: np.ndarray, predicted: np.ndarray, members: list[int], fold: np.ndarray) -> np.ndarray:
    """(sizes,) error over the fresh windows of a group's characters; ``fold`` maps ids (e.g. to lower case)."""
    keep = np.isin(truth, members)
    return (fold[predicted[:, keep]] != fold[truth[keep]][None, :]).mean(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a research/context_ceiling.py --out folder (context.json, predictions.npz)")
    ap.add_argument("--others", default="", help="a full-charset context_ceiling.py folder of the same task (optional)")
    ap.add_argument("--out", default="", help="where ceiling.json, ceiling.md and ceiling.png go (default: --run)")
    ap.add_argument("--groups", default="", help="confusion groups, e.g. vV,0oO,lI (default: case pairs, 0oO, lI1)")
    ap.add_argument("--bootstrap", type=int, default=200, help="resamples of the fresh windows for the intervals")
    ap.add_argument("--at", default="100000,1000000", help="examples per character to predict the error at")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    run = Path(args.run)
    for name in ("context.json", "predictions.npz"):
        if not (run / name).is_file():
            ap.error(f"--run {run}: no {name} (write it with research/context_ceiling.py --out {run})")
    try:
        at = [int(v) for v in args.at.split(",")]
    except ValueError:
        ap.error(f"--at {args.at!r}: expected comma-separated counts, e.g. 100000,1000000")
    ctx = json.loads((run / "context.json").read_text())
    if len(ctx["curve"]) < 4 or "train_per_char" not in ctx["curve"][0]:
        ap.error(f"--run {run}: needs at least 4 sizes with per-character counts (--sizes a,b,c,d), has {len(ctx['curve'])}")
    npz = np.load(run / "predictions.npz")
    truth, predicted, charset = npz["truth"], npz["predicted"], "".join(npz["charset"].tolist())
    chars = [charset[k] for k in sorted(set(truth.tolist()))]
    groups = default_groups(chars) if not args.groups else args.groups.split(",")
    if sorted("".join(groups)) != sorted(chars):
        ap.error(f"--groups {args.groups!r}: must list each read character ({''.join(chars)}) exactly once")
    units = [*groups, "".join(chars)] if len(groups) > 1 else groups  # the last: every read character as one group
    folds = {"exact": np.arange(len(charset)), "nocase": lower_ids(charset)}
    n = {u: np.array([np.mean([c["train_per_char"][ch] for ch in u]) for c in ctx["curve"]]) for u in units}
    rng = np.random.default_rng(args.seed)

    def fits(idx: np.ndarray, sizes: np.ndarray) -> dict[tuple[str, str], tuple[np.ndarray, tuple[float, float, float]]]:
        t, p, out = truth[idx], predicted[np.ix_(sizes, idx)], {}  # (N,), (sizes, N)
        for u in units:
            members = [charset.index(ch) for ch in u]
            m = int(np.isin(t, members).sum())
            for key, fold in folds.items():
                err = group_errors(t, p, members, fold)
                out[(u, key)] = err, fit_floor(n[u][sizes], err, m)
        return out

    everything = np.arange(len(truth))
    all_sizes = np.arange(len(ctx["curve"]))
    point = fits(everything, all_sizes)
    boots = [fits(rng.integers(0, len(truth), len(truth)), all_sizes) for _ in range(args.bootstrap)]
    loo = [fits(everything, np.delete(all_sizes, k)) for k in all_sizes] if len(all_sizes) >= 5 else []
    others = outside_errors(args.others, ctx, charset, chars, ap) if args.others else ({}, {})

    def ceiling(result: dict, key: str, shift: float | None = None, pooled: bool = False) -> float:
        """Over the whole charset; each read character at its group's floor (``pooled``: at the floor of
        one fit over all of them), or at the group's fitted error for ``shift`` examples per character."""
        per_char = {}
        for u in [units[-1]] if pooled else groups:
            floor, a, b = result[(u, key)][1]
            for ch in u:
                per_char[ch] = (floor if shift is None else floor + a * shift**-b) + others[1].get((ch, key), 0.0)
        per_char.update({ch: v for (ch, k), v in others[0].items() if k == key})
        return (1 - sum(per_char.values()) / len(charset)) ** ctx["length"]

    result: dict = {"run": str(run), "others": args.others, "charset": ctx["charset"], "length": ctx["length"],
                    "groups": groups, "units": {}}  # fmt: skip
    for u in units:
        entry = {"examples_per_char": n[u].tolist()}
        for key in folds:
            err, (floor, a, b) = point[(u, key)]
            boot = np.array([bt[(u, key)][1][0] for bt in boots])
            entry[key] = {
                "measured": err.tolist(), "floor": floor, "a": a, "b": b,
                "floor_ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                "floor_leave_one_size_out": [min(f[(u, key)][1][0] for f in loo), max(f[(u, key)][1][0] for f in loo)]
                if loo else None,
                "at": {str(v): floor + a * v**-b for v in at},
            }  # fmt: skip
        result["units"][u] = entry
    for key in folds:
        values = np.array([ceiling(bt, key) for bt in boots])
        result[f"ceiling_{key}"] = ceiling(point, key)
        result[f"ceiling_{key}_ci"] = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
        result[f"ceiling_{key}_leave_one_size_out"] = (
            [min(ceiling(f, key) for f in loo), max(ceiling(f, key) for f in loo)] if loo else None
        )
        result[f"exact_at_{key}"] = {str(v): ceiling(point, key, shift=v) for v in at}
        pooled = np.array([ceiling(bt, key, pooled=True) for bt in boots])
        result[f"ceiling_{key}_pooled"] = ceiling(point, key, pooled=True)
        result[f"ceiling_{key}_pooled_ci"] = [float(np.percentile(pooled, 2.5)), float(np.percentile(pooled, 97.5))]
    out = Path(args.out or run)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "ceiling.json", result)
    atomic_write_text(out / "ceiling.md", report(result, at))
    plot(result, out / "ceiling.png")
    print(report(result, at))


def lower_ids(charset: str) -> np.ndarray:
    """Each class id mapped to its lower-case letter's id (itself when the charset has no lower case of it)."""
    return np.array([charset.index(c.lower()) if c.lower() in charset else k for k, c in enumerate(charset)])


def outside_errors(folder: str, ctx: dict, charset: str, chars: list[str], ap: argparse.ArgumentParser):
    """From a full-charset run: the errors of the characters the focus run did not read, and the focus
    characters' errors into characters outside the focus set (which a focus reader cannot make)."""
    path = Path(folder) / "context.json"
    if not path.is_file():
        ap.error(f"--others {folder}: no context.json (a research/context_ceiling.py run without --focus)")
    full = json.loads(path.read_text())
    if full["charset"] != ctx["charset"] or full["length"] != ctx["length"] or full["size"] != ctx["size"] or full.get("focus"):
        ap.error(f"--others {folder}: not a full-charset run of this task ({full['charset']}, {full['length']}, {full['size']})")
    rest, leak = {}, {}
    for ch in charset:
        wrong = [r for r in full["pairs"] if r["true"] == ch]
        if ch in chars:
            away = [r for r in wrong if r["pred"] not in chars]
            leak[(ch, "exact")] = sum(r["rate"] for r in away)
            leak[(ch, "nocase")] = sum(r["rate"] for r in away if r["pred"].lower() != ch.lower())
        else:
            case = sum(r["rate"] for r in wrong if r["pred"].lower() == ch.lower())
            rest[(ch, "exact")] = full["per_char_error"][ch]
            rest[(ch, "nocase")] = full["per_char_error"][ch] - case
    return rest, leak


def report(result: dict, at: list[int]) -> str:
    lines = [
        "| group | examples per char | error measured (small to large) | fitted floor [95%] | leave one size out | b | "
        + " | ".join(f"at {v:,}" for v in at) + " | ignoring case: measured, floor [95%] |",
        "|---" * (7 + len(at)) + "|",
    ]  # fmt: skip
    for u, entry in result["units"].items():
        e, c = entry["exact"], entry["nocase"]
        loo = e["floor_leave_one_size_out"]
        lines.append(
            f"| `{u}` | {entry['examples_per_char'][0]:,.0f}-{entry['examples_per_char'][-1]:,.0f} | "
            + " / ".join(f"{v:.2%}" for v in e["measured"])
            + f" | {e['floor']:.2%} [{e['floor_ci'][0]:.2%}, {e['floor_ci'][1]:.2%}] | "
            + (f"{loo[0]:.2%}-{loo[1]:.2%}" if loo else "-")
            + f" | {e['b']:.2f} | " + " | ".join(f"{e['at'][str(v)]:.2%}" for v in at)
            + f" | {c['measured'][-1]:.2%}, {c['floor']:.2%} [{c['floor_ci'][0]:.2%}, {c['floor_ci'][1]:.2%}] |"
        )  # fmt: skip
    lines.append("")
    for key, name in (("exact", "exact"), ("nocase", "ignoring case")):
        lo, hi = result[f"ceiling_{key}_ci"]
        loo = result[f"ceiling_{key}_leave_one_size_out"]
        at_text = ", ".join(f"{v:,} per char {result[f'exact_at_{key}'][str(v)]:.2%}" for v in at)
        loo_text = f", leave one size out {loo[0]:.2%}-{loo[1]:.2%}" if loo else ""
        lines.append(
            f"ceiling, {name}: {result[f'ceiling_{key}']:.2%} [{lo:.2%}, {hi:.2%}]{loo_text}; the fitted curves at {at_text}"
        )
        if len(result["units"]) > len(result["groups"]):
            plo, phi = result[f"ceiling_{key}_pooled_ci"]
            lines.append(f"  from one fit over all read characters: {result[f'ceiling_{key}_pooled']:.2%} [{plo:.2%}, {phi:.2%}]")
    if not result["others"]:
        lines.append("(characters outside the focus set count as error-free: pass --others for a full-charset run)")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    for u, entry in result["units"].items():
        e, n = entry["exact"], np.array(entry["examples_per_char"])
        (line,) = ax.loglog(n, np.maximum(e["measured"], 1e-4), "o", label=f"{u}: floor {e['floor']:.2%}")
        grid = np.geomspace(n[0], n[-1] * 50, 100)
        ax.loglog(grid, np.maximum(e["floor"] + e["a"] * grid ** -e["b"], 1e-4), "-", color=line.get_color(), alpha=0.7)
    ax.set_xlabel("training examples per character")
    ax.set_ylabel("fresh-character error")
    ax.set_title("context reader: error vs examples, fitted floor + a n^-b")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
