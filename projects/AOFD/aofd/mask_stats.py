"""How compact AOFD's generated masks are (Sec. 3.3, "Loss function"; Fig. 3 (b)): the compact
constraint (Eq. 3) is meant to turn "strip-like or sporadic" dropped areas into compact ones, so a
mask is measured by the number of connected regions of its dropped cells (4-neighbourhood) and by
its L_com (compact_loss.py)."""
from typing import List

import torch

from .compact_loss import compact_loss

__all__ = ["dropped_components", "mask_compactness"]


def dropped_components(mask: torch.Tensor) -> int:
    """Connected regions (4-neighbourhood) of the dropped (0) cells of one (H, W) 0/1 mask."""
    dropped = (mask.reshape(mask.shape[-2:]) < 0.5).tolist()
    h, w = len(dropped), len(dropped[0]) if dropped else 0
    seen = [[False] * w for _ in range(h)]
    count = 0
    for i in range(h):
        for j in range(w):
            if not dropped[i][j] or seen[i][j]:
                continue
            count += 1
            stack = [(i, j)]
            seen[i][j] = True
            while stack:
                y, x = stack.pop()
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < h and 0 <= nx < w and dropped[ny][nx] and not seen[ny][nx]:
                        seen[ny][nx] = True
                        stack.append((ny, nx))
    return count


def mask_compactness(masks: torch.Tensor) -> dict:
    """Mean dropped regions per mask, share of masks with one region, mean L_com per mask, over
    (N, 1, H, W) 0/1 masks."""
    if masks.numel() == 0:
        return {"masks": 0, "components": float("nan"), "one_region": float("nan"), "l_com": float("nan")}
    comps: List[int] = [dropped_components(m) for m in masks]
    return {
        "masks": len(comps),
        "components": sum(comps) / len(comps),
        "one_region": sum(c == 1 for c in comps) / len(comps),
        "l_com": float(compact_loss(masks, "mean")),
    }
