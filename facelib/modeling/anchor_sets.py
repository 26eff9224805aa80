"""Anchors shared by the batch or per image, behind one small interface.

* shared: a list over levels of :class:`~detectron2.structures.Boxes` with (R_l, 4) tensors (what
  detectron2's anchor generators return; the fast, common case);
* per image: a list over levels of (N, R_l, 4) tensors (e.g. RefineFace's STR: the second step
  regresses from and is matched against the first step's refined anchors).
"""
from typing import List, Sequence, Union

import torch
from torch import Tensor

from detectron2.structures import Boxes

__all__ = ["is_per_image", "anchors_of_image", "level_sizes", "level_tensors", "check_anchors"]

Anchors = Sequence[Union[Boxes, Tensor]]


def is_per_image(anchors: Anchors) -> bool:
    """True for per-image anchors ((N, R_l, 4) tensors), False for shared ``Boxes``."""
    return isinstance(anchors[0], Tensor) and anchors[0].dim() == 3


def level_tensors(anchors: Anchors) -> List[Tensor]:
    """Per level, (R_l, 4) (shared) or (N, R_l, 4) (per image) tensors."""
    return [a.tensor if isinstance(a, Boxes) else a for a in anchors]


def level_sizes(anchors: Anchors) -> List[int]:
    """R_l, the number of anchors of each level (per image)."""
    return [int(t.shape[-2]) for t in level_tensors(anchors)]


def anchors_of_image(anchors: Anchors, i: int) -> Boxes:
    """All anchors of image ``i`` as one ``Boxes`` (R, 4), levels concatenated."""
    if is_per_image(anchors):
        return Boxes(torch.cat([a[i] for a in anchors], dim=0))
    return Boxes.cat(list(anchors))


def check_anchors(anchors: Anchors, num_images: int) -> None:
    """Clear errors for mixed forms or a per-image batch size that is not ``num_images``."""
    per_image = [isinstance(a, Tensor) and a.dim() == 3 for a in anchors]
    if any(per_image) and not all(per_image):
        raise ValueError("anchors mix shared Boxes and per-image (N, R, 4) tensors across levels")
    if all(per_image):
        bad = [tuple(a.shape) for a in anchors if a.shape[0] != num_images or a.shape[-1] != 4]
        if bad:
            raise ValueError(f"per-image anchors must be ({num_images}, R_l, 4) per level, got {bad}")
