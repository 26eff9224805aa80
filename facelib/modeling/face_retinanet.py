"""``FaceRetinaNet``: detectron2's RetinaNet made the base of facelib's single-shot face detectors.

What it adds to :class:`detectron2.modeling.RetinaNet` (whose head, focal loss, box transform
and anchor generators it reuses):

* label assignment honours ``instances.gt_ignore`` (``MODEL.FACE_RETINANET.GT_IGNORE_MODE``):
  anchors whose best match is an ignored face get label -1 (neither positive nor negative);
* configurable matcher (``MODEL.RETINANET.IOU_THRESHOLDS`` / ``IOU_LABELS``,
  ``MODEL.FACE_RETINANET.ALLOW_LOW_QUALITY_MATCHES``), regression loss
  (``MODEL.RETINANET.BBOX_REG_LOSS_TYPE`` in smooth_l1 / l1 / giou / diou / ciou) and loss weights;
* named head outputs, one loss context, anchors shared or per image, batched inference
  (:mod:`.dense_outputs`, :mod:`.anchor_sets`, :mod:`.dense_inference`);
* small overridable hooks, so later methods change one step without copying the rest::

      forward(batched_inputs)
        images   = preprocess_image(batched_inputs)
        features = forward_features(images)                 # backbone + level selection
        outputs  = head_outputs(features)                   # HeadOutputs(logits, deltas, extras)
        anchors  = anchors_for(features)                    # cached per map size and device
        training:  forward_training(images, features, outputs, gt_instances)
                     pred_logits, pred_deltas = transpose_predictions(outputs)
                     gt_labels, gt_boxes = label_anchors(anchors, gt_instances, pred_logits, pred_deltas)
                         -> match_anchors_per_image(anchors_i, gt_i, predictions_i)  (per image;
                            predictions_i = AnchorPredictions: scores / decoded boxes, lazily)
                            -> refine_assignment(...)  (after the IoU matcher; identity here)
                         -> ignored_anchor_mask(anchors_i, ignored_gt, ...)          (gt_ignore)
                     ctx = LossContext(images, features, outputs, gt_instances, anchors, ...)
                     losses(ctx)          -> classification_loss(...), box_regression_loss(...)
                     + extra_losses(ctx)  # {} here
        inference: forward_inference(images, features, outputs, output_sizes)
                     -> inference_predictions(...)  (transposed logits / deltas; filters allowed)
                     -> inference_anchors(...)  (the anchors decoding uses; per image allowed)
                     -> decode_batched / select_per_image / rescale_and_split   (whole batch)

  e.g. FAN adds an attention branch (its head returns ``extras["attention"]``, ``extra_losses``
  supervises it); RefineFace's STR returns per-image refined anchors from ``inference_anchors``
  and matches against them; MogFace overrides ``refine_assignment`` and reads the predicted
  scores it is given.

Training ``Instances`` carry ``gt_boxes``, ``gt_classes``, optional ``gt_ignore`` (bool)
(docs/data_format.md). Inference returns ``[{"instances": Instances(pred_boxes, scores,
pred_classes)}]`` in the coordinates of the input dict's ``height`` / ``width`` (the original
image), as every detectron2 model.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

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
from detectron2.structures import Boxes, ImageList, Instances, pairwise_iou

from facelib.utils.events import put_scalar

from . import anchors as _anchors  # noqa: F401  (registers FaceAnchorGenerator)
from . import retinanet_config as _retinanet_config  # noqa: F401  (registers the config keys)
from .anchor_sets import anchors_of_image, check_anchors, is_per_image, level_sizes
from .dense_inference import decode_batched, rescale_and_split, select_per_image
from .dense_outputs import AnchorPredictions, HeadOutputs, LossContext

__all__ = ["FaceRetinaNet", "GT_IGNORE_MODES", "BOX_REG_LOSS_TYPES"]

logger = logging.getLogger(__name__)

GT_IGNORE_MODES = ("ignore", "drop", "keep")
BOX_REG_LOSS_TYPES = ("smooth_l1", "l1", "giou", "diou", "ciou")

# Anchor sets kept per (feature-map sizes, device, dtype); more distinct input sizes than this
# (multi-scale tests) start the cache afresh.
ANCHOR_CACHE_SIZE = 32


@META_ARCH_REGISTRY.register()
class FaceRetinaNet(RetinaNet):
    """RetinaNet with face-specific label assignment and hooks; see the module docstring."""

    @configurable
    def __init__(
        self,
        *,
        gt_ignore_mode: str,
        ignore_iou_threshold: float,
        loss_cls_weight: float,
        loss_box_reg_weight: float,
        loss_normalizer_momentum: float,
        loss_normalizer_init: float,
        **kwargs,
    ):
        """
        Args:
            gt_ignore_mode: "ignore" | "drop" | "keep" (see ``MODEL.FACE_RETINANET.GT_IGNORE_MODE``).
            ignore_iou_threshold: minimum IoU with an ignored face for an anchor to be ignored.
            loss_cls_weight, loss_box_reg_weight: multipliers of the two losses.
            loss_normalizer_momentum, loss_normalizer_init: EMA of the number of positives.
            **kwargs: the arguments of :class:`RetinaNet` (``box_reg_loss_type`` also accepts "l1").

        Defaults live in the config only (``add_face_retinanet_config``).
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
        self._anchor_cache: Dict[tuple, List[Boxes]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg):
        backbone = build_backbone(cfg)
        backbone_shape = backbone.output_shape()
        feature_shapes = [backbone_shape[f] for f in cfg.MODEL.RETINANET.IN_FEATURES]
        fr = cfg.MODEL.FACE_RETINANET
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
            "gt_ignore_mode": fr.GT_IGNORE_MODE,
            "ignore_iou_threshold": fr.IGNORE_IOU_THRESHOLD,
            "loss_cls_weight": fr.LOSS_CLS_WEIGHT,
            "loss_box_reg_weight": fr.LOSS_BOX_REG_WEIGHT,
            "loss_normalizer_momentum": fr.LOSS_NORMALIZER_MOMENTUM,
            "loss_normalizer_init": fr.LOSS_NORMALIZER_INIT,
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
        """The prediction head: returns :class:`HeadOutputs`, or ``(logits, deltas)`` lists
        (detectron2's heads), which :meth:`head_outputs` names."""
        return RetinaNetHead(cfg, feature_shapes)

    def anchor_scales_per_level(self) -> List[List[float]]:
        """sqrt(area) of every cell anchor, per level (works for any anchor generator)."""
        out = []
        for cell in self.anchor_generator.cell_anchors:
            wh = (cell[:, 2:] - cell[:, :2]).double()
            out.append(torch.sqrt(wh[:, 0] * wh[:, 1]).tolist())
        return out

    @classmethod
    def build_anchor_generator(cls, cfg, feature_shapes):
        return build_anchor_generator(cfg, feature_shapes)

    @classmethod
    def build_anchor_matcher(cls, cfg):
        return Matcher(
            list(cfg.MODEL.RETINANET.IOU_THRESHOLDS),
            list(cfg.MODEL.RETINANET.IOU_LABELS),
            allow_low_quality_matches=cfg.MODEL.FACE_RETINANET.ALLOW_LOW_QUALITY_MATCHES,
        )

    # ------------------------------------------------------------------ forward
    def forward(self, batched_inputs: List[Dict[str, Tensor]]):
        """Same contract as :meth:`DenseDetector.forward`, split into the hooks above."""
        images = self.preprocess_image(batched_inputs)
        features = self.forward_features(images)
        outputs = self.head_outputs(features)

        if self.training:
            assert "instances" in batched_inputs[0], "Instance annotations are missing in training!"
            gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
            return self.forward_training(images, features, outputs, gt_instances)

        output_sizes = [
            (int(x.get("height", s[0])), int(x.get("width", s[1])))
            for x, s in zip(batched_inputs, images.image_sizes)
        ]
        results = self.forward_inference(images, features, outputs, output_sizes)
        return [{"instances": r} for r in results]

    def forward_features(self, images: ImageList) -> List[Tensor]:
        """Backbone features of ``self.head_in_features``, ordered as the anchors' levels."""
        features = self.backbone(images.tensor)
        return [features[f] for f in self.head_in_features]

    def head_outputs(self, features: List[Tensor]) -> HeadOutputs:
        """The head's outputs, named (a head may return ``HeadOutputs`` itself)."""
        out = self.head(features)
        if isinstance(out, HeadOutputs):
            return out
        logits, deltas = out
        return HeadOutputs(logits=list(logits), deltas=list(deltas))

    def transpose_predictions(self, outputs: HeadOutputs) -> Tuple[List[Tensor], List[Tensor]]:
        """(N, A*K, H, W) per level -> (N, H*W*A, K) for ``logits`` and (N, H*W*A, 4) for ``deltas``."""
        return self._transpose_dense_predictions([outputs.logits, outputs.deltas], [self.num_classes, 4])

    def inference_predictions(self, images, features, outputs: HeadOutputs) -> Tuple[List[Tensor], List[Tensor]]:
        """The (N, R_l, K) logits and (N, R_l, 4) deltas decoding uses: the transposed head
        outputs here; a method may filter anchors out first (RefineFace's STC sets the logits of
        the anchors its first step rejects to -inf)."""
        return self.transpose_predictions(outputs)

    def anchors_for(self, features: List[Tensor]) -> List[Boxes]:
        """The anchor generator's anchors for these feature maps, cached per map sizes and device
        (anchors depend on nothing else)."""
        key = (tuple(tuple(f.shape[-2:]) for f in features), features[0].device, features[0].dtype)
        anchors = self._anchor_cache.get(key)
        if anchors is None:
            if len(self._anchor_cache) >= ANCHOR_CACHE_SIZE:
                self._anchor_cache.clear()
            anchors = self.anchor_generator(features)
            self._anchor_cache[key] = anchors
        return anchors

    def _apply(self, fn, *args, **kwargs):
        # .to() / .cuda() / .half(): cached anchors of the old device or dtype are stale
        self._anchor_cache = {}
        return super()._apply(fn, *args, **kwargs)

    def training_anchors(self, images, features, outputs: HeadOutputs):
        """Anchors the losses use: the generator's (shared) by default; a method may return
        per-image anchors ((N, R_l, 4) per level), e.g. refined by a first step."""
        return self.anchors_for(features)

    def inference_anchors(self, images, features, outputs: HeadOutputs):
        """Anchors decoding uses (shared or per image); the same as :meth:`training_anchors`."""
        return self.training_anchors(images, features, outputs)

    def loss_context(self, images, features, outputs: HeadOutputs, gt_instances) -> LossContext:
        """Transposed predictions, training anchors and their labels, in one :class:`LossContext`."""
        pred_logits, pred_deltas = self.transpose_predictions(outputs)
        anchors = self.training_anchors(images, features, outputs)
        gt_labels, gt_boxes = self.label_anchors(anchors, gt_instances, pred_logits, pred_deltas)
        return LossContext(
            images=images, features=features, outputs=outputs, gt_instances=gt_instances,
            anchors=anchors, pred_logits=pred_logits, pred_deltas=pred_deltas,
            gt_labels=gt_labels, gt_boxes=gt_boxes,
        )

    def forward_training(self, images, features, outputs: HeadOutputs, gt_instances):
        ctx = self.loss_context(images, features, outputs, gt_instances)
        losses = self.losses(ctx)
        extra = self.extra_losses(ctx)
        overlap = set(losses) & set(extra)
        assert not overlap, f"extra_losses redefines {overlap}"
        losses.update(extra)
        return losses

    def extra_losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        """Hook for method-specific losses (FAN's attention maps, ...). None here."""
        return {}

    # ------------------------------------------------------------------ label assignment
    @torch.no_grad()
    def label_anchors(
        self,
        anchors,
        gt_instances: List[Instances],
        pred_logits: Optional[List[Tensor]] = None,
        pred_deltas: Optional[List[Tensor]] = None,
        matcher: Optional[Matcher] = None,
    ):
        """
        Args:
            anchors: shared (list of ``Boxes``) or per-image ((N, R_l, 4)) anchors per level.
            pred_logits / pred_deltas: the transposed head outputs; when given, each image's
                :class:`AnchorPredictions` (scores / decoded boxes, computed on first use) reach
                :meth:`match_anchors_per_image`.
            matcher: the IoU matcher to use; None = ``self.anchor_matcher`` (a method with
                several steps matches each with its own thresholds, e.g. RefineFace's first step).

        Returns:
            list[Tensor]: per image, (R,) int64 labels in {-1 (ignore), 0..K-1, K (background)}.
            list[Tensor]: per image, (R, 4) matched gt boxes (defined for positives only).
        """
        check_anchors(anchors, len(gt_instances))
        sizes = level_sizes(anchors)
        shared = None if is_per_image(anchors) else anchors_of_image(anchors, 0)
        gt_labels, matched_gt_boxes = [], []
        for i, gt_per_image in enumerate(gt_instances):
            anchors_i = shared if shared is not None else anchors_of_image(anchors, i)
            preds_i = None
            if pred_logits is not None and pred_deltas is not None:
                preds_i = AnchorPredictions(
                    pred_logits, pred_deltas, i, anchors_i.tensor, self.box2box_transform
                )
            labels_i, boxes_i = self.match_anchors_per_image(
                anchors_i, gt_per_image, preds_i, matcher=matcher, level_sizes=sizes
            )
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

    def match_anchors_per_image(
        self,
        anchors: Boxes,
        gt_per_image: Instances,
        predictions: Optional[AnchorPredictions] = None,
        matcher: Optional[Matcher] = None,
        level_sizes: Optional[List[int]] = None,
    ):
        """Labels and matched boxes of all anchors (``Boxes``, R) of one image, by ``matcher``
        (None = ``self.anchor_matcher``). ``level_sizes``: the number of anchors of each pyramid
        level in ``anchors`` (levels concatenated in order), passed on to :meth:`refine_assignment`.

        The matcher sees the non-ignored faces only (so low-quality matching never makes an
        ignored face's anchor positive); then :meth:`ignored_anchor_mask` sets -1. ``predictions``
        (this image's scores / boxes per anchor, or None) is unused here; assignment rules that
        depend on the current predictions override this method and read it.
        """
        targets, ignored_boxes = self.split_ignored(gt_per_image)
        if len(targets) > 0:
            match_quality_matrix = pairwise_iou(targets.gt_boxes, anchors)
            matched_idxs, anchor_labels = (matcher or self.anchor_matcher)(match_quality_matrix)
            matched_idxs, anchor_labels = self.refine_assignment(
                anchors, targets, matched_idxs, anchor_labels, predictions, level_sizes
            )
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

    def refine_assignment(
        self,
        anchors: Boxes,
        targets: Instances,
        matched_idxs: Tensor,
        anchor_labels: Tensor,
        predictions: Optional[AnchorPredictions],
        level_sizes: Optional[List[int]] = None,
    ) -> Tuple[Tensor, Tensor]:
        """Hook between the IoU matcher and the labels: ``(matched_idxs, anchor_labels)`` of one
        image (the matcher's (R,) face index and {-1, 0, 1} label per anchor, against the
        non-ignored ``targets``), possibly changed; unchanged here. A method that mines extra
        positives from the current predictions overrides it (MogFace's Ali-AMS);
        ``predictions`` is None when the caller passed no head outputs; ``level_sizes`` (anchors
        per level, None when the caller did not say) for rules that work level by level."""
        return matched_idxs, anchor_labels

    def ignored_anchor_mask(self, anchors: Boxes, ignored_boxes: Boxes, best_target_iou: Tensor) -> Tensor:
        """(R,) bool: anchors whose best match is an ignored face.

        An anchor is ignored when its largest IoU with an ignored face is >=
        ``ignore_iou_threshold`` and strictly larger than its largest IoU with any target face
        (ties go to the target face).
        """
        iou_ignored = pairwise_iou(ignored_boxes, anchors).max(dim=0).values
        return (iou_ignored >= self.ignore_iou_threshold) & (iou_ignored > best_target_iou)

    # ------------------------------------------------------------------ losses
    def log_assignment(self, gt_labels: Tensor) -> Tuple[Tensor, Tensor]:
        """``(valid_mask, pos_mask)`` of the (N, R) labels; logs positives / ignored per image."""
        num_images = gt_labels.shape[0]
        valid_mask = gt_labels >= 0
        pos_mask = valid_mask & (gt_labels != self.num_classes)
        put_scalar("num_pos_anchors", pos_mask.sum().item() / num_images)
        put_scalar("num_ignored_anchors", (~valid_mask).sum().item() / num_images)
        return valid_mask, pos_mask

    def losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        """"loss_cls" and "loss_box_reg", each normalised by the EMA of the number of positive
        anchors and multiplied by its weight."""
        gt_labels = torch.stack(ctx.gt_labels)  # (N, R)
        valid_mask, pos_mask = self.log_assignment(gt_labels)
        normalizer = self._ema_update(
            "loss_normalizer",
            max(pos_mask.sum().item(), 1),
            self.loss_normalizer_init,
            self.loss_normalizer_momentum,
        )
        loss_cls = self.classification_loss(ctx.pred_logits, gt_labels, valid_mask)
        loss_box_reg = self.box_regression_loss(ctx.anchors, ctx.pred_deltas, ctx.gt_boxes, pos_mask)
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
        """Summed regression loss over positives (detectron2's ``_dense_box_regression_loss``;
        per-image anchors are taken image by image)."""
        kwargs = dict(box_reg_loss_type=self.box_reg_loss_type, smooth_l1_beta=self.smooth_l1_beta)
        if not is_per_image(anchors):
            return _dense_box_regression_loss(
                anchors, self.box2box_transform, pred_anchor_deltas, gt_boxes, pos_mask, **kwargs
            )
        total = pred_anchor_deltas[0].sum() * 0.0
        for i in range(len(gt_boxes)):
            total = total + _dense_box_regression_loss(
                [anchors_of_image(anchors, i)],
                self.box2box_transform,
                [cat([d[i] for d in pred_anchor_deltas], dim=0)[None]],
                [gt_boxes[i]],
                pos_mask[i : i + 1],
                **kwargs,
            )
        return total

    # ------------------------------------------------------------------ inference
    def forward_inference(
        self,
        images: ImageList,
        features: List[Tensor],
        outputs: HeadOutputs,
        output_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    ) -> List[Instances]:
        """Detections of the whole batch (:mod:`.dense_inference`), in ``output_sizes``
        coordinates (default: the input images' sizes)."""
        pred_logits, pred_deltas = self.inference_predictions(images, features, outputs)
        anchors = self.inference_anchors(images, features, outputs)
        check_anchors(anchors, len(images))
        dets = decode_batched(
            anchors, pred_logits, pred_deltas, self.box2box_transform,
            self.test_score_thresh, self.test_topk_candidates,
        )
        dets = select_per_image(
            dets, len(images), self.num_classes, self.test_nms_thresh, self.max_detections_per_image
        )
        sizes = [tuple(s) for s in images.image_sizes]
        return rescale_and_split(dets, sizes, output_sizes if output_sizes is not None else sizes)
