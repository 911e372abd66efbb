"""The line `crnn assess` prints per epoch: the epoch out of the run's budget, the rate, and the time
left to the run and to the round (read from what the runs measured so far)."""

from __future__ import annotations

from types import SimpleNamespace

from tune.assess.progress import RoundLines, duration

PLAN = [{"attacker": "base", "size": 100, "repeat": 0}, {"attacker": "base", "size": 400, "repeat": 0}]


def _trial(run: dict) -> SimpleNamespace:
    return SimpleNamespace(config={"run": run})  # what Tune hands a callback: the trial's config


def test_epoch_lines_show_the_budget_rate_and_time_left(capsys) -> None:
    lines = RoundLines(PLAN, epochs_for=lambda size: 10, minutes=0.0, concurrent=1)
    lines.on_trial_result(0, [], _trial(PLAN[0]), {"epoch": 2, "exact_acc": 0.25, "images_per_s": 50.0, "elapsed_min": 0.5})
    line = capsys.readouterr().out.strip()
    # 2 of 10 epochs took 30 s: 8 left take 120 s; the 400-image run, at 0.15 s per image-epoch, 600 s
    assert line == "[base n=100 r=0] epoch 2/10 val exact 25.00%, 50 img/s, run eta 2.0 min, round eta 12.0 min"
    final = {"final": True, "test_correct": 30, "test_count": 100, "test_exact_acc": 0.3, "test_char_acc": 0.6,
             "epochs_run": 10, "train_minutes": 2.5}  # fmt: skip
    lines.on_trial_result(0, [], _trial(PLAN[0]), final)
    assert "1/2 runs of the round done, round eta 10.0 min" in capsys.readouterr().out


def test_a_time_budget_caps_the_time_left() -> None:
    lines = RoundLines(PLAN, epochs_for=lambda size: 200, minutes=3.0, concurrent=2)
    assert lines.round_left() is None  # nothing measured yet: no eta rather than a guess
    lines.on_trial_result(0, [], _trial(PLAN[1]), {"epoch": 1, "exact_acc": 0.0, "elapsed_min": 1.0})
    assert lines.left[("base", 400, 0)] == 120.0  # 199 epochs at a minute each, but the run stops at 3 minutes
    assert lines.round_left() == (120.0 + 180.0) / 2  # the other run: its whole budget; two at once
    lines.on_trial_result(0, [], _trial(PLAN[0]), {"epoch": 1, "exact_acc": 0.0, "elapsed_min": 0.01})
    assert lines.round_left() == 120.0  # the two at once: the round ends with the run that has the most left


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (5, 89, 600, 7200)] == ["5 s", "89 s", "10.0 min", "2.0 h"]
