import pytest

from crnn.metrics import confusions, levenshtein, pair_rates, sequence_metrics, substitutions


def test_levenshtein_hand_cases():
    assert levenshtein("abcde", "abcde") == 0
    assert levenshtein("abcde", "abxde") == 1
    assert levenshtein("abde", "abcde") == 1
    assert levenshtein("", "abc") == 3
    assert levenshtein("kitten", "sitting") == 3


def test_sequence_metrics_hand_checked():
    preds = ["abcde", "abxde", "abde", ""]
    targets = ["abcde", "abcde", "abcde", "abcde"]
    m = sequence_metrics(preds, targets)
    assert m["exact_acc"] == pytest.approx(1 / 4)
    # positional hits: 5, 4, 2 ("ab" then "d"!="c", "e"!="d"), 0 -> 11 of 20
    assert m["char_acc"] == pytest.approx(11 / 20)
    assert m["edit_distance"] == pytest.approx((0 + 1 + 1 + 5) / 4)
    assert m["cer"] == pytest.approx(7 / 20)
    assert m["count"] == 4


def test_case_insensitive_figures():
    m = sequence_metrics(["oOxWz", "abcde"], ["OoXwZ", "abcdE"])
    assert m["exact_acc"] == 0.0
    assert m["exact_acc_nocase"] == 1.0
    assert m["char_acc"] == pytest.approx(4 / 10)
    assert m["char_acc_nocase"] == 1.0


def test_confusions_count_substitutions_only():
    assert substitutions("abxde", "abcde") == [("c", "x")]
    assert substitutions("abde", "abcde") == []  # a deletion, not a substitution
    assert substitutions("ba", "ab") == [("a", "b"), ("b", "a")]  # a tie: two substitutions, not a delete and an insert
    assert substitutions("axcd", "abcde") == [("b", "x")]  # a substitution and a dropped last character
    assert substitutions("0O1lI", "O01Il") == [("O", "0"), ("0", "O"), ("I", "l"), ("l", "I")]
    assert substitutions("", "abc") == [] and substitutions("abc", "") == []
    top = confusions(["Oa", "Ob", "xo", "xO"], ["oa", "ob", "xO", "xO"])  # (predicted, true)
    assert top == [("o", "O", 2), ("O", "o", 1)]  # (true, predicted, count)


def test_pair_rates_divide_by_the_true_characters_occurrences():
    # O occurs 3 times in the labels and is read as 0 twice; o once, read as O; the dropped x is no substitution
    rates = pair_rates(["0a0O", "O", "ab"], ["OaOO", "o", "axb"])
    assert rates == [
        {"true": "O", "pred": "0", "count": 2, "of": 3, "rate": 2 / 3},
        {"true": "o", "pred": "O", "count": 1, "of": 1, "rate": 1.0},
    ]
    assert pair_rates(["ab"], ["ab"]) == []
