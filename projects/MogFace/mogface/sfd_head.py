"""The prediction head of MogFace's ablation baseline: S3FD's (Sec. 4.1, "We adopt SFD [35]
architecture"), one 3x3 classification conv and one 3x3 box conv on each pyramid level, not
shared between levels, no class / box subnets.

MogFace code, not paper: ``RetinaPredNet`` without its deep head builds exactly this (a
``ModuleList`` of per-level 3x3 convs to A x K and A x 4 channels), weights ~ N(0, 0.01), the class
bias at the focal-loss prior. ``MODEL.MOGFACE.HEAD "sfd"``; the final model's deep head is
RetinaNet's shared subnets (``"retinanet"``, :class:`~.ssh_head.MogFaceHead`).
"""
import math
from typing import List, Optional

from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import build_anchor_generator

from facelib.modeling.dense_outputs import HeadOutputs

from .pyramid_anchor import build_pyramid_anchor_predictor

__all__ = ["SFDHead"]


class SFDHead(nn.Module):
    """Per level ``l``: ``cls_score[l](x_l)`` (A x K channels) and ``bbox_pred[l](x_l)`` (A x 4); with
    Pyramid Anchor, its context branches on the same features, one per level (training only)."""

    @configurable
    def __init__(self, *, input_shape: List[ShapeSpec], num_classes: int, num_anchors: int, prior_prob: float = 0.01,
                 pyramid_anchor: Optional[nn.Module] = None):
        super().__init__()
        self.pyramid_anchor = pyramid_anchor
        self.cls_score = nn.ModuleList(
            nn.Conv2d(s.channels, num_anchors * num_classes, 3, padding=1) for s in input_shape)
        self.bbox_pred = nn.ModuleList(nn.Conv2d(s.channels, num_anchors * 4, 3, padding=1) for s in input_shape)
        bias = -math.log((1 - prior_prob) / prior_prob)
        for convs, b in ((self.cls_score, bias), (self.bbox_pred, 0.0)):
            for conv in convs:
                nn.init.normal_(conv.weight, std=0.01)
                nn.init.constant_(conv.bias, b)

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        num_anchors = build_anchor_generator(cfg, input_shape).num_cell_anchors
        if len(set(num_anchors)) != 1:
            raise ValueError(f"SFDHead needs the same number of anchors on every level, got {num_anchors}")
        if int(cfg.MODEL.MOGFACE.SSH_CHANNELS):
            raise ValueError("MODEL.MOGFACE.HEAD 'sfd' has no SSH context module (MogFace's final model puts "
                             "SSH before the deep head: HEAD 'retinanet'); set MODEL.MOGFACE.SSH_CHANNELS 0")
        if len({s.channels for s in input_shape}) != 1:
            raise ValueError(f"SFDHead needs the same channels on every level, got {[s.channels for s in input_shape]}")
        return {
            "input_shape": input_shape,
            "num_classes": cfg.MODEL.RETINANET.NUM_CLASSES,
            "num_anchors": num_anchors[0],
            "prior_prob": cfg.MODEL.RETINANET.PRIOR_PROB,
            "pyramid_anchor": build_pyramid_anchor_predictor(
                cfg, input_shape[0].channels, num_anchors[0], len(input_shape), shared=False),
        }

    def forward(self, features: List[Tensor]):
        if len(features) != len(self.cls_score):
            raise ValueError(f"SFDHead was built for {len(self.cls_score)} levels, got {len(features)} feature maps")
        out = HeadOutputs(logits=[conv(x) for conv, x in zip(self.cls_score, features)],
                          deltas=[conv(x) for conv, x in zip(self.bbox_pred, features)])
        if self.pyramid_anchor is not None and self.training:
            out.extras.update(self.pyramid_anchor(features, features))
        return out
