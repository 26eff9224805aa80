"""Online hard example mining for the RoI box head (Shrivastava, Gupta, Girshick, CVPR 2016; the
optional OHEM row of AOFD's Table 3).

Training with ``MODEL.AOFD.OHEM``: every proposal of an image (not a 1 : 3 sample) is labelled; the
box head scores them all without gradient (:func:`per_roi_losses`: cross entropy + smooth-L1 of
the ground-truth class's deltas, per RoI); :func:`select_hard_rois` removes RoIs that overlap a
harder one by more than ``OHEM_NMS_THRESH`` (the paper's NMS on the loss, so that near-duplicate
proposals do not fill the batch) and keeps the ``OHEM_BATCH_SIZE_PER_IMAGE`` highest losses; the
box head is then trained on those only (AOFD's RoI masks are applied to the kept positives).
"""
from typing import List

import torch
from fvcore.nn import smooth_l1_loss
from torch.nn import functional as F

from detectron2.layers import batched_nms, cat
from detectron2.structures import Instances

__all__ = ["per_roi_losses", "select_hard_rois"]


def per_roi_losses(box_predictor, predictions, proposals: List[Instances]) -> torch.Tensor:
    """Loss of every RoI (R,) under a :class:`FastRCNNOutputLayers` with a smooth-L1 box loss:
    ``CE(scores, gt_class) + sum_4 smooth_l1(deltas[gt_class] - target)`` (box term for
    foreground RoIs only)."""
    scores, deltas = predictions
    gt_classes = cat([p.gt_classes for p in proposals], dim=0)
    loss = F.cross_entropy(scores, gt_classes, reduction="none")
    num_classes = scores.shape[1] - 1
    fg = ((gt_classes >= 0) & (gt_classes < num_classes)).nonzero().squeeze(1)
    if len(fg):
        proposal_boxes = cat([p.proposal_boxes.tensor for p in proposals], dim=0)
        gt_boxes = cat([p.gt_boxes.tensor for p in proposals], dim=0)
        box_dim = proposal_boxes.shape[1]
        d = deltas.view(len(deltas), -1, box_dim)
        d = d[fg, 0] if d.shape[1] == 1 else d[fg, gt_classes[fg]]
        target = box_predictor.box2box_transform.get_deltas(proposal_boxes[fg], gt_boxes[fg])
        reg = smooth_l1_loss(d, target, box_predictor.smooth_l1_beta, reduction="none").sum(1)
        loss = loss.index_add(0, fg, reg * box_predictor.loss_weight.get("loss_box_reg", 1.0))
    return loss


def select_hard_rois(proposals: List[Instances], losses: torch.Tensor, batch_size_per_image: int,
                     nms_thresh: float) -> List[torch.Tensor]:
    """Per image, the indices (into that image's proposals) of the hardest RoIs after NMS on the
    loss, at most ``batch_size_per_image``, hardest first."""
    out, start = [], 0
    for p in proposals:
        l = losses[start:start + len(p)]
        start += len(p)
        if nms_thresh < 1.0:
            keep = batched_nms(p.proposal_boxes.tensor.float(), l.float(),
                               torch.zeros_like(l, dtype=torch.int64), nms_thresh)
        else:
            keep = torch.argsort(l, descending=True)
        out.append(keep[:batch_size_per_image])
    return out
