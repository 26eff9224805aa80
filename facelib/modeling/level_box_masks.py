"""Per-level box masks: which faces each pyramid level answers for, drawn as filled boxes on its
feature grid, and the pixel-wise sigmoid cross-entropy against them. FAN's attention maps
(Sec. 3.2.2, Eq. 1's l_a) and DF2S2's segmentation branch (Sec. 3.2, Eq. 2's L_s) are both
supervised so; the two readings of "the faces of level k":

* "matched" (:func:`matched_level_masks`; FAN Sec. 3.2.2: "supervised heatmaps are associated
  to the ground-truth faces assigned to the anchors in the current layer", also its Fig. 4 and
  Fig. 6): a face is drawn on level k when at least one of level k's anchors is positive for it
  under the detector's own assignment: a face matched on two levels is drawn on both, and a face
  no anchor matches is on none.
* "size_ranges" (:func:`size_range_level_masks`), fixed ranges: a face of scale s = sqrt(w * h)
  belongs to every level k with ``lo_k <= s < hi_k`` (given, or by default
  :func:`level_size_ranges_from_scales`: the scale axis split at the geometric mean between
  adjacent levels' extreme anchor scales, the lowest level open below and the top open above,
  i.e. the level holding the anchor scale nearest to the face's in log scale). Example, FAN
  anchors (P3 16..25.4, P4 32..50.8, ...): P3 [0, 28.5), P4 [28.5, 57.0), P5 [57.0, 114.0),
  P6 [114.0, 228.1), P7 [228.1, inf). It does not depend on the matching, so it also draws faces
  that no anchor matches.

:func:`batch_level_masks` builds either for a training batch of a
:class:`~facelib.modeling.FaceRetinaNet`.

A box (x1, y1, x2, y2) (input pixels) is drawn on the level of stride S as the feature cells it
overlaps: cell (i, j) covers pixels [j S, (j + 1) S) x [i S, (i + 1) S), so columns
floor(x1 / S) .. ceil(x2 / S) - 1 and rows floor(y1 / S) .. ceil(y2 / S) - 1 are set to 1 (clipped to
the map). Every face thus marks at least one cell. Faces to be ignored (``gt_ignore``, facelib's
"ignore" mode) mark their cells -1 (excluded from the loss) unless a real face marks them 1.

Loss (:func:`level_mask_loss`): the pixel-wise sigmoid cross-entropy between the logits z_k and
the masks m*_k, averaged over the valid (non -1) pixels of level k over the batch, summed over the
levels.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn import functional as F

from facelib.modeling.box_rasterizer import rasterize_boxes

from .anchor_sets import level_sizes as anchors_per_level  # (the name level_sizes is a parameter below)

__all__ = [
    "LEVEL_MASK_MODES",
    "level_size_ranges_from_scales",
    "assign_levels",
    "draw_level_targets",
    "matched_level_masks",
    "size_range_level_masks",
    "level_mask_loss",
    "batch_level_masks",
    "resolve_size_ranges",
]

LEVEL_MASK_MODES = ("matched", "size_ranges")


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


def resolve_size_ranges(given, model, key: str) -> List[Tuple[float, float]]:
    """``given`` [(lo, hi), ...] as floats, or (empty) :func:`level_size_ranges_from_scales` of the
    model's anchors; one per head level, else a ValueError naming the config ``key``."""
    if given:
        ranges = [(float(lo), float(hi)) for lo, hi in given]
    else:
        ranges = level_size_ranges_from_scales(model.anchor_scales_per_level())
    if len(ranges) != len(model.head_in_features):
        raise ValueError(f"{key}: {len(ranges)} size ranges for {len(model.head_in_features)} levels")
    return ranges


def assign_levels(boxes: Tensor, level_size_ranges: Sequence[Tuple[float, float]]) -> Tensor:
    """(G, L) bool: face g is assigned to level l (its scale sqrt(w*h) lies in range l)."""
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0)
    scale = torch.sqrt(wh[:, 0] * wh[:, 1])
    lo = torch.tensor([r[0] for r in level_size_ranges], dtype=scale.dtype, device=scale.device)
    hi = torch.tensor([r[1] for r in level_size_ranges], dtype=scale.dtype, device=scale.device)
    valid = (wh > 0).all(dim=1)
    return (scale[:, None] >= lo[None]) & (scale[:, None] < hi[None]) & valid[:, None]


def _as_boxes(boxes) -> Tensor:
    boxes = boxes.tensor if hasattr(boxes, "tensor") else boxes
    return torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4).cpu()


def draw_level_targets(
    boxes_per_level: Sequence[Tensor],
    ignore_per_level: Sequence[Optional[Tensor]],
    level_strides: Sequence[float],
    map_sizes: Sequence[Tuple[int, int]],
) -> List[Tensor]:
    """Per level a float (Hk, Wk) map: 1 where a box of that level touches a cell, else -1 where
    an ignored box of that level does, else 0 (the rasterisation of the module docstring)."""
    if not (len(boxes_per_level) == len(ignore_per_level) == len(level_strides) == len(map_sizes)):
        raise ValueError("boxes, ignored boxes, strides and map sizes must have one entry per level")
    targets = []
    for boxes, ignored, stride, (h, w) in zip(boxes_per_level, ignore_per_level, level_strides, map_sizes):
        t = torch.zeros((int(h), int(w)), dtype=torch.float32)
        t[rasterize_boxes(_as_boxes(boxes), (h, w), stride, "touch")] = 1.0
        if ignored is not None and len(ignored) > 0:
            t[rasterize_boxes(_as_boxes(ignored), (h, w), stride, "touch") & (t == 0)] = -1.0
        targets.append(t)
    return targets


def matched_level_masks(
    matched_boxes: Tensor,
    positive: Tensor,
    level_sizes: Sequence[int],
    level_strides: Sequence[float],
    map_sizes: Sequence[Tuple[int, int]],
    ignore_boxes=None,
) -> List[Tensor]:
    """m*_k of one image from the anchor assignment ("matched" mode): the faces some positive
    anchor of level k is matched to.

    Args:
        matched_boxes: (R, 4) the gt box each anchor is matched to (read where ``positive``).
        positive: (R,) bool, positive anchors, levels concatenated in order.
        level_sizes: number of anchors of each level (sums to R).
        level_strides / map_sizes: stride and (Hk, Wk) of each level.
        ignore_boxes: optional (I, 4) boxes of ignored faces, drawn -1 on every level.
    """
    if sum(level_sizes) != positive.numel() or matched_boxes.shape[0] != positive.numel():
        raise ValueError(f"{positive.numel()} anchors' labels / {matched_boxes.shape[0]} boxes for levels of {list(level_sizes)}")
    boxes_per_level = [
        torch.unique(b[p], dim=0) for b, p in zip(matched_boxes.split(list(level_sizes)), positive.split(list(level_sizes)))
    ]
    ignored = None if ignore_boxes is None else _as_boxes(ignore_boxes)
    return draw_level_targets(boxes_per_level, [ignored] * len(level_sizes), level_strides, map_sizes)


def size_range_level_masks(
    gt_boxes_per_image,
    image_size: Tuple[int, int],
    level_strides: Sequence[float],
    level_size_ranges: Sequence[Tuple[float, float]],
    map_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    ignore_boxes=None,
) -> List[Tensor]:
    """m*_k of one image in "size_ranges" mode: per level a float (Hk, Wk) map, 1 = face of that
    level, 0 = background, -1 = ignored (an ignored face of that level not covered by a face).

    Args:
        gt_boxes_per_image: (G, 4) XYXY boxes (Tensor or ``Boxes``) in input pixels.
        image_size: (H, W) of the network input (the padded batch tensor).
        level_strides: stride of each level.
        level_size_ranges: ``(lo, hi)`` face-scale range of each level (``lo <= sqrt(wh) < hi``).
        map_sizes: (Hk, Wk) of each level's feature map; default ``ceil(H / stride)`` etc.
        ignore_boxes: optional (I, 4) boxes of faces to ignore.
    """
    boxes = _as_boxes(gt_boxes_per_image)
    if map_sizes is None:
        map_sizes = [(math.ceil(image_size[0] / s), math.ceil(image_size[1] / s)) for s in level_strides]
    if len(level_strides) != len(level_size_ranges) or len(map_sizes) != len(level_strides):
        raise ValueError("level_strides, level_size_ranges and map_sizes must have one entry per level")
    assigned = assign_levels(boxes, level_size_ranges)
    ignored = [None] * len(level_strides)
    if ignore_boxes is not None:
        ign = _as_boxes(ignore_boxes)
        ign_assigned = assign_levels(ign, level_size_ranges)
        ignored = [ign[ign_assigned[:, k]] for k in range(len(level_strides))]
    return draw_level_targets([boxes[assigned[:, k]] for k in range(len(level_strides))], ignored,
                              level_strides, map_sizes)


def level_mask_loss(logits: List[Tensor], targets: List[Tensor]) -> Tensor:
    """sum_k mean over valid pixels of BCE-with-logits(z_k, m*_k).

    Args:
        logits: per level (N, 1, Hk, Wk) mask logits.
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


@torch.no_grad()
def batch_level_masks(model, ctx, map_sizes: Sequence[Tuple[int, int]], mode: str,
                      size_ranges: Sequence[Tuple[float, float]] = ()) -> List[Tensor]:
    """Per level (N, Hk, Wk) masks of a training batch (1 face, 0 background, -1 ignored).

    Args:
        model: the :class:`~facelib.modeling.FaceRetinaNet` (its ``num_classes``, anchor strides
            and ``split_ignored``); ctx: its :class:`~facelib.modeling.dense_outputs.LossContext`.
        map_sizes: (Hk, Wk) of each level's prediction map.
        mode: "matched" (from ``ctx``'s assignment) or "size_ranges" (by ``size_ranges``).
    """
    if mode not in LEVEL_MASK_MODES:
        raise ValueError(f"level mask mode must be one of {LEVEL_MASK_MODES}, got {mode!r}")
    strides = model.anchor_generator.strides
    sizes = anchors_per_level(ctx.anchors)
    per_image = []
    for i, gt in enumerate(ctx.gt_instances):
        targets, ignored = model.split_ignored(gt)
        if mode == "matched":
            labels = ctx.gt_labels[i]
            positive = (labels >= 0) & (labels != model.num_classes)
            per_image.append(matched_level_masks(ctx.gt_boxes[i].cpu(), positive.cpu(), sizes, strides, map_sizes,
                                                 ignore_boxes=ignored))
        else:
            per_image.append(size_range_level_masks(targets.gt_boxes, tuple(ctx.images.tensor.shape[-2:]), strides,
                                                    size_ranges, map_sizes=map_sizes, ignore_boxes=ignored))
    device = ctx.pred_logits[0].device
    return [torch.stack([t[k] for t in per_image]).to(device) for k in range(len(map_sizes))]
