"""Adaptive Online Incremental Anchor Mining (Ali-AMS; MogFace Sec. 3.1, Algorithm 1).

After the standard IoU assignment, per image and per pyramid level: G = the faces with positive
anchors on that level, T = the largest number of anchors any face of G has there (Algorithm 1
lines 2-3). Every face g of G with A[g] < T gets N_g = T - A[g] more positives (line 8): the
candidates are the T anchors of the level whose centres are nearest g's centre (line 9, "CPD")
and the T anchors with the highest IoU with g (line 10), ranked by the current forward pass's
predicted face score (line 11); the top N_g become positives for g (line 12). No gradient flows
through the choice.

Readings (``MODEL.MOGFACE.ALI_AMS.*``):

* ``CANDIDATES``: ``"cpd_iou"`` (the paper: both sets of T, "sort all 2 * T anchors") or
  ``"cpd"`` (MogFace code, not paper: the nearest-centre set only);
* ``DROP_POSITIVES``: ``"before"`` (anchors already positive are not candidates, so g gains
  N_g new positives when the candidates allow) or ``"after"`` (MogFace code, not paper: the top
  N_g are chosen among all candidates and those already positive are then dropped);
* ``SKIP_LEVELS``: levels left out (MogFace code, not paper: P7).

A[g] counts g's anchors on the level being processed (the code's reading of "the number of
anchors matched with this ground-truth"). Faces are processed in index order; an anchor taken by
one face is positive for the faces after it.
"""
from typing import Sequence

import torch
from torch import Tensor

from detectron2.structures import Boxes, pairwise_iou

__all__ = ["ali_ams", "CANDIDATE_MODES", "DROP_POSITIVE_MODES"]

CANDIDATE_MODES = ("cpd_iou", "cpd")
DROP_POSITIVE_MODES = ("before", "after")


@torch.no_grad()
def ali_ams(
    matched_gt: Tensor,
    anchors: Tensor,
    gt_boxes: Tensor,
    scores: Tensor,
    level_sizes: Sequence[int],
    *,
    candidates: str = "cpd_iou",
    drop_positives: str = "before",
    skip_levels: Sequence[int] = (),
) -> Tensor:
    """One image's Algorithm 1.

    Args:
        matched_gt: (R,) int64, the face each positive anchor is assigned to by the standard
            matching, -1 for every other anchor (background or ignored).
        anchors: (R, 4) XYXY anchors, levels concatenated in ``level_sizes`` order.
        gt_boxes: (G, 4) XYXY faces.
        scores: (R,) predicted face score of each anchor (current forward pass).
        level_sizes: anchors per level.
        skip_levels: indices (into ``level_sizes``) of levels left as they are.
    Returns:
        (R,) int64: ``matched_gt`` with the compensated anchors set to their face.
    """
    if candidates not in CANDIDATE_MODES:
        raise ValueError(f"Ali-AMS candidates must be one of {CANDIDATE_MODES}, got {candidates!r}")
    if drop_positives not in DROP_POSITIVE_MODES:
        raise ValueError(f"Ali-AMS drop_positives must be one of {DROP_POSITIVE_MODES}, got {drop_positives!r}")
    if sum(level_sizes) != len(matched_gt) or len(anchors) != len(matched_gt) or len(scores) != len(matched_gt):
        raise ValueError(f"Ali-AMS: {len(matched_gt)} labels, {len(anchors)} anchors, {len(scores)} scores, "
                         f"levels of {list(level_sizes)} anchors")
    out = matched_gt.clone()
    if len(gt_boxes) == 0:
        return out
    gt_ctr = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    start = 0
    for level, size in enumerate(level_sizes):
        lo, hi = start, start + int(size)
        start = hi
        if level in skip_levels or size == 0:
            continue
        assigned = matched_gt[lo:hi]
        counts = torch.bincount(assigned[assigned >= 0], minlength=len(gt_boxes))
        t = int(counts.max())
        if t == 0:
            continue
        level_anchors = anchors[lo:hi]
        ctr = (level_anchors[:, :2] + level_anchors[:, 2:]) / 2
        k = min(t, int(size))
        for g in torch.nonzero((counts > 0) & (counts < t)).flatten().tolist():
            need = t - int(counts[g])
            dist = ((ctr - gt_ctr[g]) ** 2).sum(dim=1)
            cand = dist.topk(k, largest=False).indices
            if candidates == "cpd_iou":
                iou = pairwise_iou(Boxes(gt_boxes[g : g + 1]), Boxes(level_anchors))[0]
                cand = torch.unique(torch.cat([cand, iou.topk(k).indices]))
            current = out[lo:hi]
            if drop_positives == "before":
                cand = cand[current[cand] < 0]
            order = scores[lo:hi][cand].argsort(descending=True, stable=True)
            chosen = cand[order[:need]]
            if drop_positives == "after":
                chosen = chosen[current[chosen] < 0]
            out[lo + chosen] = g
    return out
