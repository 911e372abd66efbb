"""research/ceiling_fit.py: the floor of a data-scaling curve, and the task ceiling it implies."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ceiling_fit = _load("ceiling_fit")
N = np.array([1000.0, 2000, 4000, 8000, 16000])


@pytest.mark.parametrize("floor,a,b", [(0.01, 0.5, 0.5), (0.03, 2.0, 0.8), (0.0, 0.3, 0.4)])
def test_the_fit_recovers_a_known_curve(floor, a, b):
    err = floor + a * N**-b
    got = ceiling_fit.fit_floor(N, err, 10**7)
    assert got[0] == pytest.approx(floor, abs=5e-4)
    assert got[2] == pytest.approx(b, abs=0.02)


def test_a_curve_that_has_flattened_has_its_plateau_as_floor():
    err = np.array([0.021, 0.0205, 0.02, 0.0201, 0.0199])
    assert ceiling_fit.fit_floor(N, err, 10**6)[0] == pytest.approx(0.02, abs=1e-3)


def test_a_rising_curve_keeps_its_mean_as_floor():
    """A curve whose error grows with data has no falling part: the floor is its weighted mean, not 0."""
    err = np.array([0.020, 0.022, 0.025, 0.027, 0.030])
    floor, a, _ = ceiling_fit.fit_floor(N, err, 10**5)
    assert a == 0.0
    assert floor == pytest.approx(err.mean(), abs=1e-3)


def _fake_run(folder: Path, sizes: int) -> None:
    """A context_ceiling.py folder whose reader errs 40%, 20%, 10%, ... on class 0 and never on class 1."""
    folder.mkdir()
    truth = np.array([0] * 1000 + [1] * 1000)
    predicted = np.stack([np.where((truth == 0) & (np.arange(2000) < 400 // 2**s), 1, truth) for s in range(sizes)])
    np.savez(folder / "predictions.npz", truth=truth, predicted=predicted, sizes=np.arange(sizes), charset=np.array(list("01")))
    curve = [{"captchas": 100 * 2**s, "train_per_char": {"0": 50 * 2**s, "1": 50 * 2**s}} for s in range(sizes)]
    (folder / "context.json").write_text(json.dumps({"charset": "01", "length": 2, "size": [150, 40], "curve": curve}))


def test_a_run_gets_its_tables_and_plot(tmp_path, monkeypatch, capsys):
    _fake_run(tmp_path / "run", 5)
    monkeypatch.setattr("sys.argv", ["ceiling_fit", "--run", str(tmp_path / "run"), "--bootstrap", "20"])
    ceiling_fit.main()
    result = json.loads((tmp_path / "run" / "ceiling.json").read_text())
    assert result["groups"] == ["0", "1"] and list(result["units"]) == ["0", "1", "01"]
    zero = result["units"]["0"]["exact"]
    assert zero["measured"] == pytest.approx([0.4, 0.2, 0.1, 0.05, 0.025])
    assert zero["floor"] < 0.01 and zero["b"] == pytest.approx(1.0, abs=0.05)  # halves with every doubling
    assert result["units"]["1"]["exact"]["floor"] == 0.0
    assert result["ceiling_exact"] > 0.99  # (1 - (floor + 0) / 2) ** 2
    assert result["exact_at_exact"]["100000"] == pytest.approx(result["ceiling_exact"], abs=0.01)
    assert (tmp_path / "run" / "ceiling.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "run" / "ceiling.md").read_text()
    assert "ceiling, exact" in md and "from one fit over all read characters" in md


def test_bad_runs_get_one_line_errors(tmp_path, monkeypatch, capsys):
    _fake_run(tmp_path / "short", 3)
    for run, needle in ((tmp_path / "none", "no context.json"), (tmp_path / "short", "at least 4 sizes")):
        monkeypatch.setattr("sys.argv", ["ceiling_fit", "--run", str(run)])
        with pytest.raises(SystemExit):
            ceiling_fit.main()
        assert needle in capsys.readouterr().err


def test_default_groups_join_case_pairs_and_look_alikes():
    assert ceiling_fit.default_groups(list("0CIOVclov1")) == ["0Oo", "Cc", "Il1", "Vv"]
    assert ceiling_fit.default_groups(list("ab")) == ["a", "b"]


def test_groups_must_cover_the_read_characters(tmp_path, monkeypatch, capsys):
    _fake_run(tmp_path / "run", 5)
    monkeypatch.setattr("sys.argv", ["ceiling_fit", "--run", str(tmp_path / "run"), "--groups", "0"])
    with pytest.raises(SystemExit):
        ceiling_fit.main()
    assert "--groups" in capsys.readouterr().err
