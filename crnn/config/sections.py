"""The typed config sections: ``model``, and ``train`` with its ``data``, ``optim``, ``schedule``,
``eval`` and ``semi`` parts. Each field's comment is its meaning in ``crnn config keys``."""

from __future__ import annotations

from dataclasses import dataclass, field

AUGMENT_OPS = ("affine", "rotate", "perspective", "elastic", "lines", "contrast", "noise")  # crnn.data.augment
POOLS = {"2x2": (2, 2), "2x1": (2, 1), "1x1": (1, 1)}  # (height, width) of each block's max-pool


@dataclass(frozen=True)
class ModelConfig:
    """The CRNN: conv blocks -> bidirectional LSTM -> linear head over the classes + blank."""

    channels: tuple[int, ...] = (64, 128, 256)  # one conv block per entry; the reference's widths
    pools: tuple[str, ...] = ("2x2", "2x2", "2x2")  # 150 wide / 8 = 18 time steps, as in the reference
    hidden: int = 128  # LSTM units per direction; the reference's 2 x 128 = 256 outputs
    lstm_layers: int = 2  # the reference's 2-layer BiLSTM
    dropout: float = 0.0  # between LSTM layers and before the head
    norm: str = "batch"  # batch (the reference's) | group: GroupNorm, the same for any per-worker batch size
    blank_bias: float = 0.0  # initial bias of the blank logit; negative fights the all-blank plateau
    in_channels: int = 1  # 1: greyscale input (colour datasets are converted); 3: RGB, needs a colour dataset
    normalize: bool = False  # subtract the training images' mean and divide by their std, stored in the model
    input_height: int = 0  # >0: the model resizes every image to this height, aspect kept (0: the images' own size)
    crop: tuple[int, ...] = (0, 0, 0, 0)  # pixels cut off the top, bottom, left, right first: margins outside the text band

    def __post_init__(self) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"model.channels {self.channels}: give one positive width per conv block")
        if len(self.pools) != len(self.channels):
            raise ValueError(
                f"model.pools has {len(self.pools)} entries but model.channels has {len(self.channels)}: one pool per block"
            )
        bad = [p for p in self.pools if p not in POOLS]
        if bad:
            raise ValueError(f"model.pools: {bad[0]!r} is not a pool; accepted: {', '.join(POOLS)}")
        if self.hidden < 1 or self.lstm_layers < 1:
            raise ValueError("model.hidden and model.lstm_layers must be at least 1")
        if self.norm not in ("batch", "group"):
            raise ValueError(f"model.norm {self.norm!r}: accepted: batch, group")
        if self.in_channels not in (1, 3):
            raise ValueError(f"model.in_channels {self.in_channels}: accepted: 1 (greyscale), 3 (RGB)")
        if self.input_height < 0 or 0 < self.input_height < 8:
            raise ValueError(f"model.input_height {self.input_height}: 0 (the images' own size) or at least 8 pixels")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout {self.dropout}: must be in [0, 1)")
        if len(self.crop) != 4 or any(c < 0 for c in self.crop):
            raise ValueError(f"model.crop {list(self.crop)}: four pixel counts >= 0 (top, bottom, left, right), e.g. [40,40,0,0]")


@dataclass(frozen=True)
class DataConfig:
    """Which training images a run sees: the stored split, a subset of it, endless epochs, or fresh renders."""

    train_samples: int = 0  # train on the first N training images only; 0 = all (quick searches use a subset)
    epoch_images: int = 0  # >0: an epoch is this many images, streamed through reshuffled passes of a large train split
    synth_per_epoch: int = 0  # >0: render this many fresh training images every epoch (synthesized datasets)
    synth_workers: int = 1  # processes rendering the fresh images; 0 = in the training process
    synth_focus: str = ""  # characters fresh images oversample (e.g. "0O", a look-alike pair); "" = the task's own mix
    synth_focus_share: float = 0.5  # with synth_focus: the share of fresh images given one of them at a random position

    def __post_init__(self) -> None:
        if self.train_samples < 0 or self.synth_per_epoch < 0 or self.synth_workers < 0 or self.epoch_images < 0:
            raise ValueError("train.data.train_samples, .synth_per_epoch, .synth_workers and .epoch_images cannot be negative")
        if self.synth_per_epoch and self.epoch_images:
            raise ValueError(
                "train.data.synth_per_epoch and train.data.epoch_images: set one; fresh images make their own epochs"
            )
        if self.synth_per_epoch and self.train_samples:
            raise ValueError(
                "train.data.synth_per_epoch and train.data.train_samples: set one; fresh images replace the train split"
            )
        if self.synth_focus and not self.synth_per_epoch:
            raise ValueError("train.data.synth_focus: oversamples fresh images, so it needs train.data.synth_per_epoch > 0")
        if len(set(self.synth_focus)) != len(self.synth_focus):
            raise ValueError(f"train.data.synth_focus {self.synth_focus!r}: list each character once")
        if not 0.0 < self.synth_focus_share <= 1.0:
            raise ValueError(f"train.data.synth_focus_share {self.synth_focus_share}: must be in (0, 1], e.g. 0.5")


@dataclass(frozen=True)
class OptimConfig:
    """The optimiser and its step."""

    name: str = "adam"  # adam | adamw | sgd (momentum 0.9)
    lr: float = 1e-3  # Adam's usual start; the reference did not say
    weight_decay: float = 0.0  # AdamW's decoupled decay; 0 keeps Adam plain
    grad_clip: float = 5.0  # max gradient norm; the reference clipped "for safety"

    def __post_init__(self) -> None:
        if self.name not in ("adam", "adamw", "sgd"):
            raise ValueError(f"train.optim.name {self.name!r}: accepted: adam, adamw, sgd")
        if not self.lr > 0:
            raise ValueError(f"train.optim.lr {self.lr}: must be positive")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("train.optim.weight_decay and train.optim.grad_clip cannot be negative")


@dataclass(frozen=True)
class ScheduleConfig:
    """How the learning rate moves over the run."""

    name: str = "plateau"  # plateau (ReduceLROnPlateau on val loss) | onecycle
    patience: int = 3  # plateau: epochs without a lower val loss before a cut; the reference's 3
    factor: float = 0.5  # plateau: halve the learning rate when val loss stalls
    warmup_steps: int = 0  # linear warmup before the schedule; helps leave the CTC blank plateau

    def __post_init__(self) -> None:
        if self.name not in ("plateau", "onecycle"):
            raise ValueError(f"train.schedule.name {self.name!r}: accepted: plateau, onecycle")
        if self.patience < 0 or self.warmup_steps < 0:
            raise ValueError("train.schedule.patience and train.schedule.warmup_steps cannot be negative")
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"train.schedule.factor {self.factor}: must be in (0, 1), e.g. 0.5")


@dataclass(frozen=True)
class EvalConfig:
    """How each epoch is scored, and which weights are scored."""

    beam_width: int = 5  # decoding at evaluation; 1 = greedy. The reference's k = 5
    samples: int = 0  # cap on val samples scored per epoch; 0 = the whole split
    ema_decay: float = 0.0  # >0: evaluate, select and save a moving average of the weights (e.g. 0.999); 0 = off

    def __post_init__(self) -> None:
        if self.beam_width < 1:
            raise ValueError(f"train.eval.beam_width {self.beam_width}: must be at least 1 (1 = greedy)")
        if self.samples < 0:
            raise ValueError(f"train.eval.samples {self.samples}: cannot be negative; 0 scores the whole val split")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"train.eval.ema_decay {self.ema_decay}: must be in [0, 1), e.g. 0.999; 0 turns it off")


@dataclass(frozen=True)
class SemiConfig:
    """Learning from the unlabelled split."""

    method: str = ""  # "" off | fixmatch (an EMA teacher labels the unlabeled split each step) | pseudo (rounds of pseudo-labels)
    threshold: float = 0.95  # the confidence a pseudo-label needs (GeeSolver's 0.95), as the gate measures it
    gate: str = "string"  # string: the best path's probability | char: every character's own (GeeSolver's per character)
    weight: float = 1.0  # the unlabelled loss's weight against the labelled loss
    rampup: int = 5  # epochs over which that weight ramps up linearly from 0
    ratio: float = 1.0  # unlabelled images per labelled image in a step
    strong_ops: tuple[str, ...] = ("perspective", "rotate", "lines", "noise")  # fixmatch: the student's view
    round_epochs: int = 5  # pseudo: epochs per round; the scored model relabels the pool after each
    unlabeled: int = 0  # use the first N unlabelled images only; 0 = all
    align: bool = False  # distribution alignment: rescale the teacher's characters so their mix matches the labels'

    def __post_init__(self) -> None:
        if self.method not in ("", "fixmatch", "pseudo"):
            raise ValueError(f"train.semi.method {self.method!r}: accepted: fixmatch, pseudo, or empty (off)")
        if self.gate not in ("string", "char"):
            raise ValueError(f"train.semi.gate {self.gate!r}: accepted: string, char")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"train.semi.threshold {self.threshold}: must be in (0, 1], e.g. 0.95")
        if self.weight < 0 or self.rampup < 0 or self.unlabeled < 0:
            raise ValueError("train.semi.weight, train.semi.rampup and train.semi.unlabeled cannot be negative")
        if self.ratio <= 0 or self.round_epochs < 1:
            raise ValueError("train.semi.ratio must be positive and train.semi.round_epochs at least 1")
        _check_ops("train.semi.strong_ops", self.strong_ops)


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop. Defaults are the reference's where it gave one."""

    epochs: int = 50  # the reference's final run
    batch_size: int = 64  # the global batch, split over the workers; the reference's final run
    seed: int = 0  # model init, shuffling and augmentation
    amp: str = "auto"  # auto (CUDA: bf16 if supported else fp16; CPU: bf16 with AMX or AVX512-BF16, else off) | off | fp16 | bf16
    channels_last: bool = True  # 1.25x on CPU convolutions, measured on the reference model
    early_stop_patience: int = 8  # epochs without a better val exact accuracy before stopping; 0 = never
    augment: bool = False  # random views of each training batch, made of augment_ops
    augment_ops: tuple[str, ...] = ("perspective",)  # what augment applies (crnn.data.augment); the best alone in results/
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    semi: SemiConfig = field(default_factory=SemiConfig)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs {self.epochs}: must be at least 1")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size {self.batch_size}: must be at least 1")
        if self.amp not in ("auto", "off", "fp16", "bf16"):
            raise ValueError(f"train.amp {self.amp!r}: accepted: auto, off, fp16, bf16")
        if self.early_stop_patience < 0:
            raise ValueError("train.early_stop_patience cannot be negative")
        if self.semi.method == "fixmatch" and not self.eval.ema_decay:
            raise ValueError(
                "train.semi.method=fixmatch: the teacher is the weight average; set train.eval.ema_decay (e.g. 0.99)"
            )
        _check_ops("train.augment_ops", self.augment_ops)


def _check_ops(key: str, ops: tuple[str, ...]) -> None:
    bad = [op for op in ops if op not in AUGMENT_OPS]
    if bad or not ops:
        raise ValueError(f"{key}: {bad[0] if bad else '[]'!r} is not an op; accepted: {', '.join(AUGMENT_OPS)}")
