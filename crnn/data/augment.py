"""Random views of a training batch: (B, C, H, W) in [0, 1] -> same shape, still in [0, 1].

Labels never change: every op keeps all characters inside the image and in their order. The
geometric ops (affine, rotate, perspective, elastic) share one sampling grid and one resample;
the photometric ones (lines, contrast, noise) act on the pixels after it. All randomness comes
from one ``torch.Generator`` on the CPU, so a seeded epoch gives the same views on any device.

    affine       scale +-8%, shear +-0.15, shift +-5% of the width, +-10% of the height
    rotate       +-6 degrees
    perspective  a keystone warp of up to 6% at the corners
    elastic      a smooth random displacement field of up to 1.5% of the size
    lines        1-2 dark strokes across the image, like the noise curves of many schemes
    contrast     brightness +-0.15 and contrast x0.6-1.4 around the image mean
    noise        Gaussian pixel noise, sigma up to 0.06
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(gen: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=gen) * 2 - 1  # in [-1, 1], on the CPU


def _grid(ops: tuple[str, ...], b: int, h: int, w: int, gen: torch.Generator | None) -> torch.Tensor | None:
    """A (B, H, W, 2) sampling grid in [-1, 1] coordinates, or None when no geometric op is on."""
    if not {"affine", "rotate", "perspective", "elastic"} & set(ops):
        return None
    theta = torch.eye(2, 3).repeat(b, 1, 1)  # (B, 2, 3)
    if "affine" in ops:
        r = _uniform(gen, b, 4)
        scale = 1 + 0.08 * r[:, 0]
        theta[:, 0, 0] = scale
        theta[:, 0, 1] = 0.15 * r[:, 1]
        theta[:, 1, 1] = scale
        theta[:, 0, 2] = 0.05 * r[:, 2]
        theta[:, 1, 2] = 0.10 * r[:, 3]
    if "rotate" in ops:
        a = _uniform(gen, b) * math.radians(6)
        # rotate in pixel space: the grid is normalised per axis, so scale by the aspect ratio
        rot = torch.zeros(b, 2, 2)
        rot[:, 0, 0], rot[:, 0, 1] = a.cos(), -a.sin() * h / w
        rot[:, 1, 0], rot[:, 1, 1] = a.sin() * w / h, a.cos()
        theta[:, :, :2] = theta[:, :, :2] @ rot
    ys, xs = (torch.arange(h) * 2 + 1) / h - 1, (torch.arange(w) * 2 + 1) / w - 1  # pixel centres (align_corners=False)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    base = torch.stack([xx, yy, torch.ones_like(xx)], -1).reshape(1, h * w, 3)  # (1, HW, 3)
    grid = (base @ theta.transpose(1, 2)).reshape(b, h, w, 2)  # (B, H, W, 2)
    if "perspective" in ops:
        g = _uniform(gen, b, 2) * 0.06  # (B, 2): the x and y terms of the homography's last row
        denom = 1 + g[:, 0, None, None] * xx + g[:, 1, None, None] * yy  # (B, H, W)
        grid = grid / denom.unsqueeze(-1)
    if "elastic" in ops:
        field = _uniform(gen, b, 2, 3, 6) * 0.03  # (B, 2, 3, 6): a coarse field, upsampled to be smooth
        grid = grid + F.interpolate(field, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    return grid


def _lines(images: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    b, _, h, w = images.shape
    out = images
    ys, xs = torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)
    for k in range(2):
        r = torch.rand(b, 6, generator=gen)  # end points, thickness, whether to draw
        keep = r[:, 5] < 0.5 if k == 1 else torch.ones(b, dtype=torch.bool)  # a second line half the time
        x0, y0, x1, y1 = r[:, 0] * 0.3 * w, r[:, 1] * h, (0.7 + r[:, 2] * 0.3) * w, r[:, 3] * h  # left to right
        dx, dy = (x1 - x0)[:, None, None], (y1 - y0)[:, None, None]
        dist = (dx * (y0[:, None, None] - ys[None, :, None]) - dy * (x0[:, None, None] - xs[None, None, :])).abs()
        dist = dist / (dx**2 + dy**2).sqrt().clamp_min(1e-6)  # (B, H, W): pixel distance to the line
        thick = 0.6 + r[:, 4, None, None] * max(h / 40, 1.0)
        mask = (dist < thick) & keep[:, None, None]
        out = torch.where(mask.unsqueeze(1).to(out.device), out * 0.25, out)
    return out


def augment(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    ops: tuple[str, ...] = ("perspective",),
    crop: tuple[int, ...] = (0, 0, 0, 0),
) -> torch.Tensor:
    """A random view of each image in ``images`` (B, C, H, W) in [0, 1], made of ``ops``. With ``crop``
    (the model's margins: top, bottom, left, right) only the part the model reads is transformed, so a
    rotation or shift never moves characters into a margin the model cuts off."""
    if any(crop):
        top, bottom, left, right = crop
        h, w = images.shape[-2:]
        out = images.clone()
        out[:, :, top : h - bottom, left : w - right] = augment(images[:, :, top : h - bottom, left : w - right], generator, ops)
        return out
    b, _, h, w = images.shape
    out = images
    grid = _grid(ops, b, h, w, generator)
    if grid is not None:
        # pad with white: the background of nearly every CAPTCHA is light
        grid = grid.to(images.device, images.dtype)
        out = 1 - F.grid_sample(1 - out, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if "lines" in ops:
        out = _lines(out, generator)
    if "contrast" in ops:
        r = _uniform(generator, b, 2).to(out.device, out.dtype)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * (1 + 0.4 * r[:, 0, None, None, None]) + mean + 0.15 * r[:, 1, None, None, None]
    if "noise" in ops:
        sigma = torch.rand(b, 1, 1, 1, generator=generator) * 0.06
        out = out + torch.randn(out.shape, generator=generator).to(out.device, out.dtype) * sigma.to(out.device, out.dtype)
    return out.clamp(0.0, 1.0)
