"""The attackers ``crnn assess`` measures a scheme against, each a recipe built on the user's:

    scratch     the recipe as given, from random weights (or from --init-from)
    base        the published base model (results/base) adapted to the scheme: its architecture, its
                weights, the head mapped to the scheme's characters; one-cycle schedule, weight average
    semi        scratch + FixMatch on the dataset's unlabelled images (an EMA teacher's confident
                whole-string answers learnt on a strong view)
    base+semi   both: the attacker the literature describes (GeeSolver: 500 labels + 5,000 unlabelled)
    ddddocr     a free OCR off the shelf, no labels (``tune.assess.offtheshelf``; optional, never the default)

Every trained attacker reads a colour scheme in colour (``model.in_channels=3``): from the base that was
worth 3 points on ``kaptcha`` at 400 labels and 7 on the 256x144 clutter scheme at 25, and it did not hurt
``multicolorcaptcha`` (docs/assess-results.md). The user's ``--set`` overrides come last, so any attacker's
choice can be changed (``--set model.in_channels=1`` reads the luma).
"""

from __future__ import annotations

from dataclasses import dataclass

from crnn.config import RunConfig, apply_overrides, parse_set
from crnn.errors import UserError
from crnn.model import check_time_steps, cropped_size
from tune.assess import offtheshelf
from tune.assess.offtheshelf import OFF_THE_SHELF

ATTACKERS = ("scratch", "base", "semi", "base+semi")
LARGE_HEIGHT = 96  # images taller than this are read at a smaller model input (item: an input size for the scheme)
INPUT_HEIGHTS = (48, 64)  # the heights tried for them, smallest first

# What a base-model attacker changes in the recipe (measured on wheezy at 500 labels, results/wheezy-500):
# one-cycle over the run's epochs beat plateau scheduling, which halves the rate to nothing within minutes
# of 16-step epochs; the weight average makes the teacher FixMatch needs and a steadier model to score.
FINE_TUNE = {"train.schedule.name": "onecycle", "train.early_stop_patience": 0, "train.eval.ema_decay": 0.99}
# What a semi-supervised attacker adds: FixMatch, the 0.9 threshold that kept 41-44% of wheezy's pool.
SEMI = {"train.semi.method": "fixmatch", "train.semi.threshold": 0.9}


@dataclass(frozen=True)
class Attacker:
    name: str
    config: dict  # RunConfig.to_dict()
    init_from: str | None  # a checkpoint path, or None: random weights
    unlabeled: int  # unlabelled images its runs learn from (0: labels only)


def describe(name: str, attacker: dict) -> str:
    """One phrase for a report: where an attacker's runs start and what they learn from."""
    if name in OFF_THE_SHELF:
        return offtheshelf.describe(name)
    if name.startswith("base"):
        start = "from the base model"
    else:
        start = f"from `{attacker['init_from']}`" if attacker.get("init_from") else "from scratch"
    unlabeled = attacker.get("unlabeled", 0)
    return start + (f" + {unlabeled} unlabelled images (FixMatch)" if unlabeled else ", labels only")


def parse_attackers(text: str | None, has_unlabeled: bool) -> list[str]:
    """``--attackers``: a comma-separated subset of ATTACKERS; by default the strongest the data allows."""
    if text is None:
        return ["base+semi"] if has_unlabeled else ["base"]
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in ATTACKERS + OFF_THE_SHELF]
    if bad or not names:
        raise UserError(
            f"--attackers {text!r}: unknown attacker {bad[0] if bad else '(none)'!r}; "
            f"accepted: {', '.join(ATTACKERS + OFF_THE_SHELF)}"
        )
    for name in names:
        if name in OFF_THE_SHELF:
            offtheshelf.check_available(name)
    if not has_unlabeled and any("semi" in n for n in names):
        raise UserError(
            f"--attackers {text}: semi attackers need unlabelled images, and this dataset has no unlabeled split "
            "(add one with `crnn data import SRC --unlabeled DIR` or `crnn data synth --unlabeled N`)"
        )
    return list(dict.fromkeys(names))


def scheme_input_height(model: dict, height: int, width: int, max_len: int) -> int:
    """The model input height for a scheme's images: their own (less the margins ``model.crop`` cuts),
    unless that is taller than LARGE_HEIGHT and the recipe sets none; then the smallest of INPUT_HEIGHTS
    that still gives every label its time steps (aspect kept; the model resizes, so eval, predict and
    ONNX read the same)."""
    if model.get("input_height") or cropped_size(RunConfig.from_dict({"model": model}).model, height, width)[0] <= LARGE_HEIGHT:
        return int(model.get("input_height") or 0)
    for h in INPUT_HEIGHTS:
        try:
            check_time_steps(RunConfig.from_dict({"model": {**model, "input_height": h}}).model, height, width, max_len)
        except UserError:
            continue
        return h
    return 0


@dataclass(frozen=True)
class BaseModel:
    """The published base model the ``base`` attackers start from."""

    path: str  # its checkpoint
    model: dict  # its config's model section: the architecture they adopt


def build_attackers(
    names: list[str],
    recipe: RunConfig,
    sets: tuple[str, ...],
    init_from: str | None,
    base: BaseModel | None,
    unlabeled: int,
    scheme: tuple[int, int, int, int],
    margins: tuple[int, ...] = (0, 0, 0, 0),
) -> dict[str, Attacker]:
    """Each attacker's config: the recipe, the attacker's changes, then the user's ``--set``.
    ``base``: needed by the base attackers; ``scheme``: (height, width, longest label, channels: 3 for colour);
    ``margins``: the scheme's constant margins (crnn.data.margins), cut off unless the recipe crops itself."""
    height, width, max_len, channels = scheme
    colour = {"model.in_channels": 3} if channels == 3 else {}
    user = parse_set(list(sets)) if sets else {}
    out = {}
    for name in names:
        if name in OFF_THE_SHELF:  # its own model: the recipe is kept only so that every entry has a config
            out[name] = Attacker(name, recipe.to_dict(), None, 0)
            continue
        config = recipe
        if not any(config.model.crop):
            config = apply_overrides(config, {"model": {"crop": margins}})
        if name.startswith("base"):
            assert base is not None, "the base model is resolved for base attackers"
            config = apply_overrides(config, {"model": {**base.model, "crop": config.model.crop}, **FINE_TUNE})
        else:
            model = config.to_dict()["model"]
            config = apply_overrides(config, {"model": {"input_height": scheme_input_height(model, height, width, max_len)}})
        if name.endswith("semi"):
            ema = config.train.eval.ema_decay or FINE_TUNE["train.eval.ema_decay"]  # FixMatch's teacher is the average
            config = apply_overrides(config, {**SEMI, "train.eval.ema_decay": ema, "train.semi.unlabeled": unlabeled})
        config = apply_overrides(apply_overrides(config, colour), user)
        start = base.path if base is not None and name.startswith("base") else init_from
        out[name] = Attacker(name, config.to_dict(), start, unlabeled if config.train.semi.method else 0)
    return out
