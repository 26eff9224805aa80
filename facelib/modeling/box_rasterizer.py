"""Boxes -> a cell mask on a feature-map grid, the one rasteriser of the box-supervised maps:
FAN's attention targets (Sec. 3.2.2: the face boxes filled on the level's map), AOFD's
occlusion-segmentation cells (Sec. 3.4: the cells of the enlarged face boxes), DF²S²'s
segmentation targets.

Two rules of which cells a box (x1, y1, x2, y2) in input pixels covers on a grid of stride s:

* ``"touch"``: every cell the box overlaps: columns ``floor(x1 / s) <= j < ceil(x2 / s)`` (rows
  likewise), clipped to the grid;
* ``"center"``: every cell whose centre ``((j + 0.5) s, (i + 0.5) s)`` lies in the closed box.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = ["RASTER_RULES", "rasterize_boxes"]

RASTER_RULES = ("touch", "center")


def rasterize_boxes(boxes: Tensor, grid_size: Tuple[int, int], stride: float, rule: str = "touch") -> Tensor:
    """(H, W) bool: the union of the cells of ``boxes`` ((N, 4) XYXY, input pixels; N may be 0)
    on an ``grid_size`` = (H, W) grid of ``stride``, by ``rule`` (module docstring)."""
    if rule not in RASTER_RULES:
        raise ValueError(f"rule must be one of {RASTER_RULES}, got {rule!r}")
    h, w = int(grid_size[0]), int(grid_size[1])
    b = torch.as_tensor(boxes).reshape(-1, 4).to(torch.float64)
    device = b.device
    if len(b) == 0 or h == 0 or w == 0:
        return torch.zeros((h, w), dtype=torch.bool, device=device)
    cols = torch.arange(w, dtype=torch.float64, device=device)
    rows = torch.arange(h, dtype=torch.float64, device=device)
    s = float(stride)
    if rule == "touch":
        inx = (cols[None] >= torch.floor(b[:, 0:1] / s)) & (cols[None] < torch.ceil(b[:, 2:3] / s))
        iny = (rows[None] >= torch.floor(b[:, 1:2] / s)) & (rows[None] < torch.ceil(b[:, 3:4] / s))
    else:
        xs, ys = (cols + 0.5) * s, (rows + 0.5) * s
        inx = (xs[None] >= b[:, 0:1]) & (xs[None] <= b[:, 2:3])
        iny = (ys[None] >= b[:, 1:2]) & (ys[None] <= b[:, 3:4])
    return (iny[:, :, None] & inx[:, None, :]).any(dim=0)
