import math

import pytest
import torch

from crnn.decode import beam_search, beam_search_reference, decode, greedy_decode


def frames(*rows: list[float]) -> torch.Tensor:
    """Per-frame probabilities (T rows of K) -> log-probs (T, 1, K)."""
    return torch.tensor(rows, dtype=torch.float64).log().unsqueeze(1).float()


def test_greedy_merges_repeats_and_drops_blanks():
    # best path: a a - a b b -> "aab" (classes: 0 blank, 1 a, 2 b)
    lp = frames([0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8])
    ids, conf = greedy_decode(lp)
    assert ids == [[1, 1, 2]]
    assert conf[0] == pytest.approx(0.8**6, rel=1e-5)


def test_beam_sums_alignments_where_greedy_takes_one_path():
    # two frames, blank 0.6, a 0.4: best path "--" -> "" (0.36); but P("a") = 0.24 + 0.24 + 0.16 = 0.64
    lp = frames([0.6, 0.4], [0.6, 0.4])
    assert greedy_decode(lp)[0] == [[]]
    ids, conf = beam_search(lp, beam_width=2)
    assert ids == [[1]]
    assert conf[0] == pytest.approx(0.64, rel=1e-5)


def test_beam_keeps_repeated_characters_apart_only_through_a_blank():
    # 3 frames, blank 0.5, a 0.5: of the 8 equally likely paths "---" gives "", only "a-a" gives "aa"
    # (a blank must separate the two), and the other 6 (aaa, aa-, -aa, a--, -a-, --a) collapse to "a"
    lp = frames([0.5, 0.5], [0.5, 0.5], [0.5, 0.5])
    ids, conf = beam_search(lp, beam_width=3)
    p_a = 6 / 8
    assert ids == [[1]] and conf[0] == pytest.approx(p_a, rel=1e-5)
    ref_ids, ref_conf = beam_search_reference(lp, 3)
    assert ref_ids == ids and ref_conf[0] == pytest.approx(p_a, rel=1e-5)


def test_beam_width_one_decodes_the_best_path_and_wider_beams_do_not():
    # blank 0.6, a 0.4 on two frames: the best path is "" (0.36), the most probable label "a" (0.64)
    lp = frames([0.6, 0.4], [0.6, 0.4])
    assert decode(lp, 1) == ([[]], [pytest.approx(0.36, rel=1e-5)])
    assert decode(lp, 2) == ([[1]], [pytest.approx(0.64, rel=1e-5)])


@pytest.mark.parametrize("k_cls", [2, 3, 5, 37, 63])
@pytest.mark.parametrize("width", [2, 3, 5, 10])
def test_batched_beam_equals_textbook_beam(k_cls, width):
    g = torch.Generator().manual_seed(k_cls * 100 + width)
    lp = (torch.randn(12, 24, k_cls, generator=g) * 3).log_softmax(-1)
    ids, conf = beam_search(lp, width)
    ref_ids, ref_conf = beam_search_reference(lp, width)
    assert ids == ref_ids
    for a, b in zip(conf, ref_conf, strict=True):
        assert math.isclose(a, b, rel_tol=1e-4)
