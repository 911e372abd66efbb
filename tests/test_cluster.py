"""cluster/: a real token-protected Ray head on loopback, jobs submitted to it, and the configs."""

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml
from PIL import Image

from crnn_cli.main import build_parser
from tests.conftest import make_dataset

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"


def test_launcher_config_validates_against_rays_schema():
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    config = yaml.safe_load((CLUSTER / "aws-gpu.yaml").read_text())
    jsonschema.validate(config, schema)
    assert any("pip install -e" in c for c in config["setup_commands"])
    assert config["available_node_types"]["gpu_worker"]["node_config"]["InstanceType"].startswith("g")


def test_launcher_nodes_get_the_token_from_a_file_mount_and_refuse_an_empty_one(tmp_path):
    """The autoscaler forwards no environment variable to a node: the token must travel as a file."""
    config = yaml.safe_load((CLUSTER / "aws-gpu.yaml").read_text())
    commands = [*config["setup_commands"], *config["head_start_ray_commands"], *config["worker_start_ray_commands"]]
    assert not [c for c in commands if "RAY_AUTH_TOKEN" in c and "RAY_AUTH_TOKEN_PATH" not in c]
    assert all("RAY_AUTH_MODE=token" in c for c in commands if "ray start" in c)
    home = f"/home/{config['auth']['ssh_user']}"
    assert config["file_mounts"][f"{home}/.ray/auth_token"] == "~/.ray/auth_token"  # where `ray get-auth-token --generate` writes
    token_steps = [c for c in config["setup_commands"] if "auth_token" in c]
    assert token_steps
    for token, ok in (("a" * 64 + "\n", True), ("", False)):
        node = tmp_path / ("good" if ok else "empty")
        (node / ".ray").mkdir(parents=True)
        (node / ".ray" / "auth_token").write_text(token)  # what the file mount put there
        result = subprocess.run(["bash", "-ec", " && ".join(token_steps)], env={"HOME": str(node), "PATH": os.environ["PATH"]})
        assert (result.returncode == 0) == ok
        if ok:
            assert (node / ".ray" / "auth_token").stat().st_mode & 0o777 == 0o600


def crnn_commands(entrypoint: str) -> list[list[str]]:
    """Each `crnn ...` command of an entrypoint (split on && and ||)."""
    words = shlex.split(entrypoint.replace("bash -c", ""))
    words = [w for part in words for w in shlex.split(part)] if len(words) == 1 else words
    out, current = [], None
    for w in words:
        if w in ("&&", "||"):
            current = None
        elif w == "crnn":
            current = []
            out.append(current)
        elif current is not None:
            current.append(w)
    return out


@pytest.mark.parametrize(
    "name", ["raycluster.yaml", "rayjob-tune.yaml", "rayjob-tune-s3.yaml", "rayjob-retrain.yaml", "shared-pvc.yaml"]
)
def test_kuberay_manifests_parse_and_name_real_entrypoints(name):
    doc = yaml.safe_load((CLUSTER / "k8s" / name).read_text())
    if name == "shared-pvc.yaml":
        assert doc["kind"] == "PersistentVolumeClaim" and "ReadWriteMany" in doc["spec"]["accessModes"]
        return
    assert doc["apiVersion"] == "ray.io/v1"
    spec = doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]
    head_env = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "RAY_AUTH_MODE", "value": "token"} in head_env
    assert any(
        g["template"]["spec"]["containers"][0]["resources"]["limits"].get("nvidia.com/gpu") for g in spec["workerGroupSpecs"]
    )
    if doc["kind"] == "RayJob":
        commands = crnn_commands(doc["spec"]["entrypoint"])
        assert commands, "the entrypoint runs no crnn command"
        for argv in commands:
            build_parser().parse_args(argv)  # exits 2 on an unknown subcommand or flag
        data = {argv[argv.index("--data") + 1] for argv in commands if "--data" in argv}
        for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:  # the dataset trials read is on every pod
            pod = group["template"]["spec"]
            mounts = {m["mountPath"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
            assert all(any(d.startswith(m + "/") for m in mounts) for d in data), (data, mounts)
            for init in pod.get("initContainers", []):
                build_parser().parse_args(init["command"][1:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A real head: cluster/start-local.sh on free loopback ports, token auth on; stopped by its group."""
    state = tmp_path_factory.mktemp("cluster")
    port, dport = free_port(), free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    try:  # the script's own waits give up by themselves, in up to about 7 minutes on a loaded machine
        start = subprocess.run(
            [str(CLUSTER / "start-local.sh"), "--port", str(port), "--dashboard-port", str(dport), "--num-cpus", "2",
             "--state", str(state)],
            capture_output=True, text=True, timeout=480, env=env,
        )  # fmt: skip
        ok, why = start.returncode == 0, start.stdout + start.stderr
    except subprocess.TimeoutExpired as exc:
        ok, why = False, f"cluster/start-local.sh still waiting after {exc.timeout} s"
    if not ok:  # a head that did start is not left behind
        subprocess.run([str(CLUSTER / "stop-local.sh"), "--state", str(state), "--now"], capture_output=True, env=env)
        head_log = state / "head.log"
        pytest.fail(why + (head_log.read_text() if head_log.exists() else ""))
    session = int((state / "head.pid").read_text())
    yield {"address": f"http://127.0.0.1:{dport}", "token": state / "auth_token", "env": env, "session": session}
    # --now: the tests need no drain (Ray takes about 35 s to drain); what they need is nothing left behind
    stop = subprocess.run([str(CLUSTER / "stop-local.sh"), "--state", str(state), "--now"], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip
    left = subprocess.run(["ps", "-e", "-o", "sid=,stat=,pid=,args="], capture_output=True, text=True).stdout.split("\n")
    left = [row for row in left if row.split()[:1] == [str(session)] and not row.split()[1].startswith("Z")]  # zombies are dead
    assert stop.returncode == 0 and not left, stop.stderr + "\n".join(left)


def run(args, env, timeout=600):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket that ``pids`` listen on, from /proc (no ss, no psutil)."""
    listening: dict[str, tuple[str, int]] = {}  # socket inode -> (address, port)
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if cols[3] != "0A":  # TCP_LISTEN
                continue
            hex_addr, hex_port = cols[1].split(":")
            raw = bytes.fromhex(hex_addr)
            # /proc prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            addr = socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, words)
            listening[cols[9]] = (addr, int(hex_port, 16))
    out = []
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        for link in links:
            inode = link.removeprefix("socket:[").removesuffix("]")
            if link.startswith("socket:[") and inode in listening:
                out.append((pid, *listening[inode]))
    return out


@pytest.mark.ray
def test_a_local_head_listens_on_loopback_only(head):
    from tests.conftest import session_pids

    sockets = listening_sockets(set(session_pids(head["session"])))
    assert len(sockets) >= 3, sockets  # the GCS, the dashboard, the raylet at least: the scan sees them
    outside = [(pid, addr, port) for pid, addr, port in sockets if addr not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")]
    assert outside == [], outside


@pytest.mark.ray
def test_submit_a_tuning_job_and_read_its_table(head, digits_data, tmp_path):
    env = {**head["env"], "RAY_AUTH_TOKEN_PATH": str(head["token"])}
    storage = tmp_path / "exps"
    submit = run([sys.executable, "-m", "crnn", "submit", "--address", head["address"], "--wait", "--",
                  "tune", "--data", str(digits_data), "--name", "job", "--preset", "tiny", "--samples", "2",
                  "--experiments", str(storage)], env)  # fmt: skip
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    assert "submitted " in submit.stdout and "SUCCEEDED" in submit.stdout
    results = run([sys.executable, "-m", "crnn", "results", "job", "--experiments", str(storage), "--format", "json"], env)
    assert results.returncode == 0 and len(json.loads(results.stdout)) == 2
    jobs = run([sys.executable, "-m", "crnn", "jobs", "list", "--address", head["address"]], env)
    assert jobs.returncode == 0 and "SUCCEEDED" in jobs.stdout


@pytest.mark.ray
def test_predict_runs_as_a_job_from_the_shipped_folder_and_jobs_reports_on_it(head, tmp_path):
    """The user's folder (a model and an image, relative paths) is what the job sees; jobs status/logs/stop."""
    env = {**head["env"], "RAY_AUTH_TOKEN_PATH": str(head["token"])}
    work = tmp_path / "work"
    data = work / "captchas"
    make_dataset(data, count=30)
    trained = run([sys.executable, "-m", "crnn", "train", "--data", str(data), "--out", str(work / "run"), "--preset",
                   "tiny", "--set", "train.epochs=1"], env)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    Image.fromarray(np.load(data / "test.npy")[0]).save(work / "one.png")
    crnn = [sys.executable, "-m", "crnn"]
    address = ["--address", head["address"]]
    submit = run([*crnn, "submit", *address, "--working-dir", str(work), "--job-id", "predict-1", "--wait", "--",
                  "predict", "--model", "run", "one.png"], env)  # fmt: skip
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    assert f"shipping {work}" in submit.stdout and "one.png\t" in submit.stdout and "SUCCEEDED" in submit.stdout
    status = run([*crnn, "jobs", "status", "predict-1", *address], env)
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout
    logs = run([*crnn, "jobs", "logs", "predict-1", *address], env)
    assert logs.returncode == 0 and "one.png\t" in logs.stdout
    stop = run([*crnn, "jobs", "stop", "predict-1", *address], env)
    assert stop.returncode == 0 and "already finished" in stop.stdout


@pytest.mark.ray
def test_plain_ray_job_submit_works_with_the_token(head, tmp_path):
    env = {**head["env"], "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(head["token"])}
    ray_cli = str(Path(sys.executable).parent / "ray")
    (tmp_path / "hello.py").write_text("import ray\nray.init()\nprint('cpus', ray.cluster_resources()['CPU'])\n")
    out = run(
        [ray_cli, "job", "submit", "--address", head["address"], "--working-dir", str(tmp_path), "--", "python", "hello.py"], env
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "cpus 2.0" in out.stdout


@pytest.mark.ray
def test_without_the_token_a_submission_is_refused_with_how_to_supply_one(head, tmp_path):
    env = {k: v for k, v in head["env"].items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token either
    out = run([sys.executable, "-m", "crnn", "submit", "--address", head["address"], "--", "results", "x"], env)
    assert out.returncode == 2
    assert "requires a token" in out.stderr and "RAY_AUTH_TOKEN" in out.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("0" * 64)
    out = run([sys.executable, "-m", "crnn", "jobs", "list", "--address", head["address"], "--token-file", str(wrong)], env)
    assert out.returncode == 2 and "refused the token" in out.stderr


def test_submit_refuses_a_working_dir_over_rays_limit(tmp_path, cli):
    (tmp_path / "crnn").mkdir()
    (tmp_path / "crnn" / "x.py").write_text("pass\n")
    with (tmp_path / "videos.bin").open("wb") as fh:
        fh.truncate(120 * 2**20)  # sparse: 120 MiB by size, nothing on disk
    (tmp_path / "data").mkdir()
    with (tmp_path / "data" / "big.npy").open("wb") as fh:
        fh.truncate(500 * 2**20)  # excluded by default, so it does not count
    args = ("submit", "--address", "http://127.0.0.1:9", "--working-dir", tmp_path)
    code, _, err = cli(*args, "--", "tune", "--data", "d", "--name", "x")
    assert code == 2 and "over Ray's 100 MiB working_dir limit" in err and "videos.bin (120 MiB)" in err
    code, _, err = cli(*args, "--exclude", "videos.bin", "--", "tune")
    assert code == 2 and "cannot reach the Ray job API at http://127.0.0.1:9" in err


def test_submit_refuses_a_relative_path_the_job_cannot_see(tmp_path, cli):
    (tmp_path / "results/tuned").mkdir(parents=True)
    (tmp_path / "results/tuned/best_config.json").write_text("{}")
    args = ("submit", "--address", "http://127.0.0.1:9", "--working-dir", tmp_path)
    code, _, err = cli(*args, "--", "assess", "--data", "d", "--out", "r", "--config", "results/tuned/best_config.json")
    assert code == 2 and "results/tuned/best_config.json: results/tuned/best_config.json is not shipped" in err, err
    code, _, err = cli(*args, "--", "results", "x")  # the subcommand `results` is not the folder results/
    assert code == 2 and "cannot reach the Ray job API" in err, err
    absolute = tmp_path / "results/tuned/best_config.json"
    code, _, err = cli(*args, "--", "assess", "--data", "d", "--out", "r", "--config", absolute)
    assert code == 2 and "cannot reach the Ray job API" in err  # absolute: the job reads it where it is


def test_submit_checks_the_files_rays_own_upload_ships(tmp_path, cli):
    """.gitignore'd files are not uploaded by Ray: the checks agree with the zip Ray's packaging builds."""
    import zipfile

    from ray._private.runtime_env.packaging import create_package

    from crnn_cli.commands.jobs import EXCLUDES, shipped_files

    (tmp_path / ".gitignore").write_text("big/\n*.npy\nsecret_token.txt\n")
    for name in ("space.yaml", "mydata/manifest.json", "mydata/train.npy", "big/blob.bin", "secret_token.txt", "sub/.gitignore"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "sub/.gitignore").write_text("local.txt\n")
    (tmp_path / "sub/local.txt").write_text("x")
    (tmp_path / "sub/kept.txt").write_text("x")
    create_package(str(tmp_path), tmp_path.parent / "pkg.zip", include_gitignore=True, excludes=EXCLUDES)
    zipped = {n for n in zipfile.ZipFile(tmp_path.parent / "pkg.zip").namelist() if not n.endswith("/")}
    ours = {p.relative_to(tmp_path).as_posix() for p in shipped_files(tmp_path, EXCLUDES)}
    assert ours == zipped == {".gitignore", "space.yaml", "mydata/manifest.json", "sub/.gitignore", "sub/kept.txt"}
    args = ("submit", "--address", "http://127.0.0.1:9", "--working-dir", tmp_path)
    code, _, err = cli(*args, "--", "train", "--data", "mydata", "--out", "r")  # the .npy would be missing in the job
    assert code == 2 and "mydata: mydata/train.npy is not shipped" in err, err
    code, _, err = cli(*args, "--", "train", "--data", "/abs/data", "--out", "r")  # the ignored secret is not shipped either
    assert code == 2 and "cannot reach the Ray job API" in err, err


@pytest.mark.parametrize("secret", [".env", "my_token.txt", "conf/server.pem", "keys/id_rsa", ".netrc"])
def test_submit_refuses_to_ship_what_looks_like_a_secret(tmp_path, cli, secret):
    (tmp_path / "space.yaml").write_text("params: {}\n")
    (tmp_path / secret).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / secret).write_text("s3cret")
    args = ("submit", "--address", "http://127.0.0.1:9", "--working-dir", tmp_path)
    code, _, err = cli(*args, "--", "results", "x")
    assert code == 2 and "look like secrets" in err and secret in err
    code, _, err = cli(*args, "--exclude", Path(secret).name, "--", "results", "x")
    assert code == 2 and "cannot reach the Ray job API" in err  # excluded: it passes the check


def test_submit_ships_the_working_folder_not_the_installed_package(tmp_path, cli, monkeypatch):
    from crnn_cli.commands import jobs as jobs_cmds

    (tmp_path / "space.yaml").write_text("params: {}\n")
    shipped = {}

    class FakeClient:  # stands in for the network only: what would be uploaded is the question
        def submit_job(self, entrypoint, runtime_env, submission_id):
            shipped.update(runtime_env, entrypoint=entrypoint)
            return "job-1"

    monkeypatch.setattr(jobs_cmds, "_client", lambda address, token_file, **kw: FakeClient())
    monkeypatch.chdir(tmp_path)
    for command in (["predict", "--model", "run", "a.png"], ["export", "--model", "run", "--format", "onnx", "--out", "m"]):
        code, out, err = cli("submit", "--", *command)
        assert code == 0, err
        assert shipped["working_dir"] == str(tmp_path) and shipped["entrypoint"] == "python -m crnn " + " ".join(command)
        assert f"shipping {tmp_path}: 1 files" in out


def test_a_token_over_plain_http_to_another_host_is_warned_about(capsys):
    from crnn_cli.commands.jobs import warn_plain_http

    assert warn_plain_http("http://10.0.0.5:8265") and "plain HTTP" in capsys.readouterr().err
    for quiet in ("http://127.0.0.1:8265", "https://ray.example.org", "http://localhost:8265"):
        assert not warn_plain_http(quiet)
    assert capsys.readouterr().err == ""
