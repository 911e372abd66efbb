"""crnn assess: a real (tiny) labels-to-break assessment on a local Ray, resumed after a kill,
compared, refused on bad flags; and the whole flow on a scheme that is not the `captcha` package's."""

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from crnn.config import resolve_config
from crnn.data.store import load_dataset
from crnn.model import build_model
from crnn.training.amp import choose_precision
from crnn.training.transfer import transfer_weights
from tests.conftest import kill_session, make_dataset, wait_for
from tests.other_scheme import write_scheme
from tune.assess.report import _md_confusions, _start
from tune.assess.run import device_label

pytestmark = pytest.mark.ray
KEYS = {
    "scheme",
    "curve",
    "labels_to_break",
    "verdict",
    "attempts_per_success",
    "solve_latency_ms",
    "coverage",
    "attackers",
    "strongest",
    "brackets",
}


@pytest.fixture(scope="module")
def scheme(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "d400", count=400)  # 360 train, 20 val, 20 test


@pytest.fixture(scope="module")
def report(scheme, tmp_path_factory):
    out = tmp_path_factory.mktemp("assess") / "r"
    proc = subprocess.run([sys.executable, "-m", "crnn", "assess", "--data", str(scheme), "--out", str(out), "--sizes", "64,256",
                           "--preset", "tiny", "--max-epochs", "2", "--attackers", "scratch"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "verdict: " in proc.stdout
    assert re.search(r"\[scratch n=64 r=0\] epoch 1/2 val exact [\d.]+%, \d+ img/s, run eta \d+ s", proc.stdout), proc.stdout
    assert "TensorBoard" not in proc.stdout + proc.stderr  # no banner pointing into Ray's temp folder
    return out


def test_a_tiny_assessment_writes_the_contract(report):
    a = json.loads((report / "assessment.json").read_text())
    assert set(a) >= KEYS
    assert a["scheme"]["classes"] == 10 and a["scheme"]["length"] == [5, 5] and a["scheme"]["splits"]["test"] == 20
    assert [(r["train_images"], r["repeat"]) for r in a["curve"]] == [(64, 0), (256, 0)]  # sorted
    here = device_label(0, choose_precision("auto", torch.device("cpu")).mode)  # "cpu", or "cpu bf16" on an AMX CPU
    for r in a["curve"]:
        lo, hi = r["exact_ci"]
        assert lo <= r["exact_acc"] <= hi and lo >= 0 and hi <= 1
        assert r["test_count"] == 20 and r["epochs"] <= 2 and r["device"] == here
        assert {"char_acc", "cer", "train_minutes"} <= set(r) and "exact_acc_nocase" not in r  # digits: no case
    values = [v for v in a["labels_to_break"].values() if v is not None]
    assert list(a["labels_to_break"]) == ["0.01", "0.10", "0.50", "0.90"] and values == sorted(values)
    assert a["verdict"] in ("broken", "resistant at the sizes tried")
    assert (
        a["strongest"] == "scratch" and list(a["attackers"]) == ["scratch"] and a["attackers"]["scratch"]["curve"] == a["curve"]
    )
    assert a["attackers"]["scratch"]["unlabeled"] == 0 and a["sizes"] == [64, 256] and a["rounds"] == 1
    lat = a["solve_latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] and lat["batch1_device"] == "cpu" and lat["throughput_per_s_batch256"] > 0
    assert [c["coverage"] for c in a["coverage"]] == [1.0, 0.9, 0.75, 0.5, 0.25]
    for name in ("report.md", "curve.png", "coverage.png", "model.onnx", "reads-scratch.png"):
        assert (report / name).is_file(), name
    assert a["attackers"]["scratch"]["sheet"] == "reads-scratch.png"
    assert Image.open(report / "reads-scratch.png").format == "PNG"
    assert len(list(report.glob("runs/round-0/*/events.out.tfevents*"))) == 2  # --logger tensorboard, the default
    text = (report / "report.md").read_text()
    assert "crnn assess --data" in text and "95%" in text and "curve.png" in text
    assert "`scratch` reads 150x40 ([what it reads](reads-scratch.png))." in text
    conf = a["attackers"]["scratch"]["confusions"]  # from the largest size's test answers
    assert conf["train_images"] == 256 and len(conf["pairs"]) <= 10
    assert sum(p["count"] for p in conf["pairs"]) <= conf["substitutions"]
    assert all(p["rate"] == p["count"] / p["of"] and p["true"] != p["pred"] for p in conf["pairs"])
    assert "## What each attacker still confuses" in text and f"| `scratch` | 256 | {conf['substitutions']} |" in text
    left = a["curve"][-1]["left_plateau_at"]  # the largest size: a heading only where it read something
    assert (a["attackers"]["scratch"]["heading"] is not None) == bool(left) and ("Heading: `scratch`" in text) == bool(left)


def test_report_only_rewrites_a_report_from_its_folder_alone(report, tmp_path, cli):
    copy = tmp_path / "r"
    shutil.copytree(report, copy)
    (copy / "report.md").unlink()
    code, out, err = cli("assess", "--out", copy, "--report-only")  # no --data: the folder knows its dataset
    assert code == 0, err
    assert "verdict: " in out and (copy / "report.md").is_file()
    code, _, err = cli("assess", "--out", tmp_path / "empty", "--report-only")
    assert code == 2 and "not an assessment (no assess.json)" in err


def test_compare_two_reports(report, tmp_path, cli):
    other = tmp_path / "other"
    shutil.copytree(report, other, ignore=shutil.ignore_patterns("runs"))
    code, out, err = cli("assess", "--compare", report, other, "--out", tmp_path / "cmp")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| ") and "scheme" not in line]
    assert [r.split("|")[1].strip() for r in rows] == [report.name, "other"]
    assert all(r.split("|")[-3].strip() == "scratch" and "preset tiny" in r for r in rows)  # recipe and start shown
    assert (tmp_path / "cmp/compare.md").is_file() and (tmp_path / "cmp/compare.png").is_file()
    # labels to break as the report writes them: "<= N" where the smallest size already reached the rate
    a = json.loads((other / "assessment.json").read_text())
    a["labels_to_break"] = {"0.01": 64, "0.10": 256, "0.50": None, "0.90": None}
    a["brackets"] = {"0.01": [None, 64], "0.10": [64, 256], "0.50": [256, None], "0.90": [256, None]}
    (other / "assessment.json").write_text(json.dumps(a))
    legacy = tmp_path / "legacy"
    shutil.copytree(other, legacy)
    del a["brackets"]
    (legacy / "assessment.json").write_text(json.dumps(a))
    code, out, err = cli("assess", "--compare", other, legacy)
    assert code == 0, err
    cells = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[4:8]] for r in out.splitlines()[2:] if r.startswith("| ")}
    assert cells == {"other": ["<= 64", "65-256", "not reached", "not reached"], "legacy": ["64", "256", "-", "-"]}
    code, _, err = cli("assess", "--compare", tmp_path / "nothing")
    assert code == 2 and "no assessment.json" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sizes", "0,64"], "--sizes '0,64': expected positive numbers"),
        (["--sizes", "a,b"], "--sizes 'a,b': expected auto or comma-separated numbers"),
        (["--sizes", "64,100000"], "the training split holds 360 images"),
        (["--repeats", "0"], "--repeats 0: must be at least 1"),
        (["--init-from", "/nonexistent/run"], "--init-from /nonexistent/run: no such run folder"),
        (["--set", "train.optim.lr=fast"], "train.optim.lr: expected a number"),
        (
            ["--set", "train.data.synth_per_epoch=1000"],
            "train.data.synth_per_epoch and train.data.epoch_images must be 0 for crnn assess",
        ),
    ],
)
def test_bad_flags_are_refused_before_ray_starts(scheme, tmp_path, cli, flags, message):
    code, _, err = cli("assess", "--data", scheme, "--out", tmp_path / "r", *flags)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    code, _, err = cli("assess", "--out", tmp_path / "r")
    assert code == 2 and "--data and --out are required" in err


@pytest.mark.slow  # ~45 s: two assessments
def test_an_interrupted_assessment_gives_no_verdict_exits_130_and_resumes(scheme, tmp_path):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "crnn", "assess", "--data", str(scheme), "--out", str(out), "--sizes", "32,64,128",
           "--preset", "tiny", "--max-epochs", "2", "--max-concurrent", "1", "--attackers", "scratch"]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def finished() -> list[Path]:
        return [p for p in out.glob("runs/round-0/*/result.json") if '"final": true' in p.read_text()]

    wait_for(lambda: len(finished()) >= 1, 300, "the first run's final report")
    done = finished()[0]
    before = done.read_text()
    first.send_signal(signal.SIGINT)  # Ctrl-C: Tune saves its state and returns; the tool must not give a verdict
    try:
        code = first.wait(timeout=120)
    finally:
        kill_session(first.pid)
    assert code == 130
    partial = json.loads((out / "assessment.json").read_text())
    assert partial["verdict"] == "incomplete" and partial["planned"] == 3 and 1 <= partial["finished"] < 3
    assert "resistant" not in (out / "report.md").read_text() and "**Incomplete:" in (out / "report.md").read_text()
    assert partial["resume"].startswith("crnn assess --data")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming round 0" in again.stdout
    after = done.read_text()
    extra = [json.loads(line) for line in after[len(before) :].splitlines()]
    assert after.startswith(before) and all(r.get("final") for r in extra)  # kept: no epoch trained again
    a = json.loads((out / "assessment.json").read_text())
    assert [r["train_images"] for r in a["curve"]] == [32, 64, 128] and a["unfinished"] == []
    assert a["verdict"] != "incomplete" and a["finished"] == a["planned"] == 3


@pytest.mark.slow  # ~36 s; two-worker training is in tests/test_ray_train.py's default tests
def test_runs_train_on_several_ray_train_workers(scheme, tmp_path):
    out = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "crnn", "assess", "--data", str(scheme), "--out", str(out), "--sizes", "64",
                           "--preset", "tiny", "--max-epochs", "2", "--workers", "2", "--attackers", "scratch"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Reporting training result" not in proc.stdout + proc.stderr  # Ray's INFO line per worker per epoch
    a = json.loads((out / "assessment.json").read_text())
    assert [(r["train_images"], r["workers"], r["test_count"]) for r in a["curve"]] == [(64, 2, 20)]
    epochs = [json.loads(line) for line in (out / "runs/round-0/scratch-n64-r0/result.json").read_text().splitlines()]
    assert [r["train_images"] for r in epochs if not r.get("final")] == [64, 64]  # the workers trained on the subset
    assert [p.name for p in (out / "train_runs").iterdir()]  # the Train run, kept for a resume


def test_more_workers_per_run_than_the_cluster_has_cpus_is_refused(scheme, tmp_path, cli):
    code, _, err = cli("assess", "--data", scheme, "--out", tmp_path / "r", "--sizes", "64", "--preset", "tiny",
                       "--workers", "64", "--attackers", "scratch")  # fmt: skip
    assert code == 2 and "--workers 64: the cluster has" in err and "CPUs, one per worker needed" in err


def test_resuming_with_other_workers_per_run_is_refused(report, scheme, tmp_path, cli):
    other = tmp_path / "r"
    shutil.copytree(report, other)
    code, _, err = cli("assess", "--data", scheme, "--out", other, "--sizes", "64,256", "--preset", "tiny", "--max-epochs", "2",
                       "--workers", "2", "--attackers", "scratch")  # fmt: skip
    assert code == 2 and "--workers 2: the assessment in" in err and "runs with 1" in err


def test_transfer_keeps_what_fits_and_reinitialises_the_rest():
    cfg = resolve_config("tiny").model
    source = build_model(cfg, 11, 40, 150, 5).state_dict()  # 10 digits + blank, 40 px high
    target = build_model(cfg, 37, 64, 192, 4)  # 36 classes, 64 px high
    kept, fresh = transfer_weights(target, source)
    assert all(k.startswith(("cnn.", "in_")) for k in kept if not k.startswith("rnn.")) and "cnn.0.weight" in kept
    assert {"in_mean", "in_std"} <= set(kept)  # the input statistics travel with the weights they fit
    assert {"head.weight", "head.bias", "rnn.weight_ih_l0", "rnn.weight_ih_l0_reverse"} <= set(fresh)
    assert "rnn.weight_hh_l0" in kept  # the recurrence does not depend on the image height
    assert torch.equal(target.state_dict()["cnn.0.weight"], source["cnn.0.weight"])


def test_another_generators_scheme_imports_and_assesses_with_init_from_and_the_base_model(report, tmp_path, cli):
    """Colour 200x75 images of 4-6 characters from a PIL renderer (not `captcha`), imported from files, assessed
    by two attackers: the recipe from --init-from, and the published base model adapted to its size and charset."""
    for path in write_scheme(tmp_path / "pngs", 160).iterdir():  # framed by 20 black rows, margins the runs cut off
        framed = Image.new("RGB", (200, 115))
        framed.paste(Image.open(path), (0, 20))
        framed.save(path)
    code, out, err = cli("data", "import", tmp_path / "pngs", "--out", tmp_path / "data", "--split-sizes", "70/15/15", "--color")
    assert code == 0, err
    assert "200x115" in out
    model = report / "runs"
    best = next(model.glob("round-0/scratch-n256-r0/checkpoint_*")) / "best.pt"
    code, out, err = cli("assess", "--data", tmp_path / "data", "--out", tmp_path / "r", "--sizes", "40", "--preset", "tiny",
                         "--max-epochs", "2", "--init-from", best, "--attackers", "scratch,base")  # fmt: skip
    assert code == 0, err
    a = json.loads((tmp_path / "r/assessment.json").read_text())
    assert a["scheme"]["width"] == 200 and a["scheme"]["length"] == [4, 6]
    assert list(a["attackers"]) == ["scratch", "base"] and a["strongest"] in a["attackers"]
    assert a["attackers"]["scratch"]["init_from"] == str(best) and a["attackers"]["base"]["init_from"].endswith("best.pt")
    for attacker in a["attackers"].values():  # one size each: the tiny assessment above checks a curve's order
        assert [r["train_images"] for r in attacker["curve"]] == [40]
    assert a["curve"] == a["attackers"][a["strongest"]]["curve"]
    setup = json.loads((tmp_path / "r/assess.json").read_text())["setup"]["attackers"]
    base = setup["base"]["config"]
    assert base["model"]["input_height"] == 48 and base["train"]["schedule"]["name"] == "onecycle"
    assert base["model"]["in_channels"] == setup["scratch"]["config"]["model"]["in_channels"] == 3  # a colour scheme
    assert setup["base"]["config"]["model"]["crop"] == setup["scratch"]["config"]["model"]["crop"] == [18, 18, 0, 0]
    text = (tmp_path / "r/report.md").read_text()
    assert "`base` reads 122x48 of the 200x79 left by cutting margins 18, 18, 0, 0 (top, bottom, left, right) in colour" in text
    assert "`scratch` reads the 200x79 left by cutting margins 18, 18, 0, 0 (top, bottom, left, right) in colour (RGB)" in text


def test_small_subsets_train_in_smaller_batches_and_a_budget_of_images():
    from tune.assess.run import AssessSetup

    setup = AssessSetup(data="d", config={"train": {"batch_size": 128}}, recipe="r", min_images=100_000, max_epochs=200)
    assert [setup.batch_for(n) for n in (64, 300, 2000, 90_000)] == [8, 18, 125, 128]  # >= 16 steps an epoch
    # val images scored per epoch: max(256, 4 per label), under the recipe's own cap (0: the whole split)
    assert [setup.eval_for(n, 0) for n in (25, 100, 400, 4000)] == [256, 400, 1600, 16000]
    assert [setup.eval_for(n, 2000) for n in (25, 400, 4000)] == [256, 1600, 2000]

    assert [setup.epochs_for(n) for n in (300, 2000, 90_000)] == [200, 50, 2]
    two = AssessSetup(data="d", config={"train": {"batch_size": 128}}, recipe="r", workers_per_run=2)
    assert [two.batch_for(n) for n in (64, 300, 2000, 90_000)] == [8, 18, 124, 128]  # splits evenly over 2 workers


def test_a_small_subsets_run_scores_a_part_of_the_val_split_each_epoch(report):
    from crnn.training.checkpoint import load_checkpoint

    best = next(report.glob("runs/round-0/scratch-n64-r0/checkpoint_*/best.pt"))
    assert load_checkpoint(best)["config"]["train"]["eval"]["samples"] == 256  # max(256, 4 x 64)


def test_a_semi_attacker_learns_from_the_unlabeled_split(tmp_path, cli):
    from crnn.data.synth import SynthSpec, synthesize

    data = tmp_path / "d"
    synthesize(data, SynthSpec(charset="0123456789", seed=5), 200, workers=1, progress=False, unlabeled=120)
    code, _, err = cli("assess", "--data", data, "--out", tmp_path / "r", "--sizes", "40", "--preset", "tiny", "--max-epochs",
                       "2", "--attackers", "semi,ddddocr", "--unlabeled-count", "100")  # fmt: skip
    assert code == 0, err
    a = json.loads((tmp_path / "r/assessment.json").read_text())
    semi = a["attackers"]["semi"]
    assert semi["unlabeled"] == 100 and semi["curve"][0]["unlabeled"] == 100
    # the free OCR: one point at 0 labels, scored on the whole test split, timed, and named in the verdict
    (free,) = a["attackers"]["ddddocr"]["curve"]
    assert (
        free["train_images"] == 0
        and free["test_count"] == a["scheme"]["splits"]["test"]
        and free["epochs"] == 0
        and free["unlabeled"] == 0
    )
    lo, hi = free["exact_ci"]
    assert a["off_the_shelf"]["ddddocr"] == {"exact_acc": free["exact_acc"], "exact_ci": [lo, hi], "breaks": lo >= 0.01}
    assert a["attackers"]["ddddocr"]["sheet"] is None and "`ddddocr` 1.6" in a["attackers"]["ddddocr"]["describe"]
    assert not (tmp_path / "r/reads-ddddocr.png").exists() and (tmp_path / "r/reads-semi.png").is_file()
    text = (tmp_path / "r/report.md").read_text()
    assert f"A free tool with no labels, `ddddocr`, reads {100 * free['exact_acc']:.2f}% exact" in text
    if a["attackers"]["ddddocr"]["labels_to_break"]["0.01"] == 0:  # it broke the tiny scheme
        assert "| 0 (no labels) |" in text
    assert a["strongest"] in ("semi", "ddddocr") and a["solve_latency_ms"]["p50"] > 0
    test = json.loads(next((tmp_path / "r/runs/round-0").glob("ddddocr-n0-r0/checkpoint_*/test.json")).read_text())
    assert len(test["correct"]) == free["test_count"] and test["confidence"] == [] and test["solve_latency_ms"]["p50"] > 0
    epochs = [json.loads(line) for line in (tmp_path / "r/runs/round-0/semi-n40-r0/result.json").read_text().splitlines()]
    assert all("pseudo_kept" in r for r in epochs if "exact_acc" in r and not r.get("final"))  # FixMatch ran
    code, _, err = cli("assess", "--data", tmp_path / "d", "--out", tmp_path / "r2", "--attackers", "semi,best")
    assert code == 2 and "unknown attacker 'best'" in err and "scratch, base, semi, base+semi" in err


def test_semi_attackers_need_an_unlabeled_split(scheme, tmp_path, cli):
    code, _, err = cli("assess", "--data", scheme, "--out", tmp_path / "r", "--attackers", "base+semi")
    assert code == 2 and "need unlabelled images" in err and "--unlabeled" in err and not (tmp_path / "r").exists()


def test_an_assessment_written_before_attackers_still_reports(report, tmp_path, cli):
    """The layout of earlier versions (runs/nSIZE-rREPEAT, no attackers in assess.json), rebuilt from a new one."""
    old = tmp_path / "old"
    shutil.copytree(report, old)
    for trial in (old / "runs/round-0").glob("scratch-n*"):
        lines = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
        (trial / "result.json").write_text(
            "".join(json.dumps({k: v for k, v in r.items() if k != "attacker"}) + "\n" for r in lines)
        )
        trial.rename(old / "runs" / trial.name.removeprefix("scratch-"))
    stored = json.loads((old / "assess.json").read_text())
    stored.pop("rounds")
    stored["setup"].pop("attackers")
    (old / "assess.json").write_text(json.dumps(stored))
    code, out, err = cli("assess", "--out", old, "--report-only")
    assert code == 0, err
    a = json.loads((old / "assessment.json").read_text())
    assert a["strongest"] == "scratch" and [r["train_images"] for r in a["curve"]] == [64, 256]
    code, _, err = cli("assess", "--data", stored["setup"]["data"], "--out", old, "--sizes", "64,256", "--attackers", "scratch")
    assert code == 2 and "made before attackers existed" in err and "--report-only" in err


def test_a_runs_minutes_name_the_precision_they_were_measured_at():
    # the precision comes from the run's checkpoint: what its workers trained at, wherever they ran
    assert device_label(0, "bf16") == "cpu bf16" and device_label(0, "off") == "cpu" and device_label(1, "bf16") == "cuda"
    assert device_label(0, None) == "cpu"  # a checkpoint from before precision was recorded


def test_a_report_with_a_planned_run_unfinished_gives_no_verdict(report, tmp_path, cli):
    from tune.assess.files import TEST_FILE

    partial = tmp_path / "r"
    shutil.copytree(report, partial)
    for test_file in (partial / "runs" / "round-0" / "scratch-n256-r0").glob(f"checkpoint_*/{TEST_FILE}"):
        test_file.unlink()  # the larger run never reached its test
    code, out, err = cli("assess", "--out", partial, "--report-only")
    assert code == 0, err
    a = json.loads((partial / "assessment.json").read_text())
    assert a["verdict"] == "incomplete" and (a["finished"], a["planned"]) == (1, 2)
    assert "verdict: incomplete (1 of 2 runs finished; resume with: crnn assess" in out
    assert "resistant" not in (partial / "report.md").read_text()
    code, out, _ = cli("assess", "--compare", partial)
    assert code == 0 and "incomplete" in out


def test_the_report_names_each_attackers_top_confusions():
    pairs = [
        {"true": "0", "pred": "O", "count": 44, "of": 500, "rate": 0.088},
        {"true": "J", "pred": "I", "count": 6, "of": 60, "rate": 0.1},
    ]
    a = {
        "attackers": {
            "base+semi": {"confusions": {"train_images": 500, "substitutions": 100, "pairs": pairs}},
            "base": {"confusions": None},
        }
    }
    text = "\n".join(_md_confusions(a))
    assert "| `base+semi` | 500 | 100 | `0`->`O` 44 (44%; 8.8% of `0`), `J`->`I` 6 (6%; 10.0% of `J`) |" in text
    assert "`base` |" not in text  # runs scored before test.json kept their pairs: no row
    assert _md_confusions({"attackers": {"base": {"confusions": None}}}) == []


def test_the_free_ocr_answers_in_the_schemes_case(tmp_path):
    from crnn.data.synth import SynthSpec, synthesize
    from tune.assess.offtheshelf import Reader, case_rule

    assert (case_rule("ABC123"), case_rule("abc123"), case_rule("aB1"), case_rule("0123")) == ("upper", "lower", "as is", "lower")
    synthesize(tmp_path / "d", SynthSpec(charset="ABCDEFGHJKLMNPQRSTUVWXYZ", seed=3), 200, workers=1, progress=False)
    test = load_dataset(tmp_path / "d", splits=("test",)).split("test")
    reader = Reader("ABCDEFGHJKLMNPQRSTUVWXYZ")
    answers = [reader.read(image) for image in test.images]
    assert all(set(text) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ") for text in answers)
    assert sum(map(len, answers)) > 0  # it reads something: upper-cased, within the scheme's characters


def test_compare_says_where_each_reports_strongest_attacker_started():
    assert _start({"strongest": "ddddocr", "init_from": None}) == "off the shelf"
    assert _start({"strongest": "base+semi", "init_from": "/r/base/checkpoints/best.pt"}) == "from `checkpoints/best.pt`"
    assert _start({"strongest": "scratch", "init_from": None}) == "scratch"
