"""RefineFace's head: RetinaNet's class / box subnets run on both steps' features (Sec. 3.2: "the
RefineFace shares the same classification module in the two steps"), RFE in the subnets (Sec. 3.5).

With no first-step levels and RFE off it is detectron2's ``RetinaNetHead``, built identically
(same parameters, names, initialisation and random draws), so RefineFace with every module off
is the FaceRetinaNet baseline.
"""
from typing import List, Sequence

from torch import Tensor

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from facelib.modeling.dense_outputs import HeadOutputs

from .rfe import replace_middle_convs

__all__ = ["RefineFaceHead"]


class RefineFaceHead(RetinaNetHead):
    """``forward(features)`` -> :class:`HeadOutputs`: ``logits`` / ``deltas`` of the second step
    (the P levels) and, when ``features`` is a :class:`TwoStepFeatures` with first-step levels,
    ``extras["first_logits"]`` / ``extras["first_deltas"]`` of the first step.

    The class subnet and predictor are shared by the two steps. The box subnet and predictor are
    shared too with ``share_box_head`` (SRN code), else the first step has its own
    (``first_bbox_subnet`` / ``first_bbox_pred``). With BN, every (subnet, level) pair has its own
    statistics (detectron2's domain-specific ``CycleBatchNormList``), the first-step levels
    counted before the second-step ones.
    """

    @configurable
    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        first_step_shape: Sequence[ShapeSpec] = (),
        share_box_head: bool = False,
        rfe: bool = False,
        **kwargs,
    ):
        first_step_shape = list(first_step_shape)
        self.num_first = len(first_step_shape)
        super().__init__(input_shape=first_step_shape + list(input_shape), **kwargs)
        self.share_box_head = bool(share_box_head)
        if self.num_first and not self.share_box_head:
            # own box subnets per step, each with one BN per level of its step
            second = RetinaNetHead(input_shape=list(input_shape), **kwargs)
            first = RetinaNetHead(input_shape=first_step_shape, **kwargs)
            self.bbox_subnet = second.bbox_subnet
            self.first_bbox_subnet, self.first_bbox_pred = first.bbox_subnet, first.bbox_pred
        if rfe:
            channels = input_shape[0].channels
            self.cls_subnet = replace_middle_convs(self.cls_subnet, channels)
            self.bbox_subnet = replace_middle_convs(self.bbox_subnet, channels)
            if hasattr(self, "first_bbox_subnet"):
                self.first_bbox_subnet = replace_middle_convs(self.first_bbox_subnet, channels)

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec], first_step_shape: Sequence[ShapeSpec] = ()):
        ret = super().from_config(cfg, input_shape)
        ret["first_step_shape"] = list(first_step_shape)
        ret["share_box_head"] = cfg.MODEL.REFINEFACE.FIRST_STEP.SHARE_BOX_HEAD
        ret["rfe"] = cfg.MODEL.REFINEFACE.RFE.ENABLED
        return ret

    def forward(self, features: List[Tensor]) -> HeadOutputs:
        first = list(getattr(features, "first_step", []))
        second = list(features)
        if len(first) != self.num_first:
            raise ValueError(f"RefineFaceHead was built for {self.num_first} first-step levels, got {len(first)}")
        logits = [self.cls_score(self.cls_subnet(f)) for f in first + second]
        if self.num_first and not self.share_box_head:
            first_deltas = [self.first_bbox_pred(self.first_bbox_subnet(f)) for f in first]
            second_deltas = [self.bbox_pred(self.bbox_subnet(f)) for f in second]
        else:
            deltas = [self.bbox_pred(self.bbox_subnet(f)) for f in first + second]
            first_deltas, second_deltas = deltas[: self.num_first], deltas[self.num_first:]
        out = HeadOutputs(logits=logits[self.num_first:], deltas=second_deltas)
        if self.num_first:
            out.extras["first_logits"] = logits[: self.num_first]
            out.extras["first_deltas"] = first_deltas
        return out

