"""How crnn assess plans its sizes and attackers, without Ray: the auto grid, the refinement that brackets
every labels-to-break within 2x, the "<= N" answer, the attackers' recipes and the strongest of them."""

import pytest

from crnn.config import apply_overrides, resolve_config
from crnn.errors import UserError
from tune.assess.attackers import BaseModel, build_attackers, parse_attackers, scheme_input_height
from tune.assess.report import _heading_text, strongest
from tune.assess.sizes import bracket_text, brackets, coarse_sizes, heading, parse_sizes, refine


def curve(*points: tuple[int, int]) -> list[dict]:
    """Rows of (size, correct of 100 test images)."""
    return [{"train_images": n, "repeat": 0, "test_correct": k, "test_count": 100} for n, k in points]


def test_the_auto_grid_starts_at_25_and_ends_with_the_whole_split():
    assert coarse_sizes(5000) == [25, 100, 400, 1600, 5000]
    assert coarse_sizes(100) == [25, 100]
    assert parse_sizes(None, 5000) is None and parse_sizes("auto", 5000) is None
    assert parse_sizes("400,100", 5000) == [100, 400]


def test_refinement_halves_every_bracket_wider_than_2x_until_none_is():
    first = curve((25, 0), (100, 0), (400, 60), (1600, 100))
    assert brackets(first) == {"0.01": [100, 400], "0.10": [100, 400], "0.50": [100, 400], "0.90": [400, 1600]}
    assert refine(first, [25, 100, 400, 1600]) == [200, 800]
    second = first + curve((200, 30), (800, 95))
    assert brackets(second)["0.01"] == [100, 200] and brackets(second)["0.90"] == [800, 1600]
    assert refine(second, [25, 100, 200, 400, 800, 1600]) == []  # every bracket within 2x: done


def test_a_rate_the_smallest_size_reaches_is_at_most_that_size():
    solved = curve((25, 99), (100, 100))
    assert brackets(solved)["0.90"] == [None, 25] and refine(solved, [25, 100]) == []
    assert bracket_text(None, 25) == "<= 25" and bracket_text(100, 200) == "101-200" and bracket_text(400, None) == "not reached"
    assert bracket_text(None, 0) == "0 (no labels)"  # an off-the-shelf tool that breaks the scheme
    assert brackets(curve((25, 0), (100, 0)))["0.01"] == [100, None]  # never reached: nothing to refine


def test_the_heading_extends_the_two_largest_sizes_on_the_log_axis():
    # 40% at 100, 60% at 400: 10 points a doubling, pooled over repeats; 90% three doublings past 400
    rising = curve((25, 10), (100, 40), (400, 50)) + curve((400, 70))
    h = heading(rising)
    assert (h["from"], h["to"]) == (100, 400) and h["exact"] == [0.4, 0.6] and h["gain_per_doubling"] == pytest.approx(0.1)
    assert h["labels"] == {"0.90": 3200}  # 1%, 10% and 50% are already passed
    assert "90% at about 3,200 labels" in _heading_text("base", {"heading": h}) and "limit" not in _heading_text(
        "base", {"heading": h}
    )
    flat = heading(curve((400, 66), (1600, 68)))  # 1 point a doubling: 90% is 22 doublings away
    assert flat["labels"]["0.90"] > 100 * 1600 and "the model rather than the labels is the limit" in _heading_text(
        "x", {"heading": flat}
    )
    falling = heading(curve((400, 66), (1600, 60)))
    assert falling["labels"] == {"0.90": None} and "no rise" in _heading_text("x", {"heading": falling})
    stuck = curve((500, 0), (4000, 0))
    assert heading(stuck)["labels"]["0.01"] is None  # hand rows say nothing of the plateau: read as having left it
    assert heading([{**r, "left_plateau_at": None} for r in stuck]) is None  # never left it: the recipe, not the scheme
    assert heading(curve((400, 66))) is None and _heading_text("x", {"heading": heading(curve((25, 99), (100, 100)))}) is None


def test_attackers_are_parsed_with_a_default_the_data_allows():
    assert parse_attackers(None, has_unlabeled=True) == ["base+semi"]
    assert parse_attackers(None, has_unlabeled=False) == ["base"]
    assert parse_attackers("scratch,base,scratch", has_unlabeled=False) == ["scratch", "base"]
    with pytest.raises(UserError, match="unknown attacker 'fixmatch'"):
        parse_attackers("scratch,fixmatch", has_unlabeled=True)
    with pytest.raises(UserError, match="semi attackers need unlabelled images"):
        parse_attackers("semi", has_unlabeled=False)


def test_each_attacker_changes_the_recipe_and_the_users_set_comes_last():
    base_model = {**resolve_config("base").to_dict()["model"], "hidden": 80}
    out = build_attackers(["scratch", "base", "semi", "base+semi"], resolve_config("cpu-fast"), ("train.semi.threshold=0.8",),
                          None, BaseModel("/m/base.pt", base_model), 300, (75, 200, 5, 1))  # fmt: skip
    assert out["scratch"].config == apply_overrides(resolve_config("cpu-fast"), {"train.semi.threshold": 0.8}).to_dict()
    assert (
        out["scratch"].config["train"]["semi"]["method"] == ""
        and out["scratch"].init_from is None
        and out["scratch"].unlabeled == 0
    )
    assert out["base"].config["model"]["hidden"] == 80 and out["base"].init_from == "/m/base.pt"
    assert out["base"].config["train"]["schedule"]["name"] == "onecycle" and out["base"].unlabeled == 0
    for name in ("semi", "base+semi"):
        train = out[name].config["train"]
        assert train["semi"]["method"] == "fixmatch" and train["eval"]["ema_decay"] > 0 and train["semi"]["unlabeled"] == 300
        assert train["semi"]["threshold"] == 0.8 and out[name].unlabeled == 300  # the user's --set over the attacker's 0.9


def test_large_images_are_read_at_a_smaller_input_height():
    model = resolve_config("cpu-fast").to_dict()["model"]
    assert scheme_input_height(model, 144, 256, 4) == 48  # 256x144 read at 85x48: T = 10 >= 7
    assert scheme_input_height(model, 75, 200, 5) == 0  # wheezy's size: read as it is
    assert scheme_input_height({**model, "input_height": 64}, 144, 256, 4) == 64  # the recipe's own choice kept
    assert scheme_input_height(model, 144, 160, 8) == 0  # 48 or 64 high leaves too few time steps for 8 characters
    assert scheme_input_height({**model, "crop": (38, 38, 0, 0)}, 144, 256, 4) == 0  # its 68-pixel band is read whole


def test_every_attacker_cuts_the_schemes_margins_unless_the_recipe_crops_itself():
    base_model = resolve_config("base").to_dict()["model"]
    args = (None, BaseModel("/m/base.pt", base_model), 0, (144, 256, 4, 1), (38, 38, 0, 0))
    out = build_attackers(["scratch", "base"], resolve_config("cpu-fast"), (), *args)
    assert out["scratch"].config["model"]["crop"] == out["base"].config["model"]["crop"] == (38, 38, 0, 0)
    assert out["scratch"].config["model"]["input_height"] == 0  # the 256x68 band is small enough to read as it is
    assert out["base"].config["model"]["input_height"] == 48  # the base model's input: the band at 181x48
    own = apply_overrides(resolve_config("cpu-fast"), {"model": {"crop": [10, 10, 0, 0]}})
    assert build_attackers(["scratch"], own, (), *args)["scratch"].config["model"]["crop"] == (10, 10, 0, 0)
    user = build_attackers(["base"], resolve_config("cpu-fast"), ("model.crop=[0,0,0,0]",), *args)
    assert user["base"].config["model"]["crop"] == (0, 0, 0, 0)  # the user's --set turns it off


def test_the_strongest_attacker_needs_the_fewest_labels_to_the_highest_rate():
    def attacker(ltb: list, best: float) -> dict:
        return {"labels_to_break": dict(zip(("0.01", "0.10", "0.50", "0.90"), ltb, strict=True)),
                "curve": [{"train_images": 400, "exact_acc": best}]}  # fmt: skip

    a = {"scratch": attacker([25, 100, 400, None], 0.8), "base": attacker([100, 400, 400, 400], 0.95)}
    assert strongest(a) == "base"  # reaches 90%, which scratch never does
    a = {"scratch": attacker([25, 100, None, None], 0.3), "semi": attacker([25, 100, None, None], 0.4)}
    assert strongest(a) == "semi"  # a tie on every rate: the better accuracy at the largest size
    assert strongest({"scratch": {"curve": [], "labels_to_break": {}}}) is None


def test_a_colour_scheme_is_read_in_colour_unless_the_user_says_otherwise():
    base = BaseModel("/m/base.pt", resolve_config("base").to_dict()["model"])
    names = ["scratch", "base", "base+semi"]
    colour = build_attackers(names, resolve_config("cpu-fast"), (), None, base, 100, (125, 260, 4, 3))
    assert all(colour[n].config["model"]["in_channels"] == 3 for n in names)  # the base attackers too
    grey = build_attackers(names, resolve_config("cpu-fast"), (), None, base, 100, (125, 260, 4, 1))
    assert all(grey[n].config["model"]["in_channels"] == 1 for n in names)
    luma = build_attackers(names, resolve_config("cpu-fast"), ("model.in_channels=1",), None, base, 100, (125, 260, 4, 3))
    assert all(luma[n].config["model"]["in_channels"] == 1 for n in names)  # the published greyscale runs' meaning
