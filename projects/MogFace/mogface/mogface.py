"""``MogFace`` (Liu et al., CVPR 2022) on facelib's :class:`FaceRetinaNet`.

* ATSS (Table 3's comparison, ``MODEL.MOGFACE.ASSIGNER "atss"``): ``refine_assignment`` replaces
  the IoU matcher's result (:mod:`.atss`).
* Ali-AMS (Sec. 3.1, Algorithm 1): ``refine_assignment`` adds positives to the faces with fewer
  anchors than the level's best-served face, chosen by the current forward pass's face scores
  (:mod:`.ali_ams`; ``MODEL.MOGFACE.ALI_AMS``).
* HCAM (Sec. 3.3, Eq. 1): ``forward_features`` keeps the backbone's C levels
  (:class:`~facelib.modeling.bottom_up_capture.FeaturesWithBottomUp`), ``head_outputs`` adds the
  progressive classifier's logits as ``extras["hcam_logits"]``, ``extra_losses`` its focal loss
  on the dynamic labels (``loss_hcam`` = gamma * FL_p), ``inference_predictions`` uses them at test
  time only with ``HCAM.TEST_SCORES "progressive"`` (:mod:`.hcam`; ``MODEL.MOGFACE.HCAM``).

* the final model's SSH context head (Sec. 4.3): :class:`~.ssh_head.MogFaceHead` (``MODEL.MOGFACE.SSH_CHANNELS``);
  the ablation baseline's S3FD head (Sec. 4.1): :class:`~.sfd_head.SFDHead` (``MODEL.MOGFACE.HEAD "sfd"``).
* Pyramid Anchor (PyramidBox, in the final model, Sec. 4.3): context branches in the head and
  ``loss_pa{k}_*`` here (:mod:`.pyramid_anchor`; ``MODEL.MOGFACE.PYRAMID_ANCHOR``), training only.

With these modules off the model is FaceRetinaNet. SSE (Sec. 3.2) is the training augmentation ``"sse"``.
"""
from typing import Dict

import torch
from torch import Tensor
from fvcore.nn import sigmoid_focal_loss_jit

from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.dense_detector import permute_to_N_HWA_K
from detectron2.structures import Boxes, Instances

from facelib.modeling.bottom_up_capture import BottomUpCapture, FeaturesWithBottomUp, bottom_up_shapes
from facelib.modeling.face_retinanet import FaceRetinaNet
from facelib.utils.events import put_scalar

from .ali_ams import CANDIDATE_MODES, DROP_POSITIVE_MODES, ali_ams
from .atss import atss_assign
from .config import add_mogface_config  # noqa: F401  (registers MODEL.MOGFACE)
from .hcam import HCAM, dynamic_labels
from .pyramid_anchor import context_boxes
from .sfd_head import SFDHead
from .ssh_head import MogFaceHead

HCAM_TEST_SCORES = ("main", "progressive")
ASSIGNERS = ("iou", "atss")

__all__ = ["MogFace", "HCAM_TEST_SCORES", "ASSIGNERS"]


@META_ARCH_REGISTRY.register()
class MogFace(FaceRetinaNet):
    """FaceRetinaNet with MogFace's label assignment; see the module docstring."""

    @configurable
    def __init__(self, *, ali_ams_enabled: bool, ali_ams_candidates: str, ali_ams_drop_positives: str,
                 ali_ams_skip_levels, hcam=None, hcam_loss_weight: float = 1.0, hcam_test_scores: str = "main",
                 assigner: str = "iou", atss_topk: int = 9, pyramid_anchor_scales=(),
                 pyramid_anchor_iou_threshold: float = 0.35, pyramid_anchor_loss_weights=(), **kwargs):
        super().__init__(**kwargs)
        if len(pyramid_anchor_loss_weights) != len(pyramid_anchor_scales):
            raise ValueError(f"MODEL.MOGFACE.PYRAMID_ANCHOR: {len(pyramid_anchor_scales)} SCALES but "
                             f"{len(pyramid_anchor_loss_weights)} LOSS_WEIGHTS")
        self.pyramid_anchor_scales = [float(x) for x in pyramid_anchor_scales]
        self.pyramid_anchor_loss_weights = [float(x) for x in pyramid_anchor_loss_weights]
        t = float(pyramid_anchor_iou_threshold)
        self.pyramid_anchor_matcher = Matcher([t], [0, 1], allow_low_quality_matches=False)
        if assigner not in ASSIGNERS:
            raise ValueError(f"MODEL.MOGFACE.ASSIGNER must be one of {ASSIGNERS}, got {assigner!r}")
        self.assigner = assigner
        self.atss_topk = int(atss_topk)
        if hcam_test_scores not in HCAM_TEST_SCORES:
            raise ValueError(f"MODEL.MOGFACE.HCAM.TEST_SCORES must be one of {HCAM_TEST_SCORES}, "
                             f"got {hcam_test_scores!r}")
        self.hcam = hcam
        self.hcam_loss_weight = float(hcam_loss_weight)
        self.hcam_test_scores = hcam_test_scores
        self._bottom_up = BottomUpCapture(self.backbone, "MogFace's HCAM") if hcam is not None else None
        if ali_ams_candidates not in CANDIDATE_MODES:
            raise ValueError(f"MODEL.MOGFACE.ALI_AMS.CANDIDATES must be one of {CANDIDATE_MODES}, "
                             f"got {ali_ams_candidates!r}")
        if ali_ams_drop_positives not in DROP_POSITIVE_MODES:
            raise ValueError(f"MODEL.MOGFACE.ALI_AMS.DROP_POSITIVES must be one of {DROP_POSITIVE_MODES}, "
                             f"got {ali_ams_drop_positives!r}")
        unknown = [n for n in ali_ams_skip_levels if n not in self.head_in_features]
        if unknown:
            raise ValueError(f"MODEL.MOGFACE.ALI_AMS.SKIP_LEVELS {list(ali_ams_skip_levels)} names {unknown}, "
                             f"not in MODEL.RETINANET.IN_FEATURES {list(self.head_in_features)}")
        self.ali_ams_enabled = bool(ali_ams_enabled)
        self.ali_ams_candidates = ali_ams_candidates
        self.ali_ams_drop_positives = ali_ams_drop_positives
        self.ali_ams_skip = [list(self.head_in_features).index(n) for n in ali_ams_skip_levels]

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        ams = cfg.MODEL.MOGFACE.ALI_AMS
        ret.update(
            ali_ams_enabled=ams.ENABLED,
            ali_ams_candidates=ams.CANDIDATES,
            ali_ams_drop_positives=ams.DROP_POSITIVES,
            ali_ams_skip_levels=list(ams.SKIP_LEVELS),
            assigner=cfg.MODEL.MOGFACE.ASSIGNER,
            atss_topk=cfg.MODEL.MOGFACE.ATSS_TOPK,
        )
        pa = cfg.MODEL.MOGFACE.PYRAMID_ANCHOR
        if pa.ENABLED:
            ret.update(pyramid_anchor_scales=list(pa.SCALES), pyramid_anchor_iou_threshold=pa.IOU_THRESHOLD,
                       pyramid_anchor_loss_weights=list(pa.LOSS_WEIGHTS))
        h = cfg.MODEL.MOGFACE.HCAM
        if h.ENABLED:
            backbone = ret["backbone"]
            bu = bottom_up_shapes(backbone, "MogFace's HCAM")
            by_stride = {v.stride: k for k, v in bu.items()}
            shapes = backbone.output_shape()
            levels = list(cfg.MODEL.RETINANET.IN_FEATURES)
            ret.update(
                hcam=HCAM(
                    [by_stride.get(shapes[f].stride) for f in levels],
                    {k: v.channels for k, v in bu.items()},
                    shapes[levels[0]].channels,
                    ret["anchor_generator"].num_cell_anchors[0] * ret["num_classes"],
                    threshold=h.THRESHOLD, sizes=list(h.SIZES), prior_prob=cfg.MODEL.RETINANET.PRIOR_PROB,
                ),
                hcam_loss_weight=h.LOSS_WEIGHT,
                hcam_test_scores=h.TEST_SCORES,
            )
        return ret

    # ------------------------------------------------------------------ HCAM
    def _hcam_runs(self) -> bool:
        return self.hcam is not None and (self.training or self.hcam_test_scores == "progressive")

    def forward_features(self, images):
        if self._bottom_up is not None:
            self._bottom_up.clear()
        features = super().forward_features(images)
        if self._bottom_up is None:
            return features
        return FeaturesWithBottomUp(features, self._bottom_up.pop())

    def head_outputs(self, features):
        out = super().head_outputs(features)
        if self._hcam_runs():
            out.extras["hcam_logits"] = self.hcam(list(features), features.bottom_up, out.logits)
        return out

    def extra_losses(self, ctx):
        out = self.pyramid_anchor_losses(ctx)
        out.update(self.hcam_losses(ctx))
        return out

    def pyramid_anchor_losses(self, ctx) -> Dict[str, Tensor]:
        """``loss_pa{k}_cls`` / ``loss_pa{k}_box_reg`` of each context task (:mod:`.pyramid_anchor`):
        anchors assigned to the faces enlarged ``scale_k`` times (IoU matcher at the Pyramid Anchor
        threshold, or ATSS with ``ASSIGNER "atss"``; no Ali-AMS), focal loss and box loss divided
        by the task's own positives (their EMA, as the face task's), times its weight."""
        out = {}
        for k, (scale, weight) in enumerate(zip(self.pyramid_anchor_scales, self.pyramid_anchor_loss_weights), 1):
            targets = []
            for gt in ctx.gt_instances:
                enlarged = Instances(gt.image_size, **{f: gt.get(f) for f in gt.get_fields()})
                enlarged.gt_boxes = Boxes(context_boxes(gt.gt_boxes.tensor, scale))
                targets.append(enlarged)
            labels, boxes = self.label_anchors(ctx.anchors, targets, matcher=self.pyramid_anchor_matcher)
            gt_labels = torch.stack(labels)
            valid = gt_labels >= 0
            pos = valid & (gt_labels != self.num_classes)
            logits, deltas = self._transpose_dense_predictions(
                [ctx.outputs[f"pa{k}_logits"], ctx.outputs[f"pa{k}_deltas"]], [self.num_classes, 4])
            n = self._ema_update(f"pa{k}_loss_normalizer", max(pos.sum().item(), 1),
                                 self.loss_normalizer_init, self.loss_normalizer_momentum)
            put_scalar(f"num_pa{k}_pos_anchors", pos.sum().item() / gt_labels.shape[0])
            out[f"loss_pa{k}_cls"] = weight * self.classification_loss(logits, gt_labels, valid) / n
            out[f"loss_pa{k}_box_reg"] = (weight * self.loss_box_reg_weight
                                          * self.box_regression_loss(ctx.anchors, deltas, boxes, pos) / n)
        return out

    def hcam_losses(self, ctx) -> Dict[str, Tensor]:
        """``loss_hcam`` = gamma * the progressive classifier's focal loss on y_hc (Eq. 1),
        divided by the number of y_hc positives."""
        if self.hcam is None:
            return {}
        prog = cat([permute_to_N_HWA_K(x, self.num_classes) for x in ctx.outputs["hcam_logits"]], dim=1)
        main = cat(ctx.pred_logits, dim=1).detach().sigmoid()
        y = dynamic_labels(main, torch.stack(ctx.gt_labels), self.num_classes, self.hcam.threshold)
        valid = y >= 0
        num_pos = int((y == 1).sum())
        put_scalar("hcam_num_high_confidence", valid.sum().item() / prog.shape[0])
        loss = sigmoid_focal_loss_jit(prog[valid], y[valid].to(prog.dtype), alpha=self.focal_loss_alpha,
                                      gamma=self.focal_loss_gamma, reduction="sum")
        return {"loss_hcam": self.hcam_loss_weight * loss / max(num_pos, 1)}

    def inference_predictions(self, images, features, outputs):
        logits, deltas = self.transpose_predictions(outputs)
        if self.hcam is None or self.hcam_test_scores == "main":
            return logits, deltas
        prog = [permute_to_N_HWA_K(x, self.num_classes) for x in outputs["hcam_logits"]]
        t = self.hcam.threshold
        return [torch.where(lg.sigmoid() > t, p, lg) for lg, p in zip(logits, prog)], deltas

    @classmethod
    def build_head(cls, cfg, feature_shapes):
        kind = cfg.MODEL.MOGFACE.HEAD
        if kind == "sfd":
            return SFDHead(cfg, feature_shapes)
        if kind != "retinanet":
            raise ValueError(f"MODEL.MOGFACE.HEAD must be 'retinanet' or 'sfd', got {kind!r}")
        return MogFaceHead(cfg, feature_shapes)

    def refine_assignment(self, anchors, targets, matched_idxs, anchor_labels, predictions, level_sizes=None):
        """ATSS in place of the IoU matcher (``ASSIGNER "atss"``), then Ali-AMS (training only;
        it needs the current predictions). Both work level by level: ``level_sizes`` is required."""
        if len(targets) == 0:
            return matched_idxs, anchor_labels
        uses_levels = self.assigner == "atss" or (self.ali_ams_enabled and predictions is not None and self.training)
        if uses_levels and level_sizes is None:
            raise ValueError("MogFace.refine_assignment needs level_sizes (anchors per pyramid level) for "
                             "ATSS / Ali-AMS; label_anchors passes them")
        if self.assigner == "atss":
            assigned = atss_assign(anchors.tensor, targets.gt_boxes.tensor, level_sizes, self.atss_topk)
            matched_idxs = assigned.clamp(min=0)
            anchor_labels = (assigned >= 0).to(anchor_labels.dtype)
        if not self.ali_ams_enabled or predictions is None or not self.training:
            return matched_idxs, anchor_labels
        face_scores = predictions.scores.max(dim=1).values
        standard = torch.where(anchor_labels == 1, matched_idxs, torch.full_like(matched_idxs, -1))
        mined = ali_ams(standard, anchors.tensor, targets.gt_boxes.tensor, face_scores, level_sizes,
                        candidates=self.ali_ams_candidates, drop_positives=self.ali_ams_drop_positives,
                        skip_levels=self.ali_ams_skip)
        added = (mined >= 0) & (standard < 0)
        put_scalar("ali_ams_added_anchors", added.sum().item())
        return torch.where(added, mined, matched_idxs), torch.where(added, torch.ones_like(anchor_labels), anchor_labels)
