"""crnn.storage and tune.mirror against a real S3-compatible server (moto's) on 127.0.0.1."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from crnn import storage
from crnn.errors import UserError
from tune.assess.run import home_of
from tune.mirror import Mirror, no_checkpoints


def test_uris_are_told_apart_and_joined_with_their_query():
    assert storage.is_remote("s3://b/x") and storage.is_remote("gs://b/x")
    assert not storage.is_remote("file:///mnt/x") and not storage.is_remote("experiments") and not storage.is_remote(None)
    assert storage.join("s3://b/exps?endpoint_override=h:1&scheme=http", "t1", "runs") == (
        "s3://b/exps/t1/runs?endpoint_override=h:1&scheme=http"
    )
    assert storage.redact("s3://b/x?access_key=SECRET") == "s3://b/x"
    with pytest.raises(UserError, match=r"--storage hdfs://nn/x: accepted: a folder, file:///"):
        storage.check_uri("hdfs://nn/x", "--storage")


def test_a_missing_bucket_is_one_line(s3):
    with pytest.raises(UserError, match=r"^s3://no-such-bucket-here/x: bucket 'no-such-bucket-here' does not exist"):
        storage.filesystem("s3://no-such-bucket-here/x")


def test_pull_and_push_round_trip_skip_and_only_copy_what_changed(s3, tmp_path):
    src = tmp_path / "src"
    (src / "t1" / "checkpoint_000001").mkdir(parents=True)
    (src / "t1" / "result.json").write_text('{"epoch": 1}\n')
    (src / "t1" / "checkpoint_000001" / "last.pt").write_bytes(b"x" * 1000)
    (src / "optuna.db").write_bytes(b"db")
    (src / "trials.csv.tmp123").write_text("partial")
    uri = storage.join(s3, "exps", "e")
    assert storage.push_tree(src, uri) == 3  # the partial file stays behind

    local = tmp_path / "copy"
    assert storage.pull(uri, local, skip=no_checkpoints) == 2
    assert (local / "t1" / "result.json").read_text() == '{"epoch": 1}\n'
    assert not (local / "t1" / "checkpoint_000001").exists()
    assert storage.pull(uri, local, skip=no_checkpoints) == 0  # nothing changed

    time.sleep(1.1)  # the next upload's time must be later than the copy's
    (src / "t1" / "result.json").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    assert storage.push(src, uri, ["t1/result.json", "not-there.json"]) == 1
    assert storage.pull(uri, local, skip=no_checkpoints) == 1
    assert (local / "t1" / "result.json").read_text().count("epoch") == 2
    assert storage.pull(storage.join(s3, "nothing", "here"), tmp_path / "none") == 0


def test_the_endpoint_can_be_written_into_the_uri(s3, tmp_path, monkeypatch):
    endpoint = os.environ.pop("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    uri = f"{s3}/q?endpoint_override={endpoint.removeprefix('http://')}&scheme=http"
    (tmp_path / "a.txt").write_text("hello")
    assert storage.push(tmp_path, uri, ["a.txt"]) == 1
    fs, path = storage.filesystem(uri)
    assert isinstance(fs, pafs.S3FileSystem) and path == f"{s3.removeprefix('s3://')}/q"
    with fs.open_input_stream(f"{path}/a.txt") as f:
        assert f.read() == b"hello"


def test_mirrors_know_where_ray_writes(s3, tmp_path):
    local = Mirror.at(str(tmp_path / "exps"), "t1")
    assert local.remote is None and local.local == (tmp_path / "exps" / "t1").resolve()
    assert local.ray_storage() == (str((tmp_path / "exps").resolve()), None)
    assert local.pull() == 0 and local.push(["x"]) == 0

    remote = Mirror.at(f"{s3}/exps", "t1")
    bucket = s3.removeprefix("s3://")
    assert remote.remote == f"{s3}/exps/t1"
    assert remote.local == Path(os.environ["CRNN_CACHE_DIR"]).resolve() / "storage" / "s3" / bucket / "exps" / "t1"
    path, fs = remote.ray_storage()
    assert path == f"{bucket}/exps" and isinstance(fs, pafs.S3FileSystem)
    assert remote.sub("train_runs") == f"{s3}/exps/t1/train_runs"


def test_an_assessment_storage_must_be_remote(tmp_path):
    assert home_of(tmp_path / "rep", None).remote is None
    assert home_of(tmp_path / "rep", "s3://b/assess").remote == "s3://b/assess/rep"
    with pytest.raises(UserError, match=r"--storage /shared: accepted: s3://bucket/path or gs://bucket/path"):
        home_of(tmp_path / "rep", "/shared")


def test_results_of_a_missing_remote_experiment_is_one_line(s3, cli):
    code, _, err = cli("results", f"{s3}/exps/nope")
    assert code == 2 and f"{s3}/exps/nope: no experiment there" in err and "Traceback" not in err


def test_an_unreachable_server_is_one_line(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(UserError, match=r"^s3://bucket/x: cannot reach the storage \(.*Could not connect") as info:
        storage.filesystem("s3://bucket/x?region=us-east-1")
    assert "\n" not in str(info.value) and "region=" not in str(info.value)  # the query stays out of messages
