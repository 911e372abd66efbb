"""research/glyph_ceiling.py: glyphs cut as the image cuts them, and the ceiling arithmetic."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SPEC = importlib.util.spec_from_file_location("glyph_ceiling", Path(__file__).parents[1] / "glyph_ceiling.py")
glyph_ceiling = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(glyph_ceiling)


@pytest.mark.parametrize("height", [40, 64])
def test_glyphs_keep_only_the_rows_the_image_keeps(height):
    x, y = glyph_ceiling.render_glyphs("vVjO", 4, seed=0, width=150, height=height)  # (16, 5, 80, 48)
    top = (x.shape[2] - height) // 2
    assert x.shape == (16, 5, 80, 48) and list(y) == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert not x[:, :, :top].any() and not x[:, :, top + height :].any()  # ink and box alike: nothing the image cuts
    assert all(x[i, 3].any() and x[i, 4].any() for i in range(16))  # every glyph has ink and a box
    again, _ = glyph_ceiling.render_glyphs("vVjO", 4, seed=0, width=150, height=height)
    other, _ = glyph_ceiling.render_glyphs("vVjO", 4, seed=1, width=150, height=height)
    assert np.array_equal(x, again) and not np.array_equal(x, other)  # seeded


def test_a_tall_glyph_loses_rows_at_40_that_it_keeps_at_64():
    tall = [glyph_ceiling.render_glyphs("j", 8, seed=0, width=150, height=h)[0][:, 4].sum(axis=(1, 2)) for h in (40, 64)]
    assert (tall[0] < tall[1]).any() and (tall[0] <= tall[1]).all()


def test_ceiling_counts_case_confusions_only_with_case():
    exact, nocase = glyph_ceiling.ceiling({"v": 0.1, "V": 0.1, "0": 0.05}, {"v": 0.1, "V": 0.1}, "0123456789vV", 5)
    assert exact == pytest.approx((1 - 0.25 / 12) ** 5) and nocase == pytest.approx((1 - 0.05 / 12) ** 5)
