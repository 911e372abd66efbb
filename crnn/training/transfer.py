"""Start a model from another one's weights (``--init-from``): every tensor whose name and shape
match is copied; the rest keep their fresh initialisation. A different charset keeps the head's rows of
the characters both charsets share; a different image height changes the LSTM's first input matrices
(unless both models read a fixed ``model.input_height``). A greyscale source starts a colour model
(``model.in_channels=3``) as the same function of the image it computed on the image's luma: its first
conv's kernel is split over R, G and B by the luma weights, and every channel is normalised as the
grey one was, so the model begins where the source is and can learn what colour adds.

A deeper model than the source (conv blocks appended after the source's last one) starts as the
source's function where it can: an appended block with as many channels out as in, a 1x1 pool and
batch norm begins as the identity (a Dirac kernel, and batch norm set to give back what it is fed,
measured on training images), so the LSTM and head keep reading the features they were trained on
and the new block only adds what training finds for it (Net2DeeperNet, Chen et al. 2016).
"""

from __future__ import annotations

import torch
from torch import nn

from crnn.config import POOLS
from crnn.data.pixels import LUMA


def map_head(own: dict[str, torch.Tensor], source: dict[str, torch.Tensor], source_chars: str, chars: str) -> dict:
    """``source`` with its head's rows re-ordered for ``chars``: the blank and every character the two
    charsets share keep what they learnt, a character the source never read keeps its fresh row."""
    if "head.weight" not in source or source["head.weight"].shape[1:] != own["head.weight"].shape[1:]:
        return source
    weight, bias = own["head.weight"].clone(), own["head.bias"].clone()  # (K, 2*hidden), (K,)
    rows = [(0, 0)] + [(i + 1, source_chars.index(c) + 1) for i, c in enumerate(chars) if c in source_chars]
    for dst, src in rows:
        weight[dst], bias[dst] = source["head.weight"][src], source["head.bias"][src]
    return {**source, "head.weight": weight, "head.bias": bias}


def grey_to_colour(own: dict[str, torch.Tensor], source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``source`` (a greyscale model) with its input layer made RGB where ``own`` reads RGB: the first
    conv's kernel W (O, 1, k, k) becomes W * LUMA[c] for c in R, G, B, and the one mean and std serve
    every channel. Then conv((x_c - m) / s) summed over c = conv((luma(x) - m) / s), as LUMA sums to 1."""
    first = "cnn.0.weight"  # every model's first layer is its first block's conv
    out, ins, *kernel = own[first].shape
    if ins != 3 or first not in source or source[first].shape != (out, 1, *kernel):
        return source
    luma = torch.tensor(LUMA, dtype=source[first].dtype).view(1, 3, 1, 1)
    adapted = {**source, first: source[first] * luma}  # (O, 1, k, k) -> (O, 3, k, k)
    for key in ("in_mean", "in_std"):
        if key in source and source[key].numel() == 1:
            adapted[key] = source[key].expand(3).clone()  # (1,) -> (3,)
    return adapted


def transfer_weights(
    model: nn.Module, source: dict[str, torch.Tensor], source_chars: str = "", chars: str = ""
) -> tuple[list[str], list[str]]:
    """Copy matching tensors of ``source`` into ``model``; returns (kept, reinitialised) names. With both
    charsets, the head is mapped character by character (``map_head``) instead of kept only when equal."""
    own = model.state_dict()
    source = grey_to_colour(own, source)
    if source_chars and chars and source_chars != chars:
        source = map_head(own, source, source_chars, chars)
    kept = [k for k, v in own.items() if k in source and source[k].shape == v.shape]
    model.load_state_dict({**own, **{k: source[k] for k in kept}})
    return kept, [k for k in own if k not in kept]


def appended_blocks(model: nn.Module, source: dict[str, torch.Tensor]) -> list[int]:
    """Indices of ``model``'s conv blocks after the source's last one (the source has no such conv)."""
    convs = [i for i, m in enumerate(model.cnn) if isinstance(m, nn.Conv2d)]
    n_source = sum(1 for i in convs if f"cnn.{i}.weight" in source)
    if any(f"cnn.{i}.weight" not in source for i in convs[:n_source]):
        return []  # the source's blocks are not a prefix of this model's: nothing is appended
    return list(range(n_source, len(convs)))


@torch.no_grad()
def init_identity_blocks(model: nn.Module, blocks: list[int], images: torch.Tensor) -> list[int]:
    """Make each of ``blocks`` (appended conv blocks) the identity on its input where it can be one:
    channels in == out, a 1x1 pool, batch norm. ``images`` (N, C, H, W) in [0, 1] give the block's
    input statistics, so batch norm hands back its input in training (batch statistics close to these)
    and exactly in eval. Returns the blocks made the identity; the others keep their fresh init."""
    done = []
    was_training = model.training
    model.eval()
    for b in blocks:
        conv, norm, pool = model.cnn[4 * b], model.cnn[4 * b + 1], model.cnn[4 * b + 2]
        if conv.in_channels != conv.out_channels or pool.kernel_size != POOLS["1x1"] or not isinstance(norm, nn.BatchNorm2d):
            continue
        x = model.prepare(images)  # (N, C, H, W) as the conv blocks read it
        f = model.cnn[: 4 * b](x)  # (N, ch, H', W'): this block's input, >= 0 after the previous ReLU and pool
        mean, var = f.mean(dim=(0, 2, 3)), f.var(dim=(0, 2, 3))  # (ch,)
        nn.init.dirac_(conv.weight)
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        norm.weight.copy_((var + norm.eps).sqrt())  # gamma * (f - mean) / sqrt(var + eps) + beta = f
        norm.bias.copy_(mean)
        done.append(b)
    model.train(was_training)
    return done


def summarize(kept: list[str], fresh: list[str], identity: list[int] = ()) -> str:
    """One line for a log or a report: which parts came from the source model."""
    parts = lambda names: sorted({n.split(".")[0] for n in names})  # noqa: E731 - cnn, rnn, head
    fresh_txt = ", ".join(n for n in fresh if not n.endswith("num_batches_tracked")) or "nothing"
    line = f"kept {len(kept)} tensors ({', '.join(parts(kept)) or 'none'}); re-initialised: {fresh_txt}"
    if identity:
        line += f"; appended conv block(s) {', '.join(str(b + 1) for b in identity)} start as the identity"
    return line
