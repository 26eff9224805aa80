"""FAN's anchor-level attention (Sec. 3.2.2, Fig. 6): the branch, its supervision and its loss.

Branch
------
On every pyramid feature F_k a small segmentation subnet (``num_convs`` 3x3 convs + ReLU, then a
3x3 conv to one channel; weights shared across levels like RetinaNet's subnets) predicts logits
z_k. The attention map is m_k = sigmoid(z_k) in [0, 1] and the feature fed to the class and box
subnets is ``F_k * exp(m_k)`` (``mode="exp"``, the paper's choice: a background pixel keeps its
feature, a face pixel is amplified up to e) or ``F_k * m_k`` (``mode="plain"``: what Sec. 3.2.2
calls the "traditional usage of attention map, which naively multiple it with the feature maps";
the paper reports no number for it). The exponential "is able to keep more context information".

Its targets m*_k and loss l_a are the shared per-level box masks of
:mod:`facelib.modeling.level_box_masks` (the "matched" / "size_ranges" assignment of faces to
levels, ``MODEL.FAN.ATTENTION_TARGETS``; the pixel-wise sigmoid cross-entropy of Eq. 1's l_a).
"""
from typing import List

import torch
from torch import Tensor, nn

from detectron2.layers import CycleBatchNormList, get_norm

from .config import ATTENTION_MODES

__all__ = ["AttentionBranch", "apply_attention"]


class AttentionBranch(nn.Module):
    """The attention subnet: ``num_convs`` x (3x3 conv [+ norm] + ReLU), 3x3 conv -> 1 channel.

    ``forward(features)`` returns the attention *logits* per level, each (N, 1, Hk, Wk).
    """

    def __init__(self, in_channels: int, num_levels: int, num_convs: int = 4, conv_dim: int = 0, norm: str = ""):
        super().__init__()
        conv_dim = int(conv_dim) or int(in_channels)
        layers = []
        c = in_channels
        for _ in range(num_convs):
            layers.append(nn.Conv2d(c, conv_dim, kernel_size=3, stride=1, padding=1))
            if norm in ("BN", "SyncBN"):  # one BN per level, as detectron2's RetinaNetHead
                bn_class = nn.BatchNorm2d if norm == "BN" else nn.SyncBatchNorm
                layers.append(CycleBatchNormList(length=num_levels, bn_class=bn_class, num_features=conv_dim))
            elif norm:
                layers.append(get_norm(norm, conv_dim))
            layers.append(nn.ReLU())
            c = conv_dim
        self.subnet = nn.Sequential(*layers)
        self.attention_logits = nn.Conv2d(c, 1, kernel_size=3, stride=1, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # RetinaNet head initialisation; m starts at 0.5 everywhere
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.constant_(m.bias, 0.0)

    def forward(self, features: List[Tensor]) -> List[Tensor]:
        return [self.attention_logits(self.subnet(f)) for f in features]


def apply_attention(features: List[Tensor], logits: List[Tensor], mode: str = "exp") -> List[Tensor]:
    """``F_k * exp(sigmoid(z_k))`` ("exp") or ``F_k * sigmoid(z_k)`` ("plain") per level."""
    if mode not in ATTENTION_MODES:
        raise ValueError(f"attention mode must be one of {ATTENTION_MODES}, got {mode!r}")
    out = []
    for f, z in zip(features, logits):
        m = torch.sigmoid(z)
        out.append(f * (torch.exp(m) if mode == "exp" else m))
    return out
