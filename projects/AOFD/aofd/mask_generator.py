"""AOFD's RoI masks (Sec. 3.3): the adversarial mask generator and the three mask types.

* :class:`MaskGenerator`: "four convolutional layers with a straight mapping" (Sec. 3.3): 3x3
  convs (ReLU between them) on the 7x7 pooled RoI features, a one-channel score map (N, 1, 7, 7);
  the straight mapping (``straight_mapping="residual"``) is an identity shortcut from the first
  conv's output to the input of the last conv (``"none"``: a plain stack).
* :func:`binarize`: hard selection -- the lowest ``drop_fraction`` of the 49 scores of each RoI
  become 0 (dropped), the rest 1. ``round(0.25 * 49) = 12`` positions while training the generator,
  ``round(49 / 3) = 16`` while training the detector. Differentiable path (``straight_through``):
  the forward value is exactly the hard mask, the backward pass treats it as ``sigmoid(scores)``
  (``hard + (s - s.detach())``), so the generator loss (Eq. 2) reaches the generator's weights; the
  paper back-propagates the detector's loss into the generator through the mask without stating
  how the binarisation is differentiated -- this estimator is facelib's choice.
* :func:`generator_masks`, :func:`half_masks` (left / right / top / bottom half dropped, side drawn
  at random per RoI; for odd sides the middle row / column is kept: 3 of 7 columns = 21 of 49
  positions), :func:`random_masks` (``floor(H * W / 2)`` positions drawn at random: 24 of 49).

The authors' Caffe layer (IssacCyj/Adversarial-Occlussion-aware-Face-Detection, ``layer.py``
``TileLayer``) departs from the paper's text, as its comment says: it drops 15 positions drawn at
random among the 20 lowest scores, and its generator is five 3x3 convs of 256 channels with a
residual sum. facelib follows the paper's text: the lowest quarter / third, four convs,
``GENERATOR_CHANNELS`` wide, with the residual shortcut as the straight mapping.

All masks are (N, 1, H, W) float tensors of 0/1 (1 = feature kept) that multiply the pooled
features (broadcast over the channels).
"""
import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from detectron2.layers import Conv2d

from .config import GENERATOR_STRAIGHT_MAPPINGS

__all__ = ["MaskGenerator", "num_dropped", "binarize", "generator_masks", "half_masks",
           "random_masks"]


class MaskGenerator(nn.Module):
    """Four conv layers on (N, C, 7, 7) RoI features -> (N, 1, 7, 7) mask scores; with
    ``straight_mapping="residual"`` the first conv's output is added to the input of the last."""

    def __init__(self, in_channels: int, channels: int = 0, num_convs: int = 4,
                 straight_mapping: str = "none"):
        super().__init__()
        if num_convs < 1:
            raise ValueError("MaskGenerator needs at least one conv")
        if straight_mapping not in GENERATOR_STRAIGHT_MAPPINGS:
            raise ValueError(f"straight_mapping must be one of {GENERATOR_STRAIGHT_MAPPINGS}, "
                             f"got {straight_mapping!r}")
        if straight_mapping == "residual" and num_convs < 3:
            raise ValueError("a residual straight mapping needs at least 3 convs")
        self.straight_mapping = straight_mapping
        channels = channels or in_channels
        layers = []
        for i in range(num_convs):
            out = 1 if i == num_convs - 1 else channels
            conv = Conv2d(in_channels, out, kernel_size=3, padding=1)
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.constant_(conv.bias, 0.0)
            layers.append(conv)
            in_channels = out
        self.convs = nn.ModuleList(layers)

    def forward(self, x):
        shortcut = None
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if i == last and shortcut is not None:
                x = x + shortcut
            x = conv(x)
            if i < last:
                x = F.relu(x)
            if i == 0 and self.straight_mapping == "residual":
                shortcut = x
        return x


def num_dropped(num_positions: int, drop_fraction: float) -> int:
    """Positions set to 0: ``round(drop_fraction * num_positions)`` (halves rounded up)."""
    if not 0.0 <= drop_fraction <= 1.0:
        raise ValueError(f"drop_fraction must be in [0, 1], got {drop_fraction}")
    return int(math.floor(drop_fraction * num_positions + 0.5))


def binarize(scores: torch.Tensor, drop_fraction: float, straight_through: bool = True):
    """Hard selection: per RoI, the lowest ``drop_fraction`` of the H*W scores -> 0, the rest -> 1.

    Args:
        scores: (N, 1, H, W) or (N, H, W) generator outputs (logits).
        straight_through: add the ``sigmoid(scores)`` gradient path (value unchanged).
    Returns:
        a mask of ``scores``' shape whose VALUES are exactly 0/1 (ties broken by index order).
    """
    flat = scores.flatten(1)
    k = num_dropped(flat.shape[1], drop_fraction)
    hard = torch.ones_like(flat)
    if k > 0:
        idx = flat.detach().argsort(dim=1, stable=True)[:, :k]
        hard.scatter_(1, idx, 0.0)
    hard = hard.view_as(scores)
    if straight_through and scores.requires_grad:
        soft = torch.sigmoid(scores)
        return hard + (soft - soft.detach())  # value exactly hard, gradient of soft
    return hard


def generator_masks(generator: MaskGenerator, features: torch.Tensor, drop_fraction: float,
                    straight_through: bool = True) -> torch.Tensor:
    """The generator's hard masks (N, 1, H, W) for pooled RoI features (N, C, H, W)."""
    return binarize(generator(features), drop_fraction, straight_through)


def half_masks(n: int, height: int, width: int, device=None,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(n, 1, H, W) masks each dropping one random half: left, right, top or bottom
    (``W // 2`` columns / ``H // 2`` rows; the middle one of an odd side is kept)."""
    sides = torch.randint(0, 4, (n,), generator=generator).tolist()
    masks = torch.ones(n, 1, height, width, device=device)
    hh, hw = height // 2, width // 2
    for i, side in enumerate(sides):
        if side == 0:
            masks[i, :, :, :hw] = 0  # left
        elif side == 1:
            masks[i, :, :, width - hw:] = 0  # right
        elif side == 2:
            masks[i, :, :hh, :] = 0  # top
        else:
            masks[i, :, height - hh:, :] = 0  # bottom
    return masks


def random_masks(n: int, height: int, width: int, device=None,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(n, 1, H, W) masks each dropping ``floor(H * W / 2)`` positions drawn at random."""
    hw = height * width
    k = hw // 2
    masks = torch.ones(n, hw)
    if n and k:
        idx = torch.rand(n, hw, generator=generator).argsort(dim=1)[:, :k]
        masks.scatter_(1, idx, 0.0)
    return masks.view(n, 1, height, width).to(device)
