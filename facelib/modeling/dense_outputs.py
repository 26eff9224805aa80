"""The data passed between the steps of a dense (single-shot) face detector.

* :class:`HeadOutputs` -- what a head returns: per-level ``logits`` and ``deltas`` plus named
  method extras (FAN's ``"attention"`` logits, a second step's outputs, ...), never a positional
  list read as ``predictions[2]``;
* :class:`LossContext` -- everything a loss may need (images, features, outputs, targets, anchors,
  assigned labels / boxes), handed to ``losses`` and ``extra_losses`` as one object;
* :class:`AnchorPredictions` -- one image's predicted scores and decoded boxes for every anchor,
  computed on first use, seen by the label-assignment hook (MogFace's Ali-AMS ranks candidate
  anchors by the current forward pass's face scores).

Anchors come in two forms (see :mod:`facelib.modeling.anchor_sets`): shared by the batch (a list
over levels of ``Boxes`` with (R_l, 4) tensors, what detectron2's anchor generators return) or per
image (a list over levels of (N, R_l, 4) tensors, e.g. first-step-refined anchors).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from torch import Tensor

from detectron2.structures import ImageList, Instances

__all__ = ["HeadOutputs", "LossContext", "AnchorPredictions"]


@dataclass
class HeadOutputs:
    """Per-level head outputs: ``logits`` / ``deltas`` are lists over levels of (N, A*K, H, W) /
    (N, A*4, H, W) tensors; ``extras`` maps a name to any further per-level list."""

    logits: List[Tensor]
    deltas: List[Tensor]
    extras: Dict[str, List[Tensor]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> List[Tensor]:
        """``outputs["attention"]``: an extra by name (a clear KeyError naming the known ones)."""
        if name in ("logits", "deltas"):
            return getattr(self, name)
        if name not in self.extras:
            raise KeyError(f"head outputs have no {name!r}; they have logits, deltas, {sorted(self.extras)}")
        return self.extras[name]

    def __contains__(self, name: str) -> bool:
        return name in ("logits", "deltas") or name in self.extras


@dataclass
class AnchorPredictions:
    """Predicted class scores (R, K) (sigmoid of the logits) and boxes (R, 4) (deltas applied to
    the anchors) of every anchor of image ``index``, from the batch's per-level (N, R_l, K) /
    (N, R_l, 4) outputs. Both are computed on first access, without gradient, so label assignment
    that does not look at them costs nothing."""

    pred_logits: List[Tensor]
    pred_deltas: List[Tensor]
    index: int
    anchors: Tensor
    box2box_transform: object
    _scores: Optional[Tensor] = None
    _boxes: Optional[Tensor] = None

    @property
    def scores(self) -> Tensor:
        if self._scores is None:
            self._scores = torch.cat([x[self.index].detach() for x in self.pred_logits]).sigmoid()
        return self._scores

    @property
    def boxes(self) -> Tensor:
        if self._boxes is None:
            deltas = torch.cat([x[self.index].detach() for x in self.pred_deltas])
            self._boxes = self.box2box_transform.apply_deltas(deltas, self.anchors)
        return self._boxes


@dataclass
class LossContext:
    """One training step's inputs to the losses.

    ``pred_logits`` / ``pred_deltas``: lists over levels of (N, R_l, K) / (N, R_l, 4) (transposed
    head outputs); ``anchors``: shared or per image (module docstring); ``gt_labels`` /
    ``gt_boxes``: per image (R,) int64 in {-1 ignore, 0..K-1, K background} / (R, 4).
    """

    images: ImageList
    features: List[Tensor]
    outputs: HeadOutputs
    gt_instances: List[Instances]
    anchors: list
    pred_logits: List[Tensor]
    pred_deltas: List[Tensor]
    gt_labels: List[Tensor]
    gt_boxes: List[Tensor]
