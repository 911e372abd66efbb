"""The CRNN: images (B, C, H, W) in [0, 1] -> CTC log-probs (T, B, K). Pure: no device, loss or AMP.

The input's per-channel mean and std are buffers of the model (identity until ``fit`` measures the
training images when ``model.normalize`` is on), and ``model.input_height`` resizes the images inside
the model, so eval, predict and the exported ONNX graph all read images exactly as training did.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from crnn.config import POOLS, ModelConfig
from crnn.errors import UserError


def cropped_size(cfg: ModelConfig, height: int, width: int) -> tuple[int, int]:
    """(height, width) of the images once ``model.crop`` has cut their margins off."""
    top, bottom, left, right = cfg.crop
    return height - top - bottom, width - left - right


def input_size(cfg: ModelConfig, height: int, width: int) -> tuple[int, int]:
    """(height, width) the conv blocks see: the (cropped) images' own, or ``model.input_height`` with the aspect kept."""
    height, width = cropped_size(cfg, height, width)
    if not cfg.input_height:
        return height, width
    return cfg.input_height, max(1, round(width * cfg.input_height / height))


def feature_shape(cfg: ModelConfig, height: int, width: int) -> tuple[int, int]:
    """(height, width) of the last conv block's output for images of this size; the width is T."""
    height, width = input_size(cfg, height, width)
    for pool in cfg.pools:
        ph, pw = POOLS[pool]
        height, width = height // ph, width // pw
    return height, width


def check_time_steps(cfg: ModelConfig, height: int, width: int, max_label_len: int) -> int:
    """Refuse a model whose T cannot emit every label of ``max_label_len``.

    CTC has to put a blank between two equal neighbours ("aa" needs "a-a"), so the worst label of
    length L needs T >= 2L - 1 frames.
    """
    kept_h, kept_w = cropped_size(cfg, height, width)
    if min(kept_h, kept_w) < 8:
        raise UserError(
            f"model.crop {list(cfg.crop)}: leaves {kept_w}x{kept_h} of the "
            f"{width}x{height} images; crop less (top, bottom, left, right), keeping at least 8 pixels each way"
        )
    fh, t = feature_shape(cfg, height, width)
    if fh < 1 or t < 1:
        raise UserError(
            f"model.pools {list(cfg.pools)}: pool away the whole {width}x{height} image (read at "
            f"{'x'.join(map(str, input_size(cfg, height, width)[::-1]))}); use fewer or 2x1 pools or a larger model.input_height"
        )
    need = 2 * max_label_len - 1
    if t < need:
        raise UserError(
            f"model: {width}px wide images give T={t} time steps after pools {list(cfg.pools)}, but labels of "
            f"{max_label_len} characters need T >= {need} (a blank between repeated characters); "
            "use 2x1 pools, wider images or a larger model.input_height"
        )
    return t


class CRNN(nn.Module):
    def __init__(self, cfg: ModelConfig, num_classes: int, height: int, width: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_ch = cfg.in_channels
        self.register_buffer("in_mean", torch.zeros(in_ch))  # (C,)
        self.register_buffer("in_std", torch.ones(in_ch))  # (C,)
        for ch, pool in zip(cfg.channels, cfg.pools, strict=True):
            blocks += [
                nn.Conv2d(in_ch, ch, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(ch) if cfg.norm == "batch" else nn.GroupNorm(math.gcd(ch, 8), ch),
                nn.MaxPool2d(POOLS[pool]),  # before the ReLU: the same function (max commutes with it), on 1/4 of the values
                nn.ReLU(inplace=True),
            ]
            in_ch = ch
        self.cnn = nn.Sequential(*blocks)
        top, bottom, left, right = cfg.crop
        self.window = (top, height - bottom, left, width - right) if any(cfg.crop) else None  # rows, columns kept
        self.resize = input_size(cfg, height, width) if cfg.input_height else None  # (H', W') or None
        fh, _ = feature_shape(cfg, height, width)
        self.rnn = nn.LSTM(
            input_size=in_ch * fh,
            hidden_size=cfg.hidden,
            num_layers=cfg.lstm_layers,
            bidirectional=True,
            dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden, num_classes)
        with torch.no_grad():
            self.head.bias.zero_()
            self.head.bias[0] = cfg.blank_bias  # class 0 is the CTC blank

    def crop(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) without the margins ``model.crop`` cuts: (B, C, H - top - bottom, W - left - right)."""
        if self.window is None:
            return images
        y0, y1, x0, x1 = self.window
        return images[:, :, y0:y1, x0:x1]

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """What the conv blocks read: images (B, C, H, W) in [0, 1], cropped, resized and normalised as the model's own."""
        images = self.crop(images)
        if self.resize is not None:
            images = F.interpolate(images, size=self.resize, mode="bilinear", align_corners=False)  # (B, C, H', W')
        return (images - self.in_mean.view(1, -1, 1, 1)) / self.in_std.view(1, -1, 1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        f = self.cnn(self.prepare(images))  # (B, C', H', T)
        b, c, h, t = f.shape
        f = f.reshape(b, c * h, t).permute(2, 0, 1)  # (T, B, C'*H')
        f, _ = self.rnn(f)  # (T, B, 2*hidden)
        logits = self.head(self.drop(f))  # (T, B, K)
        return logits.float().log_softmax(-1)  # (T, B, K), fp32 even under autocast: CTC needs it

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Checkpoints written before input normalisation existed have no mean/std: identity, as they trained."""
        state_dict = dict(state_dict)
        for key in ("in_mean", "in_std"):
            state_dict.setdefault(key, getattr(self, key))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    @torch.no_grad()
    def set_input_stats(self, images: torch.Tensor) -> None:
        """Normalise by these images' per-channel mean and std: (N, C, H, W) in [0, 1], margins cut off."""
        images = self.crop(images)
        self.in_mean.copy_(images.mean(dim=(0, 2, 3)))
        self.in_std.copy_(images.std(dim=(0, 2, 3)).clamp_min(1e-3))


def build_model(cfg: ModelConfig, num_classes: int, height: int, width: int, max_label_len: int) -> CRNN:
    check_time_steps(cfg, height, width, max_label_len)
    return CRNN(cfg, num_classes, height, width)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
