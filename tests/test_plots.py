"""Every plot, rendered from a small fixture, read back through matplotlib's API: whole epochs on x,
plain loss ticks, categorical parameters on categorical axes, trial legends with their values, and the
attacker named on the assessment plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from crnn.plots import learning_curves, learning_curves_figure
from tune.assess.plots import coverage_figure, curve_figure
from tune.search.plots import best_so_far_figure, params_figure, search_plots
from tune.search.plots import learning_curves_figure as search_curves_figure
from tune.search.space import Param

ROWS = [
    {"epoch": e, "train_loss": 3.2 / e, "val_loss": 3.4 / e, "exact_acc": 0.0, "char_acc": 0.0, "exact_acc_nocase": 0.0}
    for e in range(1, 5)
]
SPACE = [Param("train.optim.lr", "loguniform", (3e-4, 1e-2)), Param("train.eval.beam_width", "choice", (1, 3, 5, 10)),
         Param("train.batch_size", "choice", (32, 64, 128, 256)), Param("model.blank_bias", "uniform", (-20.0, 0.0))]  # fmt: skip
TRIALS = [
    {"trial_id": "a1", "lr": 3.1e-3, "beam_width": 5, "batch_size": 64, "blank_bias": -4.0, "exact_acc": 0.5},
    {"trial_id": "b2", "lr": 4e-4, "beam_width": 1, "batch_size": 256, "blank_bias": -12.5, "exact_acc": 0.1},
    {"trial_id": "c3", "lr": 8e-3, "beam_width": 10, "batch_size": 32, "blank_bias": 0.0, "exact_acc": None},
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _drawn(fig: plt.Figure) -> None:
    fig.canvas.draw()  # tick labels exist only once drawn


def test_training_curves_have_whole_epochs_plain_loss_ticks_and_lines_that_stay_visible(tmp_path) -> None:
    fig = learning_curves_figure(ROWS, "run")
    _drawn(fig)
    loss, acc = fig.axes
    for ax in (loss, acc):
        assert ax.get_xlabel() == "epoch"
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 4]
        assert ticks and all(float(t).is_integer() for t in ticks)  # no 1.25, 1.5
    assert loss.get_yscale() == "log" and "loss" in loss.get_ylabel()
    labels = [t.get_text() for t in loss.get_yticklabels() if t.get_text()]
    assert labels and all("times" not in s and "^" not in s and "$" not in s for s in labels), labels  # 0.5, 1, 2
    lines = acc.get_lines()
    assert [ln.get_label() for ln in lines] == ["exact", "char", "exact, ignoring case"]
    assert len({(ln.get_marker(), ln.get_markersize(), ln.get_linestyle()) for ln in lines}) == 3  # three lines at 0, all seen
    assert acc.get_ylim()[0] < 0  # a line at 0 is inside the frame
    learning_curves(ROWS, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_search_params_plot_draws_choices_as_categories_and_lr_on_a_plain_log_axis() -> None:
    fig = params_figure(TRIALS, SPACE)
    _drawn(fig)
    lr, beam, batch, bias = fig.axes
    assert lr.get_xscale() == "log" and lr.get_xlabel() == "lr (log scale)"
    assert all("$" not in t.get_text() for t in lr.get_xticklabels())
    assert [t.get_text() for t in beam.get_xticklabels()] == ["1", "3", "5", "10"]  # one column per choice, evenly
    assert list(beam.get_xticks()) == [0, 1, 2, 3]
    assert [t.get_text() for t in batch.get_xticklabels()] == ["32", "64", "128", "256"]
    xs = sorted(batch.collections[0].get_offsets()[:, 0])
    assert [round(x) for x in xs] == [1, 3]  # 64 and 256 in their columns (c3 has no score)
    assert bias.get_xscale() == "linear" and bias.get_xlabel() == "blank_bias"
    boxes = [t.get_window_extent() for t in lr.get_xticklabels() if t.get_text()]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])  # lr labels apart


def test_search_learning_curves_name_each_trial_by_its_values(tmp_path) -> None:
    curves = {"a1": [(1, 0.1), (2, 0.5)], "b2": [(1, 0.0), (2, 0.1)]}
    fig = search_curves_figure(TRIALS, SPACE, curves)
    _drawn(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "a1: lr=0.0031, beam_width=5, batch_size=64, blank_bias=-4",
        "b2: lr=0.0004, beam_width=1, batch_size=256, blank_bias=-12",
    ]
    assert all(float(t).is_integer() for t in ax.get_xticks() if 1 <= t <= 2)
    best = best_so_far_figure(TRIALS, ["b2", "a1", "c3"])
    assert [list(ln.get_ydata()) for ln in best.axes[0].get_lines()][1] == [10.0, 50.0]
    search_plots(tmp_path, TRIALS, SPACE, curves, ["a1", "b2", "c3"])
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["best_so_far.png", "learning_curves.png", "params.png"]


def test_assessment_plots_name_the_attacker() -> None:
    row = {"train_images": 100, "exact_acc": 0.4, "exact_ci": [0.3, 0.5]}
    fig = curve_figure({"base+semi": {"curve": [row, {**row, "train_images": 400}]}, "scratch": {"curve": [row]}}, "s: x")
    _drawn(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["base+semi", "scratch"] and ax.get_title() == "s: x"
    assert ax.get_xscale() == "log" and all("$" not in t.get_text() for t in ax.get_xticklabels())
    cov = coverage_figure({"strongest": "base+semi", "best": {"train_images": 400},
                           "coverage": [{"coverage": 1.0, "precision": 0.4}, {"coverage": 0.5, "precision": 0.7}]})  # fmt: skip
    assert cov.axes[0].get_title() == "base+semi on 400 labels"


def test_an_off_the_shelf_tool_is_a_level_with_its_interval_beside_the_curves() -> None:
    tool = {"curve": [{"train_images": 0, "exact_acc": 0.312, "exact_ci": [0.284, 0.341]}]}
    points = ((25, 0.1), (400, 0.8))
    trained = {"curve": [{"train_images": n, "exact_acc": e, "exact_ci": [e - 0.02, e + 0.02]} for n, e in points]}
    fig = curve_figure({"ddddocr": tool, "base+semi": trained})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ddddocr (no labels)", "base+semi"]
    level = next(line for line in ax.get_lines() if line.get_label() == "ddddocr (no labels)")
    assert all(y == pytest.approx(31.2) for y in level.get_ydata())  # across the axis, not a point at x = 0 on a log scale
    lo, hi = ax.get_xlim()
    assert lo < points[0][0] and points[-1][0] < hi
    plt.close(fig)
    alone = curve_figure({"ddddocr": tool})
    assert alone.axes[0].get_xlim() == pytest.approx((10, 10_000))  # the label counts an assessment would try
    plt.close(alone)
