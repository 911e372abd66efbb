"""Ray Train on a 2-node cluster (ray.cluster_utils.Cluster, in this process, 1 CPU per node)."""

import pytest

from crnn.config import resolve_config
from crnn.errors import UserError
from crnn.training import launch
from crnn.training.launch import Launch
from crnn.training.ray_train import storage_and_name

pytestmark = pytest.mark.ray


def test_multi_node_refuses_a_local_only_storage_path(digits_data, tmp_path):
    import ray
    from ray.cluster_utils import Cluster as RayCluster

    ray.shutdown()
    cluster = RayCluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address)
        cfg = resolve_config("tiny", None, ["train.epochs=1"])
        with pytest.raises(UserError, match="2 nodes: --storage must be shared"):
            launch.run(str(digits_data), tmp_path / "run", cfg, Launch(workers=2, storage=str(tmp_path / "s")))
        with pytest.raises(UserError, match="--storage must be shared"):
            launch.run(str(digits_data), tmp_path / "run", cfg, Launch(workers=2))
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_storage_and_name_never_use_a_timestamp(tmp_path):
    assert storage_and_name(tmp_path / "run", None) == (str(tmp_path / "run" / "ray"), "train")
    assert storage_and_name(tmp_path / "run", "s3://bucket/runs") == ("s3://bucket/runs", "run")
    assert storage_and_name(tmp_path / "run", str(tmp_path / "shared")) == (str(tmp_path / "shared"), "run")


def test_bad_flags_are_refused_before_ray_starts(digits_data, tmp_path, cli):
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "r", "--workers", "0")
    assert code == 2 and "--workers 0: must be at least 1" in err
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "r", "--storage", tmp_path)
    assert code == 2 and "--storage needs --workers" in err
    code, _, err = cli("train", "--data", tmp_path, "--out", tmp_path / "r", "--workers", "2")
    assert code == 2 and "not a dataset" in err
