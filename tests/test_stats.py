import pytest

from crnn.stats import labels_to_break, precision_coverage, threshold_for_precision, wilson


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [  # worked by hand from the closed form (z = 1.96)
        (0, 10, 0.0, 0.27753),
        (10, 10, 0.72247, 1.0),
        (5, 10, 0.23659, 0.76341),
        (53, 100, 0.43289, 0.62489),
        (1, 1000, 0.00017654, 0.0056488),
    ],
)
def test_wilson_interval_on_hand_cases(k, n, lo, hi):
    a, b = wilson(k, n)
    assert a == pytest.approx(lo, abs=2e-5) and b == pytest.approx(hi, abs=2e-5)
    assert a <= k / n <= b


def test_precision_coverage_on_hand_made_confidences():
    conf = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    ok = [True, True, True, False, True, False, False, False]
    rows = {r["coverage"]: r for r in precision_coverage(conf, ok, (1.0, 0.5, 0.25))}
    assert rows[1.0] == {"coverage": 1.0, "answered": 8, "threshold": 0.2, "precision": 0.5}
    assert rows[0.5] == {"coverage": 0.5, "answered": 4, "threshold": 0.6, "precision": 0.75}
    assert rows[0.25] == {"coverage": 0.25, "answered": 2, "threshold": 0.8, "precision": 1.0}
    assert threshold_for_precision(conf, ok, 0.95) == {"threshold": 0.7, "coverage": 3 / 8, "precision": 1.0}
    assert threshold_for_precision(conf, ok, 0.8) == {"threshold": 0.5, "coverage": 5 / 8, "precision": 0.8}
    assert threshold_for_precision([0.5, 0.4], [False, False], 0.5) is None


def test_a_threshold_keeps_every_answer_at_its_confidence():
    # two answers tie at 0.9, one right and one wrong: no threshold yields 100%
    assert threshold_for_precision([0.9, 0.9, 0.1], [True, False, False], 0.99) is None


def test_labels_to_break_uses_the_lower_bound_and_pools_repeats():
    curve = [
        {"train_images": 250, "test_correct": 1, "test_count": 1000},  # 0.1%: lower bound < 1%
        {"train_images": 1000, "test_correct": 30, "test_count": 1000},  # 3%: lower ~2.1%
        {"train_images": 4000, "test_correct": 520, "test_count": 1000},
        {"train_images": 4000, "test_correct": 540, "test_count": 1000},  # pooled 53%: lower ~50.8%
        {"train_images": 16000, "test_correct": 880, "test_count": 1000},  # 88%: lower < 90%
    ]
    assert labels_to_break(curve) == {"0.01": 1000, "0.10": 4000, "0.50": 4000, "0.90": None}
    values = [v for v in labels_to_break(curve).values() if v is not None]
    assert values == sorted(values)  # monotone in the threshold
