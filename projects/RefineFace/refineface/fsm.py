"""Feature Supervision Module (RefineFace Sec. 3.4, Fig. 3, Tables 7-8): training only.

"We apply NMS with a threshold of 0.7, add ground truth boxes, and distribute 512 prediction
proposals to the pyramid level from which they come to sample their RoI features. [...] RoIAlign
[...] yielding 5x5 resolution features, which are fed into three subsequent convolutional layers, a
prediction convolutional layer and a global average pooling layer to classify between face and
background." Labels (Sec. 3.6): IoU >= 0.7 face, < 0.4 background, in between ignored.

* :func:`select_proposals` -- one image's proposals: the ``pre_nms_topk`` best predictions, NMS,
  the ground truth first (each on the level whose anchor scale is nearest its size), then the
  best survivors up to ``num_proposals``;
* :class:`FSMHead` -- "conv" (Table 8's choice) or "fc" classifier of the RoI features;
* :class:`FeatureSupervisionModule` -- RoIAlign per level + the head: (M, K) logits.

The module runs inside the training forward only; inference never calls it (its parameters
exist in the checkpoint and cost nothing at test time).
"""
import math
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from detectron2.layers import ROIAlign, batched_nms, cat

from .config import FSM_TYPES

__all__ = ["select_proposals", "nearest_scale_level", "FSMHead", "FeatureSupervisionModule"]


def nearest_scale_level(boxes: Tensor, level_scales: Sequence[float]) -> Tensor:
    """Index of the level whose (geometric-mean) anchor scale is nearest, in log scale, to each
    box's sqrt(w h): where a ground-truth box goes ("to the pyramid level from which they come" has
    no answer for a ground-truth box; this is the level its best anchors are on)."""
    size = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp(min=1e-6).sqrt()
    scales = boxes.new_tensor([math.log(s) for s in level_scales])
    return (size.log()[:, None] - scales[None]).abs().argmin(dim=1)


@torch.no_grad()
def select_proposals(
    boxes: Tensor,
    scores: Tensor,
    levels: Tensor,
    gt_boxes: Tensor,
    gt_levels: Tensor,
    *,
    pre_nms_topk: int,
    nms_thresh: float,
    num_proposals: int,
) -> Tuple[Tensor, Tensor]:
    """One image's FSM proposals.

    Args:
        boxes / scores / levels: (R, 4) decoded predictions, (R,) their face scores, (R,) the
            pyramid-level index of the anchor each came from. Scores of -inf (anchors a method
            filtered out) are never proposals.
        gt_boxes / gt_levels: (G, 4) ground truth to add and (G,) its level index; G may be 0.
    Returns:
        (M, 4) boxes and (M,) level indices, M <= ``num_proposals``: the ground truth first, then
        the NMS survivors in score order.
    """
    keep = torch.isfinite(scores)
    boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
    if scores.numel() > pre_nms_topk:
        idx = scores.topk(pre_nms_topk).indices
        boxes, scores, levels = boxes[idx], scores[idx], levels[idx]
    # NMS over all levels at once (one image, one class: the levels are not groups)
    kept = batched_nms(boxes.float(), scores, torch.zeros_like(levels), nms_thresh)
    room = max(num_proposals - len(gt_boxes), 0)
    kept = kept[:room]
    out_boxes = cat([gt_boxes[:num_proposals].to(boxes.dtype), boxes[kept]], dim=0)
    out_levels = cat([gt_levels[:num_proposals].to(levels.dtype), levels[kept]], dim=0)
    return out_boxes, out_levels


class FSMHead(nn.Module):
    """Classifier of (M, C, S, S) RoI features -> (M, K) logits.

    "conv": ``num_convs`` 3x3 convs + ReLU, a 3x3 prediction conv to K channels, global average
    pooling (Sec. 3.4, Table 8 "Conv"); "fc": flatten, two fc layers + ReLU, a linear classifier
    (Table 8 "FC").
    """

    def __init__(self, kind: str, in_channels: int, resolution: int, num_classes: int,
                 num_convs: int = 3, conv_dim: int = 256, fc_dim: int = 256, prior_prob: float = 0.01):
        super().__init__()
        if kind not in FSM_TYPES:
            raise ValueError(f"MODEL.REFINEFACE.FSM.TYPE must be one of {FSM_TYPES}, got {kind!r}")
        self.kind = kind
        layers = []
        if kind == "conv":
            ch = in_channels
            for _ in range(num_convs):
                layers += [nn.Conv2d(ch, conv_dim, 3, padding=1), nn.ReLU(inplace=True)]
                ch = conv_dim
            self.body = nn.Sequential(*layers)
            self.predictor = nn.Conv2d(ch, num_classes, 3, padding=1)
        else:
            self.body = nn.Sequential(
                nn.Flatten(), nn.Linear(in_channels * resolution * resolution, fc_dim), nn.ReLU(inplace=True),
                nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True),
            )
            self.predictor = nn.Linear(fc_dim, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.constant_(m.bias, 0.0)
        nn.init.constant_(self.predictor.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, x: Tensor) -> Tensor:
        x = self.predictor(self.body(x))
        if self.kind == "conv":
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return x


class FeatureSupervisionModule(nn.Module):
    """RoIAlign of each proposal on its own level's feature map, then :class:`FSMHead`.

    Args:
        strides: stride of each level (the second step's P levels).
        head: the classifier.
    """

    def __init__(self, strides: Sequence[int], resolution: int, sampling_ratio: int, head: FSMHead):
        super().__init__()
        self.poolers = nn.ModuleList(
            ROIAlign((resolution, resolution), 1.0 / s, sampling_ratio, aligned=True) for s in strides
        )
        self.head = head

    def forward(self, features: List[Tensor], proposals: List[Tuple[Tensor, Tensor]]) -> Tensor:
        """``features``: per level (N, C, H, W); ``proposals``: per image (boxes (M_i, 4), level
        indices (M_i,)). Returns (sum M_i, K) logits, images in order, each image's in its order."""
        boxes = cat([b for b, _ in proposals], dim=0)
        levels = cat([l for _, l in proposals], dim=0)
        image_idx = cat([torch.full((len(b),), i, dtype=boxes.dtype, device=boxes.device)
                         for i, (b, _) in enumerate(proposals)], dim=0)
        rois = torch.cat([image_idx[:, None], boxes], dim=1)
        res = self.poolers[0].output_size
        pooled = features[0].new_zeros((len(rois), features[0].shape[1]) + tuple(res))
        for lvl, (feat, pooler) in enumerate(zip(features, self.poolers)):
            idx = (levels == lvl).nonzero(as_tuple=True)[0]
            if idx.numel():
                pooled = pooled.index_put((idx,), pooler(feat, rois[idx]))
        return self.head(pooled)
