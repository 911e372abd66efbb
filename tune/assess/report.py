"""The assessment's results, from its files alone: ``assessment.json`` (the contract), ``report.md``,
``curve.png`` and ``coverage.png``; and ``crnn assess --compare`` across several reports."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from crnn.atomic import atomic_write_json, atomic_write_text
from crnn.config import RunConfig
from crnn.data.pixels import to_input
from crnn.data.sheet import preview
from crnn.data.store import load_dataset
from crnn.decode import decode
from crnn.errors import UserError
from crnn.inference.export import export_model
from crnn.model import cropped_size, input_size
from crnn.stats import THRESHOLDS, labels_to_break, precision_coverage, threshold_for_precision, wilson
from crnn.training.checkpoint import load_model
from crnn.training.state import plateau_advice
from tune.assess import offtheshelf
from tune.assess.attackers import describe
from tune.assess.files import ASSESSMENT, SETUP, TEST_FILE
from tune.assess.plots import coverage_plot, curve_plot
from tune.assess.runs import finished_runs, legacy_name
from tune.assess.sizes import bracket_text, brackets, heading


def _latency(model_path: Path, data_dir: str, onnx_out: Path, beam: int) -> dict:
    """Solve time per CAPTCHA from the exported ONNX model under onnxruntime on the CPU: batch 1
    (preprocessing + model + decoding) p50/p95 over 200 test images, and images/s at batch 256."""

    loaded = load_model(model_path)
    export_model(loaded, "onnx", onnx_out)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one core per solver: the figure an attacker multiplies by cores
    session = ort.InferenceSession(str(onnx_out), opts, providers=["CPUExecutionProvider"])
    images = load_dataset(data_dir, splits=("test",)).split("test").images

    def solve(batch: np.ndarray) -> list[list[int]]:
        x = to_input(batch, loaded.channels).numpy()  # (B, C, H, W)
        return decode(torch.from_numpy(session.run(None, {"images": x})[0]), beam)[0]

    for i in range(10):
        solve(images[i % len(images) : i % len(images) + 1])
    times = []
    for i in range(200):
        start = time.perf_counter()
        solve(images[i % len(images) : i % len(images) + 1])
        times.append((time.perf_counter() - start) * 1000)
    big = np.resize(images, (256, *images.shape[1:]))
    start = time.perf_counter()
    for _ in range(3):
        solve(big)
    throughput = 3 * 256 / (time.perf_counter() - start)
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "batch1_device": "cpu",
        "threads": 1,
        "throughput_per_s_batch256": throughput,
        "beam_width": beam,
    }


def strongest(attackers: dict[str, dict]) -> str | None:
    """The attacker that needs the fewest labels to the highest solve rate any reaches (then the next rate
    down, and so on); ties go to the best exact accuracy at its largest size. None without a finished run."""
    done = {n: a for n, a in attackers.items() if a["curve"]}
    if not done:
        return None

    def key(name: str) -> tuple:
        a = done[name]
        ltb = [a["labels_to_break"][t] for t in sorted(a["labels_to_break"], key=float, reverse=True)]
        top = max(r["train_images"] for r in a["curve"])
        best = max(r["exact_acc"] for r in a["curve"] if r["train_images"] == top)
        return (*(math.inf if v is None else v for v in ltb), -best)

    return min(done, key=key)


def _reads(model: dict, height: int, width: int) -> str:
    """What an attacker's model reads of the scheme's images, e.g. "192x48 of the 256x64 left by cutting
    margins 40, 40, 0, 0 (top, bottom, left, right)"."""
    cfg = RunConfig.from_dict({"model": model}).model
    h, w = input_size(cfg, height, width)
    colour = " in colour (RGB)" if cfg.in_channels == 3 else ""
    if not any(cfg.crop):
        return f"{w}x{h}" + ("" if (h, w) == (height, width) else f" (resized from {width}x{height})") + colour
    ch, cw = cropped_size(cfg, height, width)
    band = f"the {cw}x{ch} left by cutting margins {', '.join(map(str, cfg.crop))} (top, bottom, left, right)"
    return (band if (h, w) == (ch, cw) else f"{w}x{h} of {band}") + colour


def sheet_name(attacker: str) -> str:
    """The file of the contact sheet of what ``attacker`` reads: ``reads-base+semi.png``."""
    return "reads-" + re.sub(r"[^A-Za-z0-9+._-]", "_", attacker) + ".png"


def _entries(setup: dict) -> dict[str, dict]:
    """The attackers of an assessment's setup; one (the recipe's) for an assessment written before attackers."""
    legacy = legacy_name(setup["init_from"])
    return setup.get("attackers") or {legacy: {"config": setup["config"], "init_from": setup["init_from"], "unlabeled": 0}}


def _write_sheets(out: Path, setup: dict, attackers: dict[str, dict]) -> None:
    """A contact sheet per attacker: 8 training images and, below each, what its model reads of it."""

    for name, entry in _entries(setup).items():
        if name in offtheshelf.OFF_THE_SHELF:  # its own preprocessing, not a model config's
            continue
        title = f"{name} reads {attackers[name]['reads']}; below each training image: the model's input"
        preview(setup["data"], out / sheet_name(name), count=8, model=entry["config"]["model"], title=title)


def _attacker(name: str, entry: dict, rows: list[dict], charset: str, size: tuple[int, int]) -> dict:
    if offtheshelf.case_rule(charset) != "as is":  # one case: exact ignoring case is exact
        for r in rows:
            r.pop("exact_acc_nocase", None)
    tc = RunConfig.from_dict(entry["config"]).train  # an attacker of any release, flat train keys or sections
    shelf = name in offtheshelf.OFF_THE_SHELF
    return {
        "reads": offtheshelf.reads(charset) if shelf else _reads(entry["config"]["model"], *size),
        "sheet": None if shelf else sheet_name(name),
        "curve": rows,
        "labels_to_break": labels_to_break(rows),
        "brackets": brackets(rows),
        "heading": heading(rows),
        "unlabeled": entry.get("unlabeled", 0),
        "init_from": entry.get("init_from"),
        "describe": describe(name, entry),
        "recipe": dict(
            schedule=tc.schedule.name,
            lr=tc.optim.lr,
            ema_decay=tc.eval.ema_decay,
            augment=tc.augment,
            semi=tc.semi.method,
            semi_threshold=tc.semi.threshold,
        ),
        "minutes": sum(r["train_minutes"] for r in rows),
        "devices": sorted({r["device"] for r in rows}),
    }


def build_assessment(out: Path) -> dict:
    setup_file = json.loads((out / SETUP).read_text())
    setup = setup_file["setup"]
    data = load_dataset(setup["data"], splits=())
    m = data.manifest
    legacy = legacy_name(setup["init_from"])  # an assessment written before attackers: one, the recipe's
    entries = _entries(setup)
    runs = finished_runs(out, legacy)
    size = (int(m["height"]), int(m["width"]))
    attackers = {n: _attacker(n, e, runs.rows.get(n, []), m["charset"], size) for n, e in entries.items()}
    for name, att in attackers.items():
        att["confusions"] = _confusions(name, att["curve"], runs.checkpoints)
    top = strongest(attackers) or next(iter(attackers))
    chosen = attackers[top]
    rows = chosen["curve"]
    assessment: dict = {
        "scheme": {
            "dataset": Path(setup["data"]).name,
            "charset": m["charset"],
            "classes": len(m["charset"]),
            "length": m["length"],
            "width": m["width"],
            "height": m["height"],
            "splits": m["splits"],
            "source": m.get("source", {}),
        },
        "recipe": setup["recipe"],
        "config": entries[top]["config"],
        "init_from": chosen["init_from"],
        "sizes": setup_file["sizes"],
        "repeats": setup_file["repeats"],
        "rounds": len(setup_file.get("rounds", [])) or 1,
        "attackers": attackers,
        "strongest": top,
        "curve": rows,
        "labels_to_break": chosen["labels_to_break"],
        "brackets": chosen["brackets"],
        "unfinished": runs.unfinished,
        "commands": setup["commands"],
        "off_the_shelf": _off_the_shelf(attackers),
    }
    planned = {(r["attacker"], r["size"], r["repeat"]) for plan in setup_file.get("rounds", []) for r in plan}
    assessment["planned"] = len(planned)
    assessment["finished"] = len(planned & set(runs.checkpoints))
    broken = assessment["labels_to_break"]["0.01"] is not None
    if assessment["finished"] < assessment["planned"]:  # no verdict from a curve with runs missing
        assessment["verdict"] = "incomplete"
        assessment["resume"] = setup["commands"][-1] if setup["commands"] else "crnn assess (the same command again)"
    else:
        assessment["verdict"] = "broken" if broken else "resistant at the sizes tried"
    assessment["warnings"] = _warnings(attackers, runs.unfinished, RunConfig.from_dict(entries[top]["config"]), chosen)
    if rows:
        beam = RunConfig.from_dict(entries[top]["config"]).train.eval.beam_width
        assessment.update(_strongest_at_its_largest(rows, runs.checkpoints, top, beam, setup["data"], out))
    else:
        assessment.update(best=None, attempts_per_success=None, coverage=[], precision_thresholds={}, solve_latency_ms=None)
    return assessment


def _off_the_shelf(attackers: dict[str, dict]) -> dict[str, dict]:
    """Each off-the-shelf attacker's one point, and whether a free tool with no labels already breaks the scheme
    (its exact accuracy's lower 95% bound reaches 1%)."""
    out = {}
    for name, att in attackers.items():
        if name in offtheshelf.OFF_THE_SHELF and att["curve"]:
            row = att["curve"][0]
            breaks = row["exact_ci"][0] >= THRESHOLDS[0]
            out[name] = {"exact_acc": row["exact_acc"], "exact_ci": row["exact_ci"], "breaks": breaks}
    return out


def _confusions(name: str, rows: list[dict], checkpoints: dict) -> dict | None:
    """What an attacker still confuses at its largest size (first repeat): the most frequent character pairs
    of its test answers, each with its share of all substitutions and its rate among the true character's
    occurrences. None for runs scored before test.json kept them."""
    if not rows:
        return None
    size = max(r["train_images"] for r in rows)
    repeat = min(r["repeat"] for r in rows if r["train_images"] == size)
    test = json.loads((checkpoints[(name, size, repeat)] / TEST_FILE).read_text())
    if "confusions" not in test:
        return None
    return {"train_images": size, "substitutions": test["substitutions"], "pairs": test["confusions"]}


def _warnings(attackers: dict, unfinished: list[str], config: RunConfig, chosen: dict) -> list[str]:
    """Runs that never left the CTC blank plateau (they measure the recipe, not the scheme), and runs not finished."""
    stuck = [
        f"{n} {r['train_images']}/r{r['repeat']}"
        for n, a in attackers.items()
        for r in a["curve"]
        if not r["left_plateau_at"] and n not in offtheshelf.OFF_THE_SHELF
    ]
    advice = plateau_advice("more minutes or images per run", config.train.augment, bool(chosen["init_from"]))
    warnings = (
        [f"runs {', '.join(stuck)} never left the CTC blank plateau: they measure the recipe, not the scheme (try {advice})"]
        if stuck
        else []
    )
    if unfinished:
        warnings.append(f"unfinished runs: {', '.join(unfinished)}; run the same command to finish them")
    return warnings


def _strongest_at_its_largest(rows: list[dict], checkpoints: dict, top: str, beam: int, data: str, out: Path) -> dict:
    """The strongest attacker's largest size: its exact accuracy over the repeats, attempts per success,
    precision at coverage and solve latency, from its first repeat's test answers and model."""
    size = max(r["train_images"] for r in rows)
    best = [r for r in rows if r["train_images"] == size]
    right, count = sum(r["test_correct"] for r in best), sum(r["test_count"] for r in best)
    p = right / count
    ckpt = checkpoints[(top, size, best[0]["repeat"])]
    test = json.loads((ckpt / TEST_FILE).read_text())
    # an off-the-shelf attacker timed itself when it was scored; a trained one's model is exported and timed here
    latency = test.get("solve_latency_ms") or _latency(ckpt / "best.pt", data, out / "model.onnx", beam)
    return {
        "best": {"attacker": top, "train_images": size, "exact_acc": p, "exact_ci": list(wilson(right, count))},
        "attempts_per_success": 1 / p if p > 0 else None,
        # an attacker that gives no confidence (ddddocr) cannot abstain: no precision at coverage
        "coverage": precision_coverage(test["confidence"], test["correct"]) if test["confidence"] else [],
        "precision_thresholds": {
            f"{t:.2f}": threshold_for_precision(test["confidence"], test["correct"], t) for t in (0.95, 0.99)
        }
        if test["confidence"]
        else {},
        "solve_latency_ms": latency,
    }


def write_report(out: Path) -> dict:
    out = Path(out)
    if not (out / SETUP).is_file():
        raise UserError(f"{out}: not an assessment (no assess.json); run `crnn assess --data DIR --out {out}` first")
    a = build_assessment(out)
    atomic_write_json(out / ASSESSMENT, a)
    _write_sheets(out, json.loads((out / SETUP).read_text())["setup"], a["attackers"])
    if a["curve"]:
        curves = {f"{n} ({t['unlabeled']} unlabelled)" if t["unlabeled"] else n: t for n, t in a["attackers"].items()}
        curve_plot(curves, out / "curve.png", title=f"{a['scheme']['dataset']}: exact accuracy of each attacker")
        if a["coverage"]:
            coverage_plot(a, out / "coverage.png")
    atomic_write_text(out / "report.md", _markdown(a, out))
    return a


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _lengths(length: list[int]) -> str:
    return str(length[0]) if length[0] == length[1] else f"{length[0]}-{length[1]}"


def _sizes(a: dict) -> str:
    if a["sizes"] == "auto":
        return f"chosen in {a['rounds']} round(s) (`--sizes auto`: a grid from 25 by 4x, then halving every bracket over 2x)"
    return ", ".join(map(str, a["sizes"]))


def _heading_text(name: str, att: dict) -> str | None:
    """One sentence on where an attacker's curve is heading for the rates it has not reached."""
    h = att.get("heading")
    if not h or not h["labels"]:
        return None
    (e1, e2), s2 = h["exact"], h["to"]
    rise = f"`{name}` went from {_pct(e1)} at {h['from']} labels to {_pct(e2)} at {s2}"
    if h["gain_per_doubling"] <= 0:
        return f"Heading: {rise}, no rise: more labels alone are unlikely to reach {_rates(h['labels'])}; the model is the limit."
    parts = [
        f"{float(t):.0%} at about {v:,} labels" if v <= 100 * s2 else f"{float(t):.0%} past 100x that ({v:.1e})"
        for t, v in h["labels"].items()
    ]
    far = any(v > 100 * s2 for v in h["labels"].values())
    return (
        f"Heading: {rise} ({100 * h['gain_per_doubling']:.1f} points a doubling); a straight line on the log axis "
        f"would reach {', '.join(parts)} (a guide, not a measurement)"
        + ("; where it is that far, the model rather than the labels is the limit." if far else ".")
    )


def _rates(labels: dict) -> str:
    return " or ".join(f"{float(t):.0%}" for t in labels)


def _md_scheme(a: dict) -> list[str]:
    """The scheme, the recipe, what each attacker reads, and a note while runs are missing."""
    s = a["scheme"]
    return [
        f"# How strong is `{s['dataset']}`?",
        "",
        f"Scheme: {s['width']}x{s['height']} images, {_lengths(s['length'])} characters of {s['classes']} "
        f"classes; splits {s['splits']}; source {s['source'].get('generator', s['source'].get('kind', 'imported'))}.",
        f"Recipe: {a['recipe']}; each attacker changes it as `tune/assess/attackers.py` says (its config is in assess.json).",
        *(
            f"`{n}` reads {att['reads']}" + (f" ([what it reads]({att['sheet']}))." if att.get("sheet") else ".")
            for n, att in a.get("attackers", {}).items()
            if att.get("reads")
        ),
        f"Each run trains on a nested subset of the training split (each size holds the smaller ones) and is scored "
        f"on the whole test split ({s['splits']['test']} images); sizes {_sizes(a)}.",
        "",
        *(
            [
                f"**Incomplete: {a['finished']} of {a['planned']} planned runs finished.** No verdict until they are; "
                f"resume with `{a['resume']}`.",
                "",
            ]
            if a["verdict"] == "incomplete"
            else []
        ),
    ]


def _md_verdict(a: dict) -> list[str]:
    """The verdict and the labels-to-break table, one row per attacker, and each attacker's heading."""
    lines = [
        f"**Verdict: {a['verdict']}** (the strongest attacker: `{a['strongest']}`). Labels to break: the smallest "
        "training set whose exact accuracy's lower 95% bound reaches the solve rate (Bursztein et al. call 1% broken); "
        'a range is where it lies between the sizes tried, "<= N" that the smallest size tried already reaches it:',
        "",
        "| attacker | starts | "
        + " | ".join(f"labels to {float(t):.0%}" for t in a["labels_to_break"])
        + " | best exact (labels) | minutes of training | device |",
        "|---|---|" + "---|" * len(a["labels_to_break"]) + "---|---|---|",
    ]
    for name, att in a.get("attackers", {}).items():
        best = max(att["curve"], key=lambda r: (r["train_images"], r["exact_acc"]), default=None)
        cells = [
            f"`{name}`" + (" (strongest)" if name == a["strongest"] else ""),
            att["describe"],
            *(bracket_text(*b) for b in att["brackets"].values()),
            f"{_pct(best['exact_acc'])} ({best['train_images']})" if best else "-",
            f"{att['minutes']:.1f}",
            ", ".join(att["devices"]) or "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"\n{h}" for h in (_heading_text(n, att) for n, att in a.get("attackers", {}).items()) if h]
    for name, free in a.get("off_the_shelf", {}).items():
        lo, hi = free["exact_ci"]
        lines.append(
            f"\nA free tool with no labels, `{name}`, reads {_pct(free['exact_acc'])} exact [{_pct(lo)}, {_pct(hi)}]: "
            + ("it **already breaks** this scheme." if free["breaks"] else "it does not break it (lower bound under 1%).")
        )
    return lines


def _md_curves(a: dict) -> list[str]:
    """Every run's row, and the warnings."""
    lines: list[str] = []
    lines += [
        "",
        "## The curves",
        "",
        "![labels-to-break curve](curve.png)",
        "",
        "| attacker | train images | repeat | exact (95% CI) | char | CER | batch | epochs | minutes | device |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, att in a.get("attackers", {}).items():
        for r in att["curve"]:
            lo, hi = r["exact_ci"]
            lines.append(
                f"| `{name}` | {r['train_images']} | {r['repeat']} | {_pct(r['exact_acc'])} ({_pct(lo)}-{_pct(hi)}) "
                f"| {_pct(r['char_acc'])} | {r['cer']:.3f} | {r['batch_size'] or '-'} | {r['epochs']} | {r['train_minutes']:.1f} "
                f"| {r['device']} |"
            )
    lines += [f"\n**Warning:** {w}." for w in a["warnings"]]
    return lines


def _md_confusions(a: dict) -> list[str]:
    """Per attacker, the look-alikes left at its largest size: where more labels or a better model must go."""
    found = {n: att["confusions"] for n, att in a.get("attackers", {}).items() if att.get("confusions")}
    if not found:
        return []
    lines = [
        "",
        "## What each attacker still confuses",
        "",
        "At each attacker's largest size (its first repeat), the most frequent character substitutions on the test "
        "split: true -> read, the count, its share of all substitutions, and how often that character is misread so.",
        "",
        "| attacker | labels | substitutions | top confusions |",
        "|---|---|---|---|",
    ]
    for name, c in found.items():
        total = max(1, c["substitutions"])
        pairs = ", ".join(
            f"`{p['true']}`->`{p['pred']}` {p['count']} ({p['count'] / total:.0%}; {p['rate']:.1%} of `{p['true']}`)"
            for p in c["pairs"][:5]
        )
        lines.append(f"| `{name}` | {c['train_images']} | {c['substitutions']} | {pairs or '-'} |")
    return lines


def _solve_time(name: str, lat: dict) -> str:
    if lat.get("threads") == 1:  # a trained attacker's model, exported
        how, rate = "ONNX, onnxruntime, 1 CPU thread", f"{lat['throughput_per_s_batch256']:.0f} CAPTCHAs/s at batch 256"
    else:  # an off-the-shelf tool, timed as it runs
        how, rate = f"`{name}` as it runs, on its own threads", f"{lat['throughput_per_s_batch256']:.0f} CAPTCHAs/s"
    return (
        f"Solve time ({how}, batch 1, preprocessing + model + decoding): p50 {lat['p50']:.2f} ms, "
        f"p95 {lat['p95']:.2f} ms; {rate}."
    )


def _md_coverage(a: dict) -> list[str]:
    """Precision at coverage, for an attacker that gives a confidence."""
    if not a["coverage"]:
        return ["", f"`{a['strongest']}` gives no confidence, so it cannot abstain: no precision at coverage."]
    lines = [
        "",
        "Answering only when confident (and refreshing the CAPTCHA otherwise):",
        "",
        "![precision-coverage](coverage.png)",
        "",
        "| coverage | confidence threshold | precision |",
        "|---|---|---|",
        *(f"| {c['coverage']:.0%} | {c['threshold']:.4f} | {_pct(c['precision'])} |" for c in a["coverage"]),
    ]
    for t, v in a["precision_thresholds"].items():
        lines.append(
            f"\nFor {float(t):.0%} precision: "
            + (f"confidence >= {v['threshold']:.4f}, answering {v['coverage']:.1%}." if v else "no threshold reaches it.")
        )
    return lines


def _md_best(a: dict) -> list[str]:
    """The strongest attacker at its largest size: attempts, solve time, precision at coverage."""
    if not a["best"]:
        return []
    return [
        "",
        f"## The strongest attacker at its largest size (`{a['strongest']}`)",
        "",
        f"Exact accuracy {_pct(a['best']['exact_acc'])} on {a['best']['train_images']} labels: "
        + (f"{a['attempts_per_success']:.2f} attempts per success." if a["attempts_per_success"] else "no success."),
        _solve_time(a["strongest"], a["solve_latency_ms"]),
        *_md_coverage(a),
    ]


def _markdown(a: dict, out: Path) -> str:
    lines = [*_md_scheme(a), *_md_verdict(a), *_md_curves(a), *_md_confusions(a), *_md_best(a)]
    lines += ["", "## Reproduce", "", "```bash", *a["commands"], "```", ""]
    return "\n".join(lines)


def _start(a: dict) -> str:
    """Where a report's strongest attacker started, for --compare."""
    if a.get("strongest") in offtheshelf.OFF_THE_SHELF:
        return "off the shelf"
    return "from `" + "/".join(Path(a["init_from"]).parts[-2:]) + "`" if a.get("init_from") else "scratch"


def _labels_to_break_cells(a: dict) -> list[str]:
    """Each rate's labels-to-break as the report writes it ("<= 25", "101-200", "not reached"); an
    assessment written before brackets were stored gives the bare size."""
    if "brackets" in a:
        return [bracket_text(*a["brackets"][t]) for t in a["labels_to_break"]]
    return [str(v) if v else "-" for v in a["labels_to_break"].values()]


def compare(reports: list[str], out: Path | None) -> str:
    """One table across schemes (and one PNG of their curves); returns the table as markdown."""
    loaded = {}
    for r in reports:
        path = Path(r) / ASSESSMENT
        if not path.is_file():
            raise UserError(f"--compare {r}: no assessment.json there (run `crnn assess` into it first)")
        loaded[Path(r).name] = json.loads(path.read_text())
    head = [
        "scheme",
        "classes",
        "size",
        *(f"labels to {float(t):.0%}" for t in (f"{t:.2f}" for t in THRESHOLDS)),
        "best exact",
        "at labels",
        "p50 solve ms",
        "verdict",
        "strongest attacker",
        "recipe",
        "start",
        "longest run, min",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, a in loaded.items():
        s, best, lat = a["scheme"], a.get("best") or {}, a.get("solve_latency_ms") or {}
        cells = [
            name,
            s["classes"],
            f"{s['width']}x{s['height']}, {s['length'][0]}-{s['length'][1]} chars",
            *_labels_to_break_cells(a),
            _pct(best.get("exact_acc")),
            best.get("train_images", "-"),
            f"{lat['p50']:.2f}" if lat else "-",
            a["verdict"],
            a.get("strongest", legacy_name(a.get("init_from"))),
            a.get("recipe", "-"),
            _start(a),
            f"{max((r['train_minutes'] for r in a['curve']), default=0):.1f}",
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    table = "\n".join(lines) + "\n"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "compare.md", table)

        curve_plot(loaded, out / "compare.png", title="each report's strongest attacker")
    return table
