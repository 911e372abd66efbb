"""research/error_kinds.py: each wrong prediction gets one kind."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("error_kinds", Path(__file__).parents[1] / "error_kinds.py")
error_kinds = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(error_kinds)


@pytest.mark.parametrize(
    "pred,true,kind",
    [
        ("abcd", "abcde", "wrong length"),
        ("aVcde", "avcde", "case only"),
        ("a0cde", "aOcde", "look-alike"),
        ("aocIe", "aOcle", "look-alike"),  # O->o is a case slip, l->I a look-alike
        ("a0cdE", "aOcde", "look-alike"),  # a look-alike and a case slip
        ("a0cdf", "aOcde", "other"),
        ("l0cde", "1Ocde", "look-alike"),
        ("x0cde", "1Ocde", "other"),
    ],
)
def test_kinds(pred, true, kind):
    assert error_kinds.kind(pred, true) == kind


def test_a_missing_model_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["error_kinds", "--model", str(tmp_path / "nope"), "--data", str(tmp_path)])
    with pytest.raises(SystemExit) as e:
        error_kinds.main()
    assert e.value.code == 2 and "nope" in capsys.readouterr().err
