"""Nothing read from a file or a bucket is trusted: no code runs from an experiment folder, no key
leaks from a storage URI, nothing is written outside its folder, checkpoints survive a crash, and a
bad input gets one line. Each case is a reproduction that failed on the code before its fix."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from crnn import storage
from crnn.atomic import staging_dir
from crnn.data.store import is_dataset
from crnn.errors import UserError
from tests.conftest import make_dataset
from tune.mirror import Mirror
from tune.search.experiment import EXPERIMENT_FILE
from tune.search.run import TUNE_PRESETS, TuneOptions, _setup
from tune.tune_state import TRUST_FLAG, check_restore, trial_statuses

SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"


class _Payload:
    """Unpickling this writes a file: what a crafted Tune state file would do to a reader."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def _hex_pickle(obj: object) -> str:
    return pickle.dumps(obj).hex()


def craft_experiment(digits_data: Path, exps: Path, marker: Path, name: str = "evil") -> Path:
    """An experiment folder as `crnn tune` writes it, one finished trial, and a Tune state file whose
    pickled values write ``marker`` when loaded."""
    exp = exps / name
    exp.mkdir(parents=True)
    opts = TuneOptions(data=str(digits_data), name=name, preset="tiny", storage=str(exps))
    _, meta = _setup(opts, TUNE_PRESETS["tiny"], Mirror(exp))
    (exp / EXPERIMENT_FILE).write_text(json.dumps(meta))
    trial = exp / "aaaa0001"
    trial.mkdir()
    (trial / "params.json").write_text(json.dumps(meta["reference_point"]))
    row = {"trial_id": "aaaa0001", "epoch": meta["max_epochs"], "exact_acc": 0.5, "char_acc": 0.8, "edit_distance": 0.4}
    (trial / "result.json").write_text(json.dumps(row) + "\n")
    blob = {"_type": "CLOUDPICKLE_FALLBACK", "value": _hex_pickle(_Payload(marker))}
    trial_state = {"trial_id": "aaaa0001", "status": "TERMINATED", "trainable_name": "run_trial", "stopper": blob,
                   "placement_group_factory": _hex_pickle(_Payload(marker))}  # fmt: skip
    state = {"trial_data": [[json.dumps(trial_state), json.dumps({"checkpoint_manager": blob})]], "runner_data": blob}
    (exp / "experiment_state-2026-12-01_00-00-00.json").write_text(json.dumps(state))
    (exp / "tuner.pkl").write_bytes(pickle.dumps(_Payload(marker)))  # what Tuner.restore unpickles first
    return exp


# 1. Reading is never executing


def test_the_results_table_of_a_crafted_experiment_runs_no_code(digits_data, tmp_path, cli, monkeypatch):
    marker = tmp_path / "pwned"
    craft_experiment(digits_data, tmp_path / "exps", marker)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("results", "evil", "--experiments", "exps", "--no-plots", "--format", "json")
    assert code == 0, err
    assert not marker.exists(), "reading the table unpickled Tune's state"
    rows = json.loads(out)
    assert [(r["trial_id"], r["status"]) for r in rows] == [("aaaa0001", "done")]  # the status, read as plain JSON


def test_statuses_come_from_json_alone_and_a_broken_state_file_gives_none(tmp_path):
    (tmp_path / "experiment_state-1.json").write_text("{not json")
    assert trial_statuses(tmp_path) == {}
    trial = json.dumps({"trial_id": "t1", "status": "ERROR"})
    (tmp_path / "experiment_state-2.json").write_text(json.dumps({"trial_data": [[trial, "{}"]]}))
    assert trial_statuses(tmp_path) == {"t1": "ERROR"}


def test_resuming_someone_elses_experiment_asks_for_trust_before_ray_loads_it(digits_data, tmp_path, cli):
    marker = tmp_path / "pwned"
    exp = craft_experiment(digits_data, tmp_path / "exps", marker)
    for state in [*exp.glob("experiment_state-*.json"), exp / "tuner.pkl"]:
        state.chmod(0o666)  # a shared folder: others could have written it
    code, _, err = cli("tune", "--data", digits_data, "--name", "evil", "--experiments", tmp_path / "exps", "--preset", "tiny")
    assert code == 2 and not marker.exists()
    assert TRUST_FLAG in err and "pickled" in err and len(err.strip().splitlines()) == 1


def test_a_remote_state_always_needs_trust_and_the_users_own_folder_does_not(tmp_path):
    (tmp_path / "experiment_state-1.json").write_text("{}")
    (tmp_path / "experiment_state-1.json").chmod(0o644)
    check_restore(tmp_path, None, trusted=False)  # this user's own folder: Ray's usual resume
    with pytest.raises(UserError, match="remote storage"):
        check_restore(tmp_path, "s3://bucket/exps/x", trusted=False)
    check_restore(tmp_path, "s3://bucket/exps/x", trusted=True)
    (tmp_path / "searcher-state.pkl").write_bytes(b"x")
    (tmp_path / "searcher-state.pkl").chmod(0o664)
    with pytest.raises(UserError, match="another user or others can write it"):
        check_restore(tmp_path, None, trusted=False)


# 2. Secrets never leave memory


@pytest.mark.parametrize(
    "uri",
    [f"s3://AKIAEXAMPLE:{SECRET}@bucket/exps", f"s3://bucket/exps?access_key=AKIA&secret_key={SECRET}"],
)
def test_credentials_in_a_storage_uri_are_refused_and_reach_no_file_or_line(digits_data, tmp_path, cli, monkeypatch, uri):
    monkeypatch.setenv("CRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    runs = [
        ("results", "t", "--experiments", uri),
        ("results", uri + "/t" if "?" not in uri else uri.replace("?", "/t?")),
        ("tune", "--data", digits_data, "--name", "t", "--experiments", uri, "--preset", "tiny"),
        ("assess", "--data", digits_data, "--out", tmp_path / "rep", "--storage", uri),
        ("train", "--data", digits_data, "--out", tmp_path / "run", "--workers", "1", "--storage", uri),
        ("retrain", "t", "--experiments", uri, "--data", digits_data, "--out", tmp_path / "re"),
    ]
    for args in runs:
        code, out, err = cli(*args)
        assert code == 2, (args, err)
        assert "AWS_ACCESS_KEY_ID" in err and len(err.strip().splitlines()) == 1, err
        assert SECRET not in out + err
    written = [p for p in tmp_path.rglob("*") if SECRET in p.as_posix() or (p.is_file() and SECRET.encode() in p.read_bytes())]
    assert written == []


def test_redact_strips_keys_from_a_uri():
    assert storage.redact(f"s3://AK:{SECRET}@bucket/p?secret_key={SECRET}") == "s3://bucket/p"


# 3. Contained paths


def test_pull_writes_no_key_outside_its_working_copy(s3, tmp_path, capsys):
    import boto3

    fs, root = storage.filesystem(f"{s3}/exps")
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    bucket = s3.removeprefix("s3://")
    for key in ("x/ok.txt", "x/../../hop.txt", "x/a/../../../../../../../tmp/far/hop.txt"):
        client.put_object(Bucket=bucket, Key=f"exps/{key}", Body=b"data")
    infos = {i.path[len(root) + 1 :] for i in fs.get_file_info(storage_selector(root)) if i.type.name == "File"}
    assert len(infos) == 3, infos  # the server keeps the keys as given
    local = tmp_path / "deep" / "er" / "copy"
    local.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*")}
    copied = storage.pull(f"{s3}/exps", local)
    after = {p for p in tmp_path.rglob("*")} - before
    assert all(p.resolve().is_relative_to(local.resolve()) for p in after), after
    assert (local / "x" / "ok.txt").read_bytes() == b"data" and copied == 1
    err = capsys.readouterr().out
    assert "2 key(s) would be written outside" in err and "hop.txt" in err


def storage_selector(root: str):
    import pyarrow.fs as pafs

    return pafs.FileSelector(root, recursive=True)


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/./b", "..\\..\\x"])
def test_a_key_that_leaves_its_folder_is_refused(tmp_path, rel):
    assert storage.inside(tmp_path, rel) is None


def test_a_key_inside_its_folder_is_kept_and_a_link_out_is_not(tmp_path):
    assert storage.inside(tmp_path, "a/b.txt") == (tmp_path / "a" / "b.txt").resolve()
    (tmp_path / "link").symlink_to("/tmp")
    assert storage.inside(tmp_path, "link/x") is None


# 4. Durable state


def test_atomic_writes_reach_the_disk_before_they_return(tmp_path, monkeypatch):
    from crnn import atomic

    synced = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    atomic.atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert any(s.endswith(".tmp" + str(os.getpid())) for s in synced)  # the data, before the rename
    assert str(tmp_path) in synced  # the folder, after it


def test_overwrite_keeps_the_old_folder_until_the_new_one_is_in(tmp_path, monkeypatch):
    out = make_dataset(tmp_path / "d", count=12)
    old = (out / "manifest.json").read_text()
    real_replace = os.replace
    calls = []

    def crash_on_second(src, dst):
        calls.append((Path(src), Path(dst)))
        if len(calls) == 2:
            raise OSError("power cut")
        real_replace(src, dst)

    from crnn import atomic

    monkeypatch.setattr(atomic.os, "replace", crash_on_second)
    with pytest.raises(OSError), staging_dir(out, True, is_dataset, "dataset") as tmp:
        (tmp / "manifest.json").write_text("new")
    kept = [p for p in tmp_path.rglob("manifest.json") if p.read_text() == old]
    assert kept, "neither the old folder nor the new one is left"


def test_a_zero_byte_last_checkpoint_resumes_from_the_previous_one(digits_data, tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("train", "--data", digits_data, "--out", out, "--preset", "tiny", "--set", "train.epochs=2")
    assert code == 0, err
    ckpt = out / "checkpoints"
    assert (ckpt / "prev.pt").is_file() and (ckpt / "last.pt").is_file()
    (ckpt / "last.pt").write_bytes(b"")  # what a power cut can leave
    again = ("train", "--data", digits_data, "--out", out, "--preset", "tiny", "--set", "train.epochs=3", "--resume")
    code, out_text, err = cli(*again)
    assert code == 0, err
    assert "resuming from prev.pt (epoch 1)" in out_text + err
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_an_empty_checkpoint_is_one_line_in_eval(digits_data, tmp_path, cli):
    (tmp_path / "last.pt").write_bytes(b"")
    code, _, err = cli("eval", "--model", tmp_path / "last.pt", "--data", digits_data)
    assert code == 2 and "empty" in err and len(err.strip().splitlines()) == 1


def test_a_foreign_pickle_is_refused_without_unsafe_advice(digits_data, tmp_path, cli):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(_Payload(marker)))
    code, _, err = cli("eval", "--model", tmp_path / "evil.pt", "--data", digits_data)
    assert code == 2 and not marker.exists()
    assert "weights_only" not in err and "never runs code" in err and len(err.strip().splitlines()) == 1


# 6. One writer per folder


def _hold_lock(folder: Path, what: str):
    import subprocess
    import sys

    code = (
        "import time\nfrom crnn.lock import writer_lock\n"
        f"with writer_lock({str(folder)!r}, {what!r}):\n    print('held', flush=True)\n    time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_of_a_run_or_an_experiment_is_refused_naming_the_holder(digits_data, tmp_path, cli):
    import socket

    for folder, what, args in (
        (tmp_path / "run", "run", ("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny")),
        (
            tmp_path / "exps" / "x",
            "experiment",
            ("tune", "--data", digits_data, "--name", "x", "--experiments", tmp_path / "exps"),
        ),
    ):
        holder = _hold_lock(folder, what)
        try:
            code, _, err = cli(*args)
        finally:
            holder.kill()
            holder.wait()
        assert code == 2 and f"pid {holder.pid} on {socket.gethostname()}" in err and f"writing this {what}" in err
        assert len(err.strip().splitlines()) == 1
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny", "--set", "train.epochs=1")
    assert code == 0, err  # the holder died: the kernel released its lock


def test_the_lock_leaves_no_empty_folder_behind_a_refused_command(tmp_path):
    from crnn.errors import UserError
    from crnn.lock import writer_lock

    target = tmp_path / "a" / "b" / "run"
    with pytest.raises(UserError), writer_lock(target, "run"):
        raise UserError("--sizes: refused")
    assert not (tmp_path / "a").exists()  # the parents it made are gone too
    with writer_lock(target, "run"):
        (target / "config.json").write_text("{}")
    assert (target / "config.json").exists()  # a folder with work in it stays
    existing = tmp_path / "mine"
    existing.mkdir()
    with writer_lock(existing, "run"):
        pass
    assert existing.is_dir()  # a folder the user made stays, empty or not
