import io

from crnn.data.synth import SynthSpec, synthesize
from crnn.progress import Progress


def test_progress_off_a_terminal_prints_a_line_per_tenth_ending_at_the_total(monkeypatch):
    monkeypatch.setattr(Progress, "QUIET_SECONDS", 0.0)
    out = io.StringIO()  # not a TTY, like a log file or a Ray job's output
    with Progress(25, "rendering", file=out) as bar:
        for _ in range(25):
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert 5 <= len(lines) <= 11
    assert lines[-1].startswith("rendering: 25/25 img (100%), ") and "img/s" in lines[-1] and "eta 0.0 min" in lines[-1]
    done = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert done == sorted(set(done))  # rising, never the same count twice


def test_progress_disabled_or_quick_prints_nothing_and_wrap_counts_items(monkeypatch):
    out = io.StringIO()
    assert list(Progress(3, "x", file=out, enabled=False).wrap("abc")) == ["a", "b", "c"]
    assert out.getvalue() == ""
    assert list(Progress(3, "importing", file=out).wrap("abc")) == ["a", "b", "c"]
    assert out.getvalue() == ""  # done within QUIET_SECONDS: a quick import stays quiet
    monkeypatch.setattr(Progress, "QUIET_SECONDS", 0.0)
    assert list(Progress(3, "importing", file=out).wrap("abc")) == ["a", "b", "c"]
    assert out.getvalue().splitlines()[-1].startswith("importing: 3/3 img (100%)")


def test_synth_into_a_log_file_reports_progress(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Progress, "QUIET_SECONDS", 0.0)
    synthesize(tmp_path / "d", SynthSpec(charset="0123456789", seed=1), 30, workers=1)
    err = capsys.readouterr().err
    assert "rendering: 30/30 img (100%)" in err and "img/s" in err
