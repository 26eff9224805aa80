"""``FaceRetinaNet``: detectron2's RetinaNet made the base of facelib's single-shot face detectors.

What it adds to :class:`detectron2.modeling.RetinaNet` (whose head, focal loss, box transform,
decoding and NMS it reuses unchanged):

* label assignment honours ``instances.gt_ignore`` (``MODEL.FACE_RETINANET.GT_IGNORE_MODE``):
  anchors whose best match is an ignored face get label -1 (neither positive nor negative);
* configurable matcher (``MODEL.RETINANET.IOU_THRESHOLDS`` / ``IOU_LABELS``,
  ``MODEL.FACE_RETINANET.ALLOW_LOW_QUALITY_MATCHES``), regression loss
  (``MODEL.RETINANET.BBOX_REG_LOSS_TYPE`` in smooth_l1 / l1 / giou / diou / ciou) and loss weights;
* small overridable hooks, so later methods change one step without copying the rest::

      forward(batched_inputs)
        images      = preprocess_image(batched_inputs)
        features    = forward_features(images)             # backbone + level selection
        predictions = head_outputs(features)               # [logits, deltas, *extra]
        training:  forward_training(images, features, predictions, gt_instances)
                     anchors = anchor_generator(features)
                     gt_labels, gt_boxes = label_anchors(anchors, gt_instances)
                         -> match_anchors_per_image(anchors, gt_per_image)      (per image)
                         -> ignored_anchor_mask(anchors, ignored_gt, ...)       (gt_ignore)
                     losses(anchors, pred_logits, gt_labels, pred_deltas, gt_boxes)
                         -> classification_loss(...), box_regression_loss(...)
                     + extra_losses(images, features, predictions, gt_instances, anchors,
                                    gt_labels, gt_boxes)                   # {} here
        inference: forward_inference(images, features, predictions)
                     -> inference_single_image(anchors, scores, deltas, image_size)

  e.g. FAN adds an attention branch (head returns a third output, ``extra_losses`` supervises it),
  RefineFace's STC/STR override ``head_outputs`` / ``losses`` / ``inference_single_image``,
  MogFace overrides ``match_anchors_per_image``.

Training ``Instances`` carry ``gt_boxes``, ``gt_classes``, optional ``gt_ignore`` (bool)
(docs/data_format.md). Inference returns ``[{"instances": Instances(pred_boxes, scores,
pred_classes)}]`` in the coordinates of the input dict's ``height`` / ``width`` (the original
image), as every detectron2 model.
"""
import logging
from typing import Dict, List, Optional, Tuple

import torch
from fvcore.nn import sigmoid_focal_loss_jit
from torch import Tensor
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling.anchor_generator import build_anchor_generator
from detectron2.modeling.backbone import build_backbone
from detectron2.modeling.box_regression import Box2BoxTransform, _dense_box_regression_loss
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.retinanet import RetinaNet, RetinaNetHead
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, ImageList, Instances, pairwise_iou
from detectron2.utils.events import get_event_storage

from . import anchors as _anchors  # noqa: F401  (registers FaceAnchorGenerator)
from . import retinanet_config as _retinanet_config  # noqa: F401  (registers the config keys)

__all__ = ["FaceRetinaNet", "GT_IGNORE_MODES", "BOX_REG_LOSS_TYPES"]

logger = logging.getLogger(__name__)

GT_IGNORE_MODES = ("ignore", "drop", "keep")
BOX_REG_LOSS_TYPES = ("smooth_l1", "l1", "giou", "diou", "ciou")


def _put_scalar(name: str, value: float) -> None:
    """``EventStorage.put_scalar`` when a storage is open (training loop), else nothing."""
    try:
        storage = get_event_storage()
    except AssertionError:
        return
    storage.put_scalar(name, value)


@META_ARCH_REGISTRY.register()
class FaceRetinaNet(RetinaNet):
    """RetinaNet with face-specific label assignment and hooks; see the module docstring."""

    @configurable
    def __init__(
        self,
        *,
        gt_ignore_mode: str = "ignore",
        ignore_iou_threshold: float = 0.4,
        loss_cls_weight: float = 1.0,
        loss_box_reg_weight: float = 1.0,
        loss_normalizer_momentum: float = 0.9,
        loss_normalizer_init: float = 100.0,
        **kwargs,
    ):
        """
        Args:
            gt_ignore_mode: "ignore" | "drop" | "keep" (see ``MODEL.FACE_RETINANET.GT_IGNORE_MODE``).
            ignore_iou_threshold: minimum IoU with an ignored face for an anchor to be ignored.
            loss_cls_weight, loss_box_reg_weight: multipliers of the two losses.
            loss_normalizer_momentum, loss_normalizer_init: EMA of the number of positives.
            **kwargs: the arguments of :class:`RetinaNet` (``box_reg_loss_type`` also accepts "l1").
        """
        if gt_ignore_mode not in GT_IGNORE_MODES:
            raise ValueError(f"gt_ignore_mode must be one of {GT_IGNORE_MODES}, got {gt_ignore_mode!r}")
        reg_type = kwargs.get("box_reg_loss_type", "smooth_l1")
        if reg_type not in BOX_REG_LOSS_TYPES:
            raise ValueError(f"box_reg_loss_type must be one of {BOX_REG_LOSS_TYPES}, got {reg_type!r}")
        if reg_type == "l1":  # smooth-L1 with beta 0 is exactly L1 (fvcore.nn.smooth_l1_loss)
            kwargs["box_reg_loss_type"] = "smooth_l1"
            kwargs["smooth_l1_beta"] = 0.0
        super().__init__(**kwargs)
        self.gt_ignore_mode = gt_ignore_mode
        self.ignore_iou_threshold = float(ignore_iou_threshold)
        self.loss_cls_weight = float(loss_cls_weight)
        self.loss_box_reg_weight = float(loss_box_reg_weight)
        self.loss_normalizer_momentum = float(loss_normalizer_momentum)
        self.loss_normalizer_init = float(loss_normalizer_init)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        backbone_shape = backbone.output_shape()
        feature_shapes = [backbone_shape[f] for f in cfg.MODEL.RETINANET.IN_FEATURES]
        fr = cfg.MODEL.get("FACE_RETINANET", None)

        def _get(key, default):
            return fr.get(key, default) if fr is not None else default

        return {
            "backbone": backbone,
            "head": cls.build_head(cfg, feature_shapes),
            "anchor_generator": cls.build_anchor_generator(cfg, feature_shapes),
            "box2box_transform": Box2BoxTransform(weights=cfg.MODEL.RETINANET.BBOX_REG_WEIGHTS),
            "anchor_matcher": cls.build_anchor_matcher(cfg),
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "num_classes": cfg.MODEL.RETINANET.NUM_CLASSES,
            "head_in_features": cfg.MODEL.RETINANET.IN_FEATURES,
            # losses
            "focal_loss_alpha": cfg.MODEL.RETINANET.FOCAL_LOSS_ALPHA,
            "focal_loss_gamma": cfg.MODEL.RETINANET.FOCAL_LOSS_GAMMA,
            "smooth_l1_beta": cfg.MODEL.RETINANET.SMOOTH_L1_LOSS_BETA,
            "box_reg_loss_type": cfg.MODEL.RETINANET.BBOX_REG_LOSS_TYPE,
            "gt_ignore_mode": _get("GT_IGNORE_MODE", "ignore"),
            "ignore_iou_threshold": _get("IGNORE_IOU_THRESHOLD", cfg.MODEL.RETINANET.IOU_THRESHOLDS[0]),
            "loss_cls_weight": _get("LOSS_CLS_WEIGHT", 1.0),
            "loss_box_reg_weight": _get("LOSS_BOX_REG_WEIGHT", 1.0),
            "loss_normalizer_momentum": _get("LOSS_NORMALIZER_MOMENTUM", 0.9),
            "loss_normalizer_init": _get("LOSS_NORMALIZER_INIT", 100.0),
            # inference
            "test_score_thresh": cfg.MODEL.RETINANET.SCORE_THRESH_TEST,
            "test_topk_candidates": cfg.MODEL.RETINANET.TOPK_CANDIDATES_TEST,
            "test_nms_thresh": cfg.MODEL.RETINANET.NMS_THRESH_TEST,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "vis_period": cfg.VIS_PERIOD,
            "input_format": cfg.INPUT.FORMAT,
        }

    @classmethod
    def build_head(cls, cfg, feature_shapes):
        """The prediction head; must return ``[logits, deltas, *extra]`` per-level lists."""
        return RetinaNetHead(cfg, feature_shapes)

    @classmethod
    def build_anchor_generator(cls, cfg, feature_shapes):
        return build_anchor_generator(cfg, feature_shapes)

    @classmethod
    def build_anchor_matcher(cls, cfg):
        fr = cfg.MODEL.get("FACE_RETINANET", None)
        low_quality = fr.get("ALLOW_LOW_QUALITY_MATCHES", True) if fr is not None else True
        return Matcher(
            list(cfg.MODEL.RETINANET.IOU_THRESHOLDS),
            list(cfg.MODEL.RETINANET.IOU_LABELS),
            allow_low_quality_matches=low_quality,
        )

    # ------------------------------------------------------------------ forward
    def forward(self, batched_inputs: List[Dict[str, Tensor]]):
        """Same contract as :meth:`DenseDetector.forward`, split into the hooks above."""
        images = self.preprocess_image(batched_inputs)
        features = self.forward_features(images)
        predictions = self.head_outputs(features)

        if self.training:
            assert "instances" in batched_inputs[0], "Instance annotations are missing in training!"
            gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
            return self.forward_training(images, features, predictions, gt_instances)

        results = self.forward_inference(images, features, predictions)
        processed_results = []
        for results_per_image, input_per_image, image_size in zip(
            results, batched_inputs, images.image_sizes
        ):
            height = input_per_image.get("height", image_size[0])
            width = input_per_image.get("width", image_size[1])
            processed_results.append({"instances": detector_postprocess(results_per_image, height, width)})
        return processed_results

    def forward_features(self, images: ImageList) -> List[Tensor]:
        """Backbone features of ``self.head_in_features``, ordered as the anchors' levels."""
        features = self.backbone(images.tensor)
        return [features[f] for f in self.head_in_features]

    def head_outputs(self, features: List[Tensor]) -> List[List[Tensor]]:
        """``[logits, deltas, *extra]``: each a list over levels of (N, A*K, Hi, Wi) tensors."""
        return list(self.head(features))

    def transpose_predictions(self, predictions) -> Tuple[List[Tensor], List[Tensor]]:
        """(N, A*K, H, W) per level -> (N, H*W*A, K) for the first two outputs (logits, deltas)."""
        return self._transpose_dense_predictions(list(predictions[:2]), [self.num_classes, 4])

    def forward_training(self, images, features, predictions, gt_instances):
        pred_logits, pred_anchor_deltas = self.transpose_predictions(predictions)
        anchors = self.anchor_generator(features)
        gt_labels, gt_boxes = self.label_anchors(anchors, gt_instances)
        losses = self.losses(anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes)
        extra = self.extra_losses(
            images, features, predictions, gt_instances, anchors, gt_labels, gt_boxes
        )
        overlap = set(losses) & set(extra)
        assert not overlap, f"extra_losses redefines {overlap}"
        losses.update(extra)
        return losses

    def extra_losses(
        self, images, features, predictions, gt_instances, anchors, gt_labels, gt_boxes
    ) -> Dict[str, Tensor]:
        """Hook for method-specific losses (FAN's attention maps, ...). None here."""
        return {}

    # ------------------------------------------------------------------ label assignment
    @torch.no_grad()
    def label_anchors(self, anchors: List[Boxes], gt_instances: List[Instances]):
        """
        Returns:
            list[Tensor]: per image, (R,) int64 labels in {-1 (ignore), 0..K-1, K (background)}.
            list[Tensor]: per image, (R, 4) matched gt boxes (defined for positives only).
        """
        anchors = Boxes.cat(anchors)
        gt_labels, matched_gt_boxes = [], []
        for gt_per_image in gt_instances:
            labels_i, boxes_i = self.match_anchors_per_image(anchors, gt_per_image)
            gt_labels.append(labels_i)
            matched_gt_boxes.append(boxes_i)
        return gt_labels, matched_gt_boxes

    def split_ignored(self, gt_per_image: Instances) -> Tuple[Instances, Optional[Boxes]]:
        """``(targets, ignored_boxes)`` according to ``gt_ignore_mode``.

        ``targets`` are the faces anchors are matched to; ``ignored_boxes`` (or None) those whose
        anchors are to be ignored.
        """
        if self.gt_ignore_mode == "keep" or not gt_per_image.has("gt_ignore") or len(gt_per_image) == 0:
            return gt_per_image, None
        ignore = gt_per_image.gt_ignore.to(torch.bool)
        targets = gt_per_image[~ignore]
        if self.gt_ignore_mode == "drop" or not bool(ignore.any()):
            return targets, None
        return targets, gt_per_image.gt_boxes[ignore]

    def match_anchors_per_image(self, anchors: Boxes, gt_per_image: Instances):
        """Labels and matched boxes of all anchors (``Boxes``, R) of one image.

        The matcher sees the non-ignored faces only (so low-quality matching never makes an
        ignored face's anchor positive); then :meth:`ignored_anchor_mask` sets -1.
        """
        targets, ignored_boxes = self.split_ignored(gt_per_image)
        if len(targets) > 0:
            match_quality_matrix = pairwise_iou(targets.gt_boxes, anchors)
            matched_idxs, anchor_labels = self.anchor_matcher(match_quality_matrix)
            best_iou = match_quality_matrix.max(dim=0).values
            del match_quality_matrix
            matched_gt_boxes_i = targets.gt_boxes.tensor[matched_idxs]
            gt_labels_i = targets.gt_classes[matched_idxs].to(torch.int64)
            gt_labels_i[anchor_labels == 0] = self.num_classes
            gt_labels_i[anchor_labels == -1] = -1
        else:
            best_iou = torch.zeros(len(anchors), device=anchors.tensor.device)
            matched_gt_boxes_i = torch.zeros_like(anchors.tensor)
            gt_labels_i = torch.full(
                (len(anchors),), self.num_classes, dtype=torch.int64, device=anchors.tensor.device
            )
        if ignored_boxes is not None:
            gt_labels_i[self.ignored_anchor_mask(anchors, ignored_boxes, best_iou)] = -1
        return gt_labels_i, matched_gt_boxes_i

    def ignored_anchor_mask(self, anchors: Boxes, ignored_boxes: Boxes, best_target_iou: Tensor) -> Tensor:
        """(R,) bool: anchors whose best match is an ignored face.

        An anchor is ignored when its largest IoU with an ignored face is >=
        ``ignore_iou_threshold`` and strictly larger than its largest IoU with any target face
        (ties go to the target face).
        """
        iou_ignored = pairwise_iou(ignored_boxes, anchors).max(dim=0).values
        return (iou_ignored >= self.ignore_iou_threshold) & (iou_ignored > best_target_iou)

    # ------------------------------------------------------------------ losses
    def losses(self, anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes):
        """
        Args:
            anchors: list over levels of Boxes; pred_logits / pred_anchor_deltas: lists over
                levels of (N, Ri, K) / (N, Ri, 4); gt_labels / gt_boxes: per image (R,) / (R, 4).

        Returns:
            dict with "loss_cls" and "loss_box_reg", each normalised by the EMA of the number of
            positive anchors and multiplied by its weight.
        """
        num_images = len(gt_labels)
        gt_labels = torch.stack(gt_labels)  # (N, R)
        valid_mask = gt_labels >= 0
        pos_mask = valid_mask & (gt_labels != self.num_classes)
        num_pos_anchors = pos_mask.sum().item()
        _put_scalar("num_pos_anchors", num_pos_anchors / num_images)
        _put_scalar("num_ignored_anchors", (~valid_mask).sum().item() / num_images)
        normalizer = self._ema_update(
            "loss_normalizer",
            max(num_pos_anchors, 1),
            self.loss_normalizer_init,
            self.loss_normalizer_momentum,
        )
        loss_cls = self.classification_loss(pred_logits, gt_labels, valid_mask)
        loss_box_reg = self.box_regression_loss(anchors, pred_anchor_deltas, gt_boxes, pos_mask)
        return {
            "loss_cls": self.loss_cls_weight * loss_cls / normalizer,
            "loss_box_reg": self.loss_box_reg_weight * loss_box_reg / normalizer,
        }

    def classification_loss(self, pred_logits: List[Tensor], gt_labels: Tensor, valid_mask: Tensor) -> Tensor:
        """Summed sigmoid focal loss (fvcore) over non-ignored anchors; background = all-zero target."""
        gt_labels_target = F.one_hot(gt_labels[valid_mask], num_classes=self.num_classes + 1)[:, :-1]
        return sigmoid_focal_loss_jit(
            cat(pred_logits, dim=1)[valid_mask],
            gt_labels_target.to(pred_logits[0].dtype),
            alpha=self.focal_loss_alpha,
            gamma=self.focal_loss_gamma,
            reduction="sum",
        )

    def box_regression_loss(self, anchors, pred_anchor_deltas, gt_boxes, pos_mask) -> Tensor:
        """Summed regression loss over positives (detectron2's ``_dense_box_regression_loss``)."""
        return _dense_box_regression_loss(
            anchors,
            self.box2box_transform,
            pred_anchor_deltas,
            gt_boxes,
            pos_mask,
            box_reg_loss_type=self.box_reg_loss_type,
            smooth_l1_beta=self.smooth_l1_beta,
        )

    # ------------------------------------------------------------------ inference
    def forward_inference(self, images: ImageList, features: List[Tensor], predictions: List[List[Tensor]]):
        pred_logits, pred_anchor_deltas = self.transpose_predictions(predictions)
        anchors = self.anchor_generator(features)
        results: List[Instances] = []
        for img_idx, image_size in enumerate(images.image_sizes):
            scores_per_image = [x[img_idx].sigmoid() for x in pred_logits]
            deltas_per_image = [x[img_idx] for x in pred_anchor_deltas]
            results.append(
                self.inference_single_image(anchors, scores_per_image, deltas_per_image, image_size)
            )
        return results
