"""FAN's anchor-level attention (Sec. 3.2.2, Fig. 6): the branch, its supervision and its loss.

Branch
------
On every pyramid feature F_k a small segmentation subnet (``num_convs`` 3x3 convs + ReLU, then a
3x3 conv to one channel; weights shared across levels like RetinaNet's subnets) predicts logits
z_k. The attention map is m_k = sigmoid(z_k) in [0, 1] and the feature fed to the class and box
subnets is ``F_k * exp(m_k)`` (``mode="exp"``, the paper's choice: a background pixel keeps its
feature, a face pixel is amplified up to e) or ``F_k * m_k`` (``mode="plain"``, Table 4's
ablation). (The exponential keeps context information the plain product would erase.)

Targets (``attention_targets``)
-------------------------------
m*_k is the filled ground-truth boxes of the faces *assigned to level k*: "faces are assigned to
levels by their scale like the anchors". A face of scale s = sqrt(w * h) belongs to every level k
with ``lo_k <= s < hi_k`` (``level_size_ranges``). The default ranges
(:func:`level_size_ranges_from_scales`) split the scale axis at the geometric mean between
adjacent levels' extreme anchor scales, the lowest level open below and the top open above: a
face goes to the level that holds the anchor scale nearest to its own (in log scale), the level
whose anchors it best matches by IoU. Example, FAN anchors (P3 16..25.4, P4 32..50.8, ...):
P3 [0, 28.5), P4 [28.5, 57.0), P5 [57.0, 114.0), P6 [114.0, 228.1), P7 [228.1, inf).

A box (x1, y1, x2, y2) (input pixels) is drawn on the level of stride S as the feature cells it
overlaps: cell (i, j) covers pixels [j S, (j + 1) S) x [i S, (i + 1) S), so columns
floor(x1 / S) .. ceil(x2 / S) - 1 and rows floor(y1 / S) .. ceil(y2 / S) - 1 are set to 1 (clipped to
the map). Every face thus marks at least one cell. Faces to be ignored (``gt_ignore``, facelib's
"ignore" mode) mark their cells -1 (excluded from the loss) unless a real face marks them 1.

Loss (``attention_loss``)
-------------------------
l_a is the pixel-wise sigmoid cross-entropy between z_k and m*_k, averaged over the valid
(non -1) pixels of level k over the batch, summed over the levels (Eq. 1: lambda2 sum_k l_a).
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from detectron2.layers import CycleBatchNormList, get_norm

from facelib.modeling.box_rasterizer import rasterize_boxes

__all__ = [
    "AttentionBranch",
    "apply_attention",
    "attention_targets",
    "attention_loss",
    "level_size_ranges_from_scales",
    "assign_levels",
]

ATTENTION_MODES = ("exp", "plain")


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


def level_size_ranges_from_scales(scales_per_level: Sequence[Sequence[float]]) -> List[Tuple[float, float]]:
    """Face-scale range of each level from its anchor scales (see the module docstring).

    Level k gets ``[sqrt(max_{k-1} * min_k), sqrt(max_k * min_{k+1}))``, with 0 below the first
    level and ``inf`` above the last.
    """
    lows = [min(s) for s in scales_per_level]
    highs = [max(s) for s in scales_per_level]
    n = len(scales_per_level)
    bounds = [math.sqrt(highs[k] * lows[k + 1]) for k in range(n - 1)]
    return [(0.0 if k == 0 else bounds[k - 1], math.inf if k == n - 1 else bounds[k]) for k in range(n)]


def assign_levels(boxes: Tensor, level_size_ranges: Sequence[Tuple[float, float]]) -> Tensor:
    """(G, L) bool: face g is assigned to level l (its scale sqrt(w*h) lies in range l)."""
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0)
    scale = torch.sqrt(wh[:, 0] * wh[:, 1])
    lo = torch.tensor([r[0] for r in level_size_ranges], dtype=scale.dtype, device=scale.device)
    hi = torch.tensor([r[1] for r in level_size_ranges], dtype=scale.dtype, device=scale.device)
    valid = (wh > 0).all(dim=1)
    return (scale[:, None] >= lo[None]) & (scale[:, None] < hi[None]) & valid[:, None]


def attention_targets(
    gt_boxes_per_image,
    image_size: Tuple[int, int],
    level_strides: Sequence[float],
    level_size_ranges: Sequence[Tuple[float, float]],
    map_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    ignore_boxes=None,
) -> List[Tensor]:
    """m*_k of one image: per level a float (Hk, Wk) map, 1 = face of that level, 0 = background,
    -1 = ignored (an ignored face of that level not covered by a face).

    Args:
        gt_boxes_per_image: (G, 4) XYXY boxes (Tensor or ``Boxes``) in input pixels.
        image_size: (H, W) of the network input (the padded batch tensor).
        level_strides: stride of each level.
        level_size_ranges: ``(lo, hi)`` face-scale range of each level (``lo <= sqrt(wh) < hi``).
        map_sizes: (Hk, Wk) of each level's feature map; default ``ceil(H / stride)`` etc.
        ignore_boxes: optional (I, 4) boxes of faces to ignore.
    """
    boxes = gt_boxes_per_image.tensor if hasattr(gt_boxes_per_image, "tensor") else gt_boxes_per_image
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4).cpu()
    if map_sizes is None:
        map_sizes = [(math.ceil(image_size[0] / s), math.ceil(image_size[1] / s)) for s in level_strides]
    if len(level_strides) != len(level_size_ranges) or len(map_sizes) != len(level_strides):
        raise ValueError("level_strides, level_size_ranges and map_sizes must have one entry per level")
    assigned = assign_levels(boxes, level_size_ranges)
    if ignore_boxes is not None:
        ign = ignore_boxes.tensor if hasattr(ignore_boxes, "tensor") else ignore_boxes
        ign = torch.as_tensor(ign, dtype=torch.float32).reshape(-1, 4).cpu()
        ign_assigned = assign_levels(ign, level_size_ranges)
    targets = []
    for k, (stride, (h, w)) in enumerate(zip(level_strides, map_sizes)):
        t = torch.zeros((int(h), int(w)), dtype=torch.float32)
        t[rasterize_boxes(boxes[assigned[:, k]], (h, w), stride, "touch")] = 1.0
        if ignore_boxes is not None:
            ignored = rasterize_boxes(ign[ign_assigned[:, k]], (h, w), stride, "touch")
            t[ignored & (t == 0)] = -1.0
        targets.append(t)
    return targets


def attention_loss(logits: List[Tensor], targets: List[Tensor]) -> Tensor:
    """sum_k mean over valid pixels of BCE-with-logits(z_k, m*_k).

    Args:
        logits: per level (N, 1, Hk, Wk) attention logits.
        targets: per level (N, Hk, Wk) targets in {1, 0, -1 (ignored)}.
    """
    total = logits[0].sum() * 0.0
    for z, t in zip(logits, targets):
        z = z[:, 0]
        valid = t >= 0
        if not bool(valid.any()):
            continue
        total = total + F.binary_cross_entropy_with_logits(z[valid], t[valid].to(z.dtype), reduction="mean")
    return total
