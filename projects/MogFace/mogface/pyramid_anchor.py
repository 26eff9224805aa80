"""Pyramid Anchor (PyramidBox, Tang et al., ECCV 2018 [26]), one of the modules MogFace's final
models take from HAMBox (Sec. 4.3: "SSH head [22], Pyramid Anchor [26] and deep head [16]").

PyramidBox supervises the prediction layers with K context tasks besides the face: the k-th
("head" for k = 1, "body" for k = 2 with its stride s_pa = 2) labels an anchor positive when the
anchor's region down-sampled by s_pa^k overlaps the face by more than 0.35. Here that label is read
as the anchor against the face box enlarged by ``scale_k = s_pa^k`` about its centre (both scalings
agree for a face centred on the anchor), so that the context tasks are ordinary anchor assignments
against :func:`context_boxes` and regress those boxes. MogFace's paper and released code give no
further detail (the code has no Pyramid Anchor); the context branches are training-only: at
inference the face branch alone predicts (PyramidBox's test uses the face task only).

* :func:`context_boxes` -- faces enlarged about their centres;
* :class:`PyramidAnchorPredictor` -- per context, a 3x3 class conv and a 3x3 box conv on the features
  the face branch predicts from (shared by the levels, or one per level for the S3FD head).
"""
import math
from typing import Dict, List

import torch
from torch import Tensor, nn

__all__ = ["context_boxes", "PyramidAnchorPredictor", "build_pyramid_anchor_predictor"]


def context_boxes(boxes: Tensor, scale: float) -> Tensor:
    """(G, 4) XYXY boxes enlarged ``scale`` times about their centres."""
    if scale <= 0:
        raise ValueError(f"context scale must be > 0, got {scale}")
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (scale / 2)
    return torch.cat([centre - half, centre + half], dim=1)


class PyramidAnchorPredictor(nn.Module):
    """Context-task outputs ``{"pa{k}_logits": [...], "pa{k}_deltas": [...]}`` (k = 1..K, per level
    (N, A*K_cls, H, W) / (N, A*4, H, W)) from the per-level class / box features."""

    def __init__(self, in_channels: int, num_contexts: int, num_anchors: int, num_classes: int,
                 num_levels: int = 1, shared: bool = True, prior_prob: float = 0.01):
        super().__init__()
        if num_contexts < 1:
            raise ValueError(f"Pyramid Anchor needs at least one context, got {num_contexts}")
        self.shared = shared
        self.num_levels = num_levels
        copies = 1 if shared else num_levels
        self.cls = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(in_channels, num_anchors * num_classes, 3, padding=1) for _ in range(copies))
            for _ in range(num_contexts))
        self.box = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(in_channels, num_anchors * 4, 3, padding=1) for _ in range(copies))
            for _ in range(num_contexts))
        bias = -math.log((1 - prior_prob) / prior_prob)
        for group, b in ((self.cls, bias), (self.box, 0.0)):
            for convs in group:
                for conv in convs:
                    nn.init.normal_(conv.weight, std=0.01)
                    nn.init.constant_(conv.bias, b)

    def forward(self, cls_features: List[Tensor], box_features: List[Tensor]) -> Dict[str, List[Tensor]]:
        if not self.shared and len(cls_features) != self.num_levels:
            raise ValueError(f"built for {self.num_levels} levels, got {len(cls_features)} feature maps")
        copy = [0 if self.shared else l for l in range(len(cls_features))]  # conv index of each level
        out = {}
        for k, (cls_convs, box_convs) in enumerate(zip(self.cls, self.box), start=1):
            out[f"pa{k}_logits"] = [cls_convs[c](x) for c, x in zip(copy, cls_features)]
            out[f"pa{k}_deltas"] = [box_convs[c](x) for c, x in zip(copy, box_features)]
        return out


def build_pyramid_anchor_predictor(cfg, in_channels: int, num_anchors: int, num_levels: int, shared: bool):
    """The predictor ``MODEL.MOGFACE.PYRAMID_ANCHOR`` asks for, or None when it is off."""
    pa = cfg.MODEL.MOGFACE.PYRAMID_ANCHOR
    if not pa.ENABLED:
        return None
    return PyramidAnchorPredictor(in_channels, len(pa.SCALES), num_anchors, cfg.MODEL.RETINANET.NUM_CLASSES,
                                  num_levels=num_levels, shared=shared, prior_prob=cfg.MODEL.RETINANET.PRIOR_PROB)
