"""DF²S²'s head (Sec. 3.1-3.2): one tower of 3x3 convs shared by the levels and by the
classification, box and segmentation outputs, which differ only in their last 3x3 conv (K x A,
4 x A and K channels). The segmentation output runs in training only (Sec. 3.2: "deprecated in the
inference time"): no time at inference, and its conv is the only parameter the inference graph
does not use.

``shared_tower=False`` keeps RetinaNet's separate class and box subnets (the segmentation conv on
the class subnet); with that, no segmentation and ``init="normal"`` the head is detectron2's
``RetinaNetHead`` exactly (same parameters, same random draws).
"""
import math
from typing import List

from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from facelib.modeling.dense_outputs import HeadOutputs

__all__ = ["DF2S2Head", "HEAD_INITS"]

HEAD_INITS = ("xavier", "normal")


class DF2S2Head(RetinaNetHead):
    """``forward(features)`` -> :class:`HeadOutputs` with ``extras["seg_logits"]`` (per level
    (N, K, H, W)) in training when the segmentation branch is on."""

    @configurable
    def __init__(self, *, input_shape: List[ShapeSpec], shared_tower: bool = True, segmentation: bool = True,
                 init: str = "xavier", **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        if init not in HEAD_INITS:
            raise ValueError(f"MODEL.DF2S2.HEAD_INIT must be one of {HEAD_INITS}, got {init!r}")
        self.shared_tower = bool(shared_tower)
        if self.shared_tower:
            del self.bbox_subnet  # the class subnet is the tower of all three outputs
            self.bbox_subnet = None
        width = self.cls_score.in_channels
        self.seg_pred = nn.Conv2d(width, kwargs["num_classes"], 3, padding=1) if segmentation else None
        if self.seg_pred is not None:
            nn.init.normal_(self.seg_pred.weight, std=0.01)
            nn.init.zeros_(self.seg_pred.bias)
        if init == "xavier":
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)
        prior = kwargs.get("prior_prob", 0.01)
        nn.init.constant_(self.cls_score.bias, -math.log((1 - prior) / prior))

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        d = cfg.MODEL.DF2S2
        ret.update(shared_tower=d.SHARED_TOWER, segmentation=d.SEG.ENABLED, init=d.HEAD_INIT)
        return ret

    def forward(self, features: List[Tensor]) -> HeadOutputs:
        tower = [self.cls_subnet(f) for f in features]
        box_tower = tower if self.shared_tower else [self.bbox_subnet(f) for f in features]
        out = HeadOutputs(logits=[self.cls_score(t) for t in tower], deltas=[self.bbox_pred(t) for t in box_tower])
        if self.seg_pred is not None and self.training:
            out.extras["seg_logits"] = [self.seg_pred(t) for t in tower]
        return out
