"""ATSS label assignment (Zhang et al., "Bridging the Gap Between Anchor-based and Anchor-free
Detection via Adaptive Training Sample Selection", CVPR 2020, Sec. 3.2, Algorithm 1), the
comparison of MogFace Table 3 ("Baseline + ATSS"), ``MODEL.MOGFACE.ASSIGNER "atss"``.

Per face g: on every level, the ``topk`` anchors whose centres are nearest g's centre are
candidates; t_g = mean + std of their IoUs with g; candidates with IoU >= t_g whose centres lie
inside g are positives. An anchor positive for several faces goes to the one it overlaps most;
every other anchor is background (ATSS ignores nothing).
"""
from typing import Sequence

import torch
from torch import Tensor

from detectron2.structures import Boxes, pairwise_iou

__all__ = ["atss_assign"]


@torch.no_grad()
def atss_assign(anchors: Tensor, gt_boxes: Tensor, level_sizes: Sequence[int], topk: int = 9) -> Tensor:
    """(R, 4) anchors (levels concatenated), (G, 4) faces -> (R,) int64: the face each positive
    anchor is assigned to, -1 for background."""
    num = anchors.shape[0]
    out = torch.full((num,), -1, dtype=torch.int64, device=anchors.device)
    if len(gt_boxes) == 0 or num == 0:
        return out
    iou = pairwise_iou(Boxes(gt_boxes), Boxes(anchors))  # (G, R)
    a_ctr = (anchors[:, :2] + anchors[:, 2:]) / 2
    g_ctr = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    dist = torch.cdist(g_ctr, a_ctr)  # (G, R)
    candidates = []
    start = 0
    for size in level_sizes:
        k = min(int(topk), int(size))
        if k > 0:
            candidates.append(dist[:, start:start + size].topk(k, dim=1, largest=False).indices + start)
        start += int(size)
    cand = torch.cat(candidates, dim=1)  # (G, C)
    cand_iou = iou.gather(1, cand)
    thresh = cand_iou.mean(dim=1) + cand_iou.std(dim=1, unbiased=True)
    c = a_ctr[cand]  # (G, C, 2)
    inside = ((c - gt_boxes[:, None, :2]) > 0).all(dim=-1) & ((gt_boxes[:, None, 2:] - c) > 0).all(dim=-1)
    positive = (cand_iou >= thresh[:, None]) & inside
    # among the faces an anchor is positive for, the one with the highest IoU
    score = torch.full_like(iou, -1.0)
    g_idx = torch.arange(len(gt_boxes), device=anchors.device)[:, None].expand_as(cand)
    score[g_idx[positive], cand[positive]] = iou[g_idx[positive], cand[positive]]
    best, which = score.max(dim=0)
    out[best >= 0] = which[best >= 0]
    return out
