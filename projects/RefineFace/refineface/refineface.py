"""``RefineFace`` (Zhang, Chi, Lei, Li, TPAMI 2020) on facelib's :class:`FaceRetinaNet`.

The five modules of Sec. 3, each a ``MODEL.REFINEFACE.*`` switch (Table 1), through the core's hooks:

* first step (STR + STC): ``forward_features`` returns the second step's P levels as a
  :class:`TwoStepFeatures` carrying the first step's C levels (:mod:`.first_step_features`);
  :class:`RefineFaceHead` runs the shared class subnet on both and returns the first step's
  outputs as ``extras["first_logits"]`` / ``extras["first_deltas"]``.
* STR (Sec. 3.1, Eq. 1): ``training_anchors`` / ``inference_anchors`` return per-image anchors:
  on ``STR.LEVELS`` the anchors refined by the first step's (detached) regression, elsewhere the
  tiled ones; the second step regresses from them and is matched against them (IoU 0.4 / 0.5,
  ``MODEL.RETINANET.IOU_THRESHOLDS``). The first step's smooth-L1 term covers STR levels only
  (Psi), divided by its own number of positives (N_s1).
* STC (Sec. 3.2, Eq. 2): the first step's focal loss covers ``STC.LEVELS`` only (Omega), divided
  by its positives (N_s3); anchors there whose first-step background confidence (1 - face score)
  exceeds theta = 0.99 are ignored by the second step in training (``loss_context``) and removed
  at inference (``inference_predictions``: their logits become -inf).
  First-step matching: IoU 0.3 / 0.7 (Sec. 3.6, ``FIRST_STEP.IOU_THRESHOLDS``).
* SML (Sec. 3.3, Eqs. 3-4): the focal losses of the chosen steps see margined logits
  (:mod:`.scale_margin`); inference scores are unchanged.
* FSM (Sec. 3.4): ``extra_losses`` adds ``loss_fsm`` (:mod:`.fsm`); never run at inference.
* RFE (Sec. 3.5): in the head's subnets (:mod:`.rfe`).

The second step's losses are FaceRetinaNet's (``loss_cls``, ``loss_box_reg``: divided by the
second step's positives, N_s4 = N_s2, through its EMA); with every module off the model is the
FaceRetinaNet baseline built from the same config (same parameters and random draws).
"""
import dataclasses
import logging
import math
from typing import Dict, List, Optional

import torch
from fvcore.nn import sigmoid_focal_loss_jit
from torch import Tensor
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.layers import ShapeSpec, cat
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.dense_detector import permute_to_N_HWA_K
from detectron2.structures import Boxes, pairwise_iou

from facelib.modeling.anchor_sets import is_per_image, level_tensors
from facelib.modeling.bottom_up_capture import BottomUpCapture, bottom_up_shapes
from facelib.modeling.dense_inference import apply_box_deltas
from facelib.modeling.dense_outputs import HeadOutputs, LossContext
from facelib.modeling.face_retinanet import FaceRetinaNet
from facelib.utils.events import put_scalar

from .config import SML_MODES, SML_STEPS, add_refineface_config  # noqa: F401  (registers the keys)
from .first_step_features import FirstStepFeatures, TwoStepFeatures, level_of
from .fsm import FeatureSupervisionModule, FSMHead, nearest_scale_level, select_proposals
from .head import RefineFaceHead
from .scale_margin import apply_scale_margin, scale_margins

__all__ = ["RefineFace", "first_step_levels", "refine_anchors", "MIN_REFINED_ANCHOR_SIZE"]

logger = logging.getLogger(__name__)


def first_step_levels(cfg) -> List[str]:
    """Names (of ``MODEL.RETINANET.IN_FEATURES``) of the levels the first step runs on: those of
    the enabled STR and STC, in IN_FEATURES order."""
    rf = cfg.MODEL.REFINEFACE
    names = list(cfg.MODEL.RETINANET.IN_FEATURES)
    chosen = set()
    for key, node in (("STR", rf.STR), ("STC", rf.STC)):
        if not node.ENABLED:
            continue
        unknown = [n for n in node.LEVELS if n not in names]
        if unknown:
            raise ValueError(f"MODEL.REFINEFACE.{key}.LEVELS {list(node.LEVELS)} names {unknown}, which are not "
                             f"in MODEL.RETINANET.IN_FEATURES {names}")
        chosen.update(node.LEVELS)
    return [n for n in names if n in chosen]


MIN_REFINED_ANCHOR_SIZE = 1.0


def refine_anchors(box2box_transform, deltas: Tensor, anchors: Tensor) -> Tensor:
    """STR's refined anchors (Sec. 3.1): ``deltas`` applied to ``anchors`` (both (R, 4)), each side
    then at least ``MIN_REFINED_ANCHOR_SIZE`` (1 px) around the decoded centre. The first step
    regresses only its positives, so a background anchor's deltas are unconstrained and can
    shrink it to zero width in float32, a box neither the matcher's IoU nor ``Box2BoxTransform``
    accepts (a 1 px anchor matches no face either way)."""
    boxes = apply_box_deltas(box2box_transform, deltas, anchors)
    ctr = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    half = 0.5 * (boxes[:, 2:] - boxes[:, :2]).clamp(min=MIN_REFINED_ANCHOR_SIZE)
    return torch.cat([ctr - half, ctr + half], dim=1)


@META_ARCH_REGISTRY.register()
class RefineFace(FaceRetinaNet):
    """RetinaNet face detector with STR, STC, SML, FSM and RFE; see the module docstring."""

    @configurable
    def __init__(
        self,
        *,
        str_levels: List[str],
        stc_levels: List[str],
        stc_theta: float,
        first_step_features: Optional[FirstStepFeatures],
        first_step_matcher: Matcher,
        first_loss_cls_weight: float,
        first_loss_box_reg_weight: float,
        sml_alpha: float,
        sml_mode: str,
        sml_steps: List[str],
        fsm: Optional[FeatureSupervisionModule],
        fsm_level_scales: List[float],
        fsm_params: Dict[str, float],
        **kwargs,
    ):
        """
        Args:
            str_levels / stc_levels: names of the second-step levels STR / STC act on ([] = off).
            stc_theta: STC's background-confidence threshold.
            first_step_features: the C-level features (None when neither STR nor STC is on).
            first_step_matcher: IoU matcher of the first step.
            sml_alpha: SML's alpha (0 = SML off); sml_mode / sml_steps: see ``MODEL.REFINEFACE.SML``.
            fsm: the feature supervision module (None = off); fsm_level_scales: anchor scale of
                each level (where a ground-truth proposal goes); fsm_params: its proposal / label
                settings (``MODEL.REFINEFACE.FSM``).
            **kwargs: :class:`FaceRetinaNet`'s arguments.
        """
        super().__init__(**kwargs)
        names = list(self.head_in_features)
        self.str_levels = list(str_levels)
        self.stc_levels = list(stc_levels)
        self.first_levels = [n for n in names if n in set(self.str_levels) | set(self.stc_levels)]
        self._first_pos = {n: i for i, n in enumerate(self.first_levels)}
        self.stc_theta = float(stc_theta)
        self.first_step_features = first_step_features
        if (first_step_features is None) != (not self.first_levels):
            raise ValueError("first_step_features must be given exactly when STR or STC has levels")
        self.first_step_matcher = first_step_matcher
        self.first_loss_cls_weight = float(first_loss_cls_weight)
        self.first_loss_box_reg_weight = float(first_loss_box_reg_weight)
        if sml_mode not in SML_MODES:
            raise ValueError(f"MODEL.REFINEFACE.SML.MODE must be one of {SML_MODES}, got {sml_mode!r}")
        bad = [s for s in sml_steps if s not in SML_STEPS]
        if bad:
            raise ValueError(f"MODEL.REFINEFACE.SML.STEPS entries must be in {SML_STEPS}, got {bad}")
        self.sml_alpha = float(sml_alpha)
        self.sml_mode = sml_mode
        self.sml_steps = list(sml_steps)
        self.fsm = fsm
        self.fsm_level_scales = list(fsm_level_scales)
        self.fsm_params = dict(fsm_params)
        self._bottom_up = (
            BottomUpCapture(self.backbone, "RefineFace's first step") if first_step_features is not None else None
        )

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        rf = cfg.MODEL.REFINEFACE
        first_levels = first_step_levels(cfg)
        backbone = ret["backbone"]
        shapes = backbone.output_shape()
        first_features = None
        if first_levels:
            bu_shapes = bottom_up_shapes(backbone, "RefineFace's first step")
            first_features = FirstStepFeatures(
                bu_shapes,
                [level_of(shapes[n].stride) for n in first_levels],
                int(rf.FIRST_STEP.CHANNELS) or int(cfg.MODEL.FPN.OUT_CHANNELS),
                list(rf.FIRST_STEP.EXTRA_CHANNELS),
            )
        fsm, scales = None, []
        if rf.FSM.ENABLED:
            in_features = list(cfg.MODEL.RETINANET.IN_FEATURES)
            channels = shapes[in_features[0]].channels
            head = FSMHead(
                rf.FSM.TYPE, channels, int(rf.FSM.POOLER_RESOLUTION), cfg.MODEL.RETINANET.NUM_CLASSES,
                num_convs=int(rf.FSM.NUM_CONVS), conv_dim=int(rf.FSM.CONV_DIM) or channels,
                fc_dim=int(rf.FSM.FC_DIM), prior_prob=cfg.MODEL.RETINANET.PRIOR_PROB,
            )
            fsm = FeatureSupervisionModule(
                [shapes[f].stride for f in in_features], int(rf.FSM.POOLER_RESOLUTION),
                int(rf.FSM.POOLER_SAMPLING_RATIO), head,
            )
            sizes = [list(s) for s in cfg.MODEL.ANCHOR_GENERATOR.SIZES]
            if len(sizes) == 1:
                sizes = sizes * len(in_features)
            scales = [math.exp(sum(math.log(x) for x in s) / len(s)) for s in sizes]
        ret.update(
            str_levels=list(rf.STR.LEVELS) if rf.STR.ENABLED else [],
            stc_levels=list(rf.STC.LEVELS) if rf.STC.ENABLED else [],
            stc_theta=rf.STC.THETA,
            first_step_features=first_features,
            first_step_matcher=Matcher(
                list(rf.FIRST_STEP.IOU_THRESHOLDS), list(rf.FIRST_STEP.IOU_LABELS),
                allow_low_quality_matches=cfg.MODEL.FACE_RETINANET.ALLOW_LOW_QUALITY_MATCHES,
            ),
            first_loss_cls_weight=rf.FIRST_STEP.LOSS_CLS_WEIGHT,
            first_loss_box_reg_weight=rf.FIRST_STEP.LOSS_BOX_REG_WEIGHT,
            sml_alpha=rf.SML.ALPHA if rf.SML.ENABLED else 0.0,
            sml_mode=rf.SML.MODE,
            sml_steps=list(rf.SML.STEPS),
            fsm=fsm,
            fsm_level_scales=scales,
            fsm_params=dict(
                pre_nms_topk=int(rf.FSM.PRE_NMS_TOPK), nms_thresh=float(rf.FSM.NMS_THRESH),
                num_proposals=int(rf.FSM.NUM_PROPOSALS), add_gt=bool(rf.FSM.ADD_GT),
                iou_thresholds=list(rf.FSM.IOU_THRESHOLDS), loss_weight=float(rf.FSM.LOSS_WEIGHT),
            ),
        )
        return ret

    @classmethod
    def build_head(cls, cfg, feature_shapes):
        names = list(cfg.MODEL.RETINANET.IN_FEATURES)
        first = first_step_levels(cfg)
        channels = int(cfg.MODEL.REFINEFACE.FIRST_STEP.CHANNELS) or int(cfg.MODEL.FPN.OUT_CHANNELS)
        first_shapes = [ShapeSpec(channels=channels, stride=feature_shapes[names.index(n)].stride) for n in first]
        return RefineFaceHead(cfg, feature_shapes, first_shapes)

    # ------------------------------------------------------------------ features
    def forward_features(self, images):
        if self._bottom_up is not None:
            self._bottom_up.clear()
        second = super().forward_features(images)
        if self._bottom_up is None:
            return second
        return TwoStepFeatures(second, self.first_step_features(self._bottom_up.pop()))

    # ------------------------------------------------------------------ STR: refined anchors
    def training_anchors(self, images, features, outputs: HeadOutputs):
        """Shared anchors without STR; with STR per-image (N, R_l, 4) anchors: the first step's
        (detached) regression applied on STR levels, the tiled anchors elsewhere."""
        anchors = self.anchors_for(features)
        if not self.str_levels:
            return anchors
        first_deltas = outputs["first_deltas"]
        n = first_deltas[0].shape[0]
        out = []
        for name, a in zip(self.head_in_features, anchors):
            if name in self.str_levels:
                d = permute_to_N_HWA_K(first_deltas[self._first_pos[name]].detach(), 4)
                r = a.tensor.shape[0]
                refined = refine_anchors(self.box2box_transform, d.reshape(-1, 4), a.tensor.repeat(n, 1))
                out.append(refined.reshape(n, r, 4))
            else:
                out.append(a.tensor.expand(n, -1, -1))
        return out

    # ------------------------------------------------------------------ STC: anchor filter
    def stc_keep(self, outputs: HeadOutputs) -> List[Optional[Tensor]]:
        """Per second-step level, (N, R_l) bool of the anchors the second step keeps (first-step
        background confidence 1 - p <= theta), or None where STC does not act."""
        keep = []
        for name in self.head_in_features:
            if name not in self.stc_levels:
                keep.append(None)
                continue
            logits = permute_to_N_HWA_K(outputs["first_logits"][self._first_pos[name]].detach(), self.num_classes)
            face = logits.sigmoid().max(dim=-1).values
            keep.append((1.0 - face) <= self.stc_theta)
        return keep

    def _stc_keep_flat(self, outputs: HeadOutputs, pred_logits: List[Tensor]) -> Optional[Tensor]:
        """:meth:`stc_keep` over all levels concatenated, (N, R); None without STC."""
        if not self.stc_levels:
            return None
        parts = [k if k is not None else torch.ones(p.shape[:2], dtype=torch.bool, device=p.device)
                 for k, p in zip(self.stc_keep(outputs), pred_logits)]
        return torch.cat(parts, dim=1)

    def inference_predictions(self, images, features, outputs: HeadOutputs):
        logits, deltas = self.transpose_predictions(outputs)
        if not self.stc_levels:
            return logits, deltas
        logits = [lg if k is None else lg.masked_fill(~k[..., None], float("-inf"))
                  for lg, k in zip(logits, self.stc_keep(outputs))]
        return logits, deltas

    # ------------------------------------------------------------------ training
    def loss_context(self, images, features, outputs: HeadOutputs, gt_instances) -> LossContext:
        """FaceRetinaNet's context on the (refined) second-step anchors; anchors STC removes are
        ignored (label -1) by the second step."""
        ctx = super().loss_context(images, features, outputs, gt_instances)
        keep = self._stc_keep_flat(outputs, ctx.pred_logits)
        if keep is not None:
            for labels_i, keep_i in zip(ctx.gt_labels, keep):
                labels_i[~keep_i] = -1
            put_scalar("stc_removed_anchors", (~keep).sum().item() / keep.shape[0])
        return ctx

    def _margined(self, logits: Tensor, gt_labels: Tensor, anchors) -> Tensor:
        """SML (Eq. 3) on (N, R, K) logits; ``anchors`` shared or per image, levels concatenated."""
        tensors = level_tensors(anchors)
        boxes = torch.cat(tensors, dim=1 if is_per_image(anchors) else 0)
        return apply_scale_margin(logits, gt_labels, scale_margins(boxes, self.sml_alpha),
                                  self.num_classes, self.sml_mode)

    def losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        """Second step: FaceRetinaNet's ``loss_cls`` / ``loss_box_reg`` (with SML when enabled for
        it); first step: ``loss_stc_first_cls`` (Eq. 2, first term) and ``loss_str_first_box_reg``
        (Eq. 1, first term)."""
        second_ctx = ctx
        if self.sml_alpha > 0 and "second" in self.sml_steps:
            logits = cat(ctx.pred_logits, dim=1)
            margined = self._margined(logits, torch.stack(ctx.gt_labels), ctx.anchors)
            second_ctx = dataclasses.replace(ctx, pred_logits=[margined])
        losses = super().losses(second_ctx)
        if self.first_levels:
            losses.update(self.first_step_losses(ctx))
        return losses

    def first_step_losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        """The first step's terms on the tiled anchors of its levels, matched at IoU 0.3 / 0.7."""
        all_anchors = self.anchors_for(ctx.features)
        names = list(self.head_in_features)
        anchors = [all_anchors[names.index(n)] for n in self.first_levels]
        labels, boxes = self.label_anchors(anchors, ctx.gt_instances, matcher=self.first_step_matcher)
        gt_labels = torch.stack(labels)
        logits = [permute_to_N_HWA_K(x, self.num_classes) for x in ctx.outputs["first_logits"]]
        deltas = [permute_to_N_HWA_K(x, 4) for x in ctx.outputs["first_deltas"]]
        device = gt_labels.device

        def on(levels):
            return torch.cat([torch.full((x.shape[1],), n in levels, dtype=torch.bool, device=device)
                              for n, x in zip(self.first_levels, logits)])

        valid = gt_labels >= 0
        pos = valid & (gt_labels != self.num_classes)
        momentum, init = self.loss_normalizer_momentum, self.loss_normalizer_init
        out = {}
        if self.stc_levels:
            in_stc = on(self.stc_levels)[None]
            norm = self._ema_update("first_cls_normalizer", max((pos & in_stc).sum().item(), 1), init, momentum)
            first_logits = cat(logits, dim=1)
            if self.sml_alpha > 0 and "first" in self.sml_steps:
                first_logits = self._margined(first_logits, gt_labels, anchors)
            loss = self.classification_loss([first_logits], gt_labels, valid & in_stc)
            out["loss_stc_first_cls"] = self.first_loss_cls_weight * loss / norm
        if self.str_levels:
            mask = pos & on(self.str_levels)[None]
            norm = self._ema_update("first_box_normalizer", max(mask.sum().item(), 1), init, momentum)
            loss = self.box_regression_loss(anchors, deltas, boxes, mask)
            out["loss_str_first_box_reg"] = self.first_loss_box_reg_weight * loss / norm
        put_scalar("num_first_pos_anchors", pos.sum().item() / gt_labels.shape[0])
        return out

    # ------------------------------------------------------------------ FSM
    def extra_losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        if self.fsm is None:
            return {}
        proposals, labels = self.fsm_proposals(ctx)
        logits = self.fsm(list(ctx.features), proposals)
        labels = torch.cat(labels)
        valid = labels >= 0
        pos = valid & (labels != self.num_classes)
        target = F.one_hot(labels[valid], num_classes=self.num_classes + 1)[:, :-1].to(logits.dtype)
        loss = sigmoid_focal_loss_jit(logits[valid], target, alpha=self.focal_loss_alpha,
                                      gamma=self.focal_loss_gamma, reduction="sum")
        put_scalar("fsm_num_pos", pos.sum().item() / len(proposals))
        return {"loss_fsm": self.fsm_params["loss_weight"] * loss / max(pos.sum().item(), 1)}

    @torch.no_grad()
    def fsm_proposals(self, ctx: LossContext):
        """Per image: (proposal boxes, level indices) and their labels in {-1, 0..K-1, K}."""
        p = self.fsm_params
        logits = cat(ctx.pred_logits, dim=1).detach()
        scores = logits.sigmoid().max(dim=-1).values
        keep = self._stc_keep_flat(ctx.outputs, ctx.pred_logits)
        if keep is not None:
            scores = scores.masked_fill(~keep, float("-inf"))
        deltas = cat(ctx.pred_deltas, dim=1).detach()
        tensors = level_tensors(ctx.anchors)
        n, r = scores.shape
        if is_per_image(ctx.anchors):
            anchors = torch.cat(tensors, dim=1)
        else:
            anchors = torch.cat(tensors, dim=0).expand(n, -1, -1)
        levels = torch.cat([torch.full((t.shape[-2],), i, dtype=torch.int64, device=scores.device)
                            for i, t in enumerate(tensors)])
        # only the PRE_NMS_TOPK best of each image can become proposals: decode just those
        k = min(p["pre_nms_topk"], r)
        scores, top = scores.topk(k, dim=1)
        top4 = top[..., None].expand(-1, -1, 4)
        boxes = apply_box_deltas(self.box2box_transform, deltas.gather(1, top4).reshape(-1, 4),
                                 anchors.gather(1, top4).reshape(-1, 4)).reshape(n, k, 4)
        levels = levels[top]
        matcher = Matcher(p["iou_thresholds"], [0, -1, 1], allow_low_quality_matches=False)
        proposals, labels = [], []
        for i, gt in enumerate(ctx.gt_instances):
            targets, ignored = self.split_ignored(gt)
            gt_boxes = targets.gt_boxes.tensor if p["add_gt"] else boxes.new_zeros((0, 4))
            gt_levels = nearest_scale_level(gt_boxes, self.fsm_level_scales)
            prop, lvl = select_proposals(
                boxes[i], scores[i], levels[i], gt_boxes, gt_levels, pre_nms_topk=p["pre_nms_topk"],
                nms_thresh=p["nms_thresh"], num_proposals=p["num_proposals"],
            )
            proposals.append((prop, lvl))
            labels.append(self._fsm_labels(Boxes(prop), targets, ignored, matcher))
        return proposals, labels

    def _fsm_labels(self, proposals: Boxes, targets, ignored_boxes, matcher: Matcher) -> Tensor:
        """IoU >= 0.7 with a face: its class; < 0.4: background; else, or best matching an ignored
        face, -1 (Sec. 3.6 "Sample Matching" for the FSM)."""
        if len(targets) == 0:
            labels = torch.full((len(proposals),), self.num_classes, dtype=torch.int64, device=proposals.device)
            best = torch.zeros(len(proposals), device=proposals.device)
        else:
            iou = pairwise_iou(targets.gt_boxes, proposals)
            idx, match = matcher(iou)
            best = iou.max(dim=0).values
            labels = targets.gt_classes[idx].to(torch.int64)
            labels[match == 0] = self.num_classes
            labels[match == -1] = -1
        if ignored_boxes is not None and len(proposals):
            labels[self.ignored_anchor_mask(proposals, ignored_boxes, best)] = -1
        return labels
