"""``FAN``: Face Attention Network (Wang, Yuan, Yu 2017) on facelib's :class:`FaceRetinaNet`.

What FAN changes in the RetinaNet face detector, each through one FaceRetinaNet hook:

* ``build_head``: :class:`FANHead` = detectron2's ``RetinaNetHead`` preceded by the anchor-level
  attention branch (Sec. 3.2.2, Fig. 6): the level-k feature is multiplied by exp(m_k) (or m_k,
  ``MODEL.FAN.ATTENTION_MODE``) before the class and box subnets; the head returns
  ``HeadOutputs(logits, deltas, extras={"attention": attention_logits})`` (no extras with
  ``ATTENTION_ON`` False).
* ``from_config``: the anchor setting of Table 1 (``MODEL.FAN.ANCHOR_SETTING``) is written into
  ``MODEL.ANCHOR_GENERATOR`` before the anchors / head are built.
* ``losses``: Eq. 1 (Sec. 3.3)::

      L = sum_k 1/N_k^c sum_{i in A_k} l_c(p_i, p_i*)
        + lambda1 sum_k 1/N_k^r sum_{i in A_k} I(p_i* = 1) l_r(t_i, t_i*)
        + lambda2 sum_k l_a(m_k, m_k*)

  l_c = sigmoid focal loss, l_r = smooth L1, both computed per pyramid level k. The paper defines
  N_k^c as "the number of anchors in P_k which participate in the classification loss
  computation" (positives + negatives; ignored anchors do not participate) and N_k^r as the number
  of positive anchors of P_k. That is ``MODEL.FAN.CLS_LOSS_NORMALIZER "anchors"``.
  Normalising a focal loss by all participating anchors makes it far smaller than RetinaNet's
  (normalised by the positives, Lin et al. Sec. 4.1) and a model trained so does not learn to
  classify (docs/results.md), so ``"positives"`` (default) gives RetinaNet's normalisation
  instead (all levels' focal loss / all positives, as the public re-implementation
  rainofmine/Face_Attention_Network does). Counts are over the whole batch; a
  level without positives contributes no regression loss. No EMA is used (unlike FaceRetinaNet).
  ``"retinanet"`` keeps FaceRetinaNet's losses unchanged (EMA normaliser), so that FAN without
  attention equals the FaceRetinaNet baseline exactly.
* ``extra_losses``: ``loss_attention`` = lambda2 * sum_k l_a, with targets m*_k drawn from the faces
  the level's anchors are matched to (Sec. 3.2.2, ``MODEL.FAN.ATTENTION_TARGETS "matched"``) or from
  fixed face-size ranges (``"size_ranges"``); see :mod:`.attention`.

Label assignment (IoU >= 0.5 positive, < 0.4 negative, ``gt_ignore`` handling), decoding and NMS
are FaceRetinaNet's unchanged.
"""
import logging
from typing import Dict, List

import torch
from torch import Tensor

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from facelib.modeling.dense_outputs import HeadOutputs, LossContext
from facelib.modeling.face_retinanet import FaceRetinaNet
from facelib.modeling.level_box_masks import batch_level_masks, level_mask_loss, resolve_size_ranges
from facelib.modeling.per_level_losses import per_level_losses

from .anchors import apply_anchor_setting
from .attention import AttentionBranch, apply_attention
from .config import ATTENTION_MODES, ATTENTION_TARGET_MODES, CLS_LOSS_NORMALIZERS, add_fan_config  # noqa: F401 (registers MODEL.FAN)

__all__ = ["FAN", "FANHead"]

logger = logging.getLogger(__name__)


class FANHead(RetinaNetHead):
    """RetinaNet's class / box subnets on attention-weighted features (Fig. 6).

    ``forward(features)`` -> :class:`HeadOutputs` with ``extras["attention"]`` (per-level
    (N, 1, H, W) attention logits), or without extras when built with ``attention_on=False``
    (then it is ``RetinaNetHead``).
    """

    @configurable
    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        attention_on: bool = True,
        attention_mode: str = "exp",
        attention_num_convs: int = 4,
        attention_channels: int = 0,
        attention_norm: str = "",
        **kwargs,
    ):
        super().__init__(input_shape=input_shape, **kwargs)
        if attention_mode not in ATTENTION_MODES:
            raise ValueError(f"MODEL.FAN.ATTENTION_MODE must be one of {ATTENTION_MODES}, got {attention_mode!r}")
        self.attention_on = bool(attention_on)
        self.attention_mode = attention_mode
        if self.attention_on:
            self.attention = AttentionBranch(
                input_shape[0].channels,
                num_levels=len(input_shape),
                num_convs=attention_num_convs,
                conv_dim=attention_channels,
                norm=attention_norm,
            )

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        fan = cfg.MODEL.FAN
        norm = fan.ATTENTION_NORM
        ret.update(
            attention_on=fan.ATTENTION_ON,
            attention_mode=fan.ATTENTION_MODE,
            attention_num_convs=fan.ATTENTION_NUM_CONVS,
            attention_channels=fan.ATTENTION_CHANNELS,
            attention_norm=cfg.MODEL.RETINANET.NORM if norm == "head" else norm,
        )
        return ret

    def forward(self, features: List[Tensor]):
        if not self.attention_on:
            logits, deltas = super().forward(features)
            return HeadOutputs(logits=logits, deltas=deltas)
        attention_logits = self.attention(features)
        logits, deltas = super().forward(apply_attention(features, attention_logits, self.attention_mode))
        return HeadOutputs(logits=logits, deltas=deltas, extras={"attention": attention_logits})


@META_ARCH_REGISTRY.register()
class FAN(FaceRetinaNet):
    """Face Attention Network; see the module docstring."""

    @configurable
    def __init__(
        self,
        *,
        attention_on: bool = True,
        loss_weight_attention: float = 1.0,
        cls_loss_normalizer: str = "positives",
        attention_targets: str = "matched",
        attention_size_ranges=(),
        **kwargs,
    ):
        """
        Args:
            attention_on: train / use the attention branch (the head must match).
            loss_weight_attention: lambda2 of Eq. 1.
            cls_loss_normalizer: "anchors" (Eq. 1), "positives" (RetinaNet) or "retinanet"
                (FaceRetinaNet's losses, EMA normaliser).
            attention_targets: "matched" (a level's targets are the faces its positive anchors
                are matched to, Sec. 3.2.2) or "size_ranges" (fixed face-size ranges per level).
            attention_size_ranges: "size_ranges" mode: per-level (lo, hi) face scales;
                empty = derived from the anchors (:func:`level_size_ranges_from_scales`).
            **kwargs: FaceRetinaNet's (``loss_box_reg_weight`` is lambda1).
        """
        super().__init__(**kwargs)
        if cls_loss_normalizer not in CLS_LOSS_NORMALIZERS:
            raise ValueError(
                f"MODEL.FAN.CLS_LOSS_NORMALIZER must be one of {CLS_LOSS_NORMALIZERS}, got {cls_loss_normalizer!r}"
            )
        if attention_targets not in ATTENTION_TARGET_MODES:
            raise ValueError(
                f"MODEL.FAN.ATTENTION_TARGETS must be one of {ATTENTION_TARGET_MODES}, got {attention_targets!r}"
            )
        self.attention_targets_mode = attention_targets
        self.attention_on = bool(attention_on)
        if self.attention_on != bool(getattr(self.head, "attention_on", False)):
            raise ValueError("FAN(attention_on=...) and its head disagree")
        self.loss_weight_attention = float(loss_weight_attention)
        self.cls_loss_normalizer = cls_loss_normalizer
        self.attention_size_ranges = resolve_size_ranges(attention_size_ranges, self, "MODEL.FAN.ATTENTION_SIZE_RANGES")

    @classmethod
    def from_config(cls, cfg):
        setting = cfg.MODEL.FAN.ANCHOR_SETTING
        if setting:
            cfg = cfg.clone()
            cfg.defrost()
            apply_anchor_setting(cfg, setting)
        ret = super().from_config(cfg)
        fan = cfg.MODEL.FAN
        ret.update(
            attention_on=fan.ATTENTION_ON,
            loss_weight_attention=fan.LOSS_WEIGHT_ATTENTION,
            cls_loss_normalizer=fan.CLS_LOSS_NORMALIZER,
            attention_targets=fan.ATTENTION_TARGETS,
            attention_size_ranges=[tuple(r) for r in fan.ATTENTION_SIZE_RANGES],
            loss_box_reg_weight=fan.LOSS_WEIGHT_REG,  # lambda1
        )
        return ret

    @classmethod
    def build_head(cls, cfg, feature_shapes):
        return FANHead(cfg, feature_shapes)

    # ------------------------------------------------------------------ Eq. 1
    def losses(self, ctx: LossContext):
        """Per-level focal and smooth-L1 losses normalised as Eq. 1 (module docstring;
        :mod:`facelib.modeling.per_level_losses`); with ``cls_loss_normalizer == "retinanet"``
        FaceRetinaNet's losses unchanged."""
        return per_level_losses(self, ctx, self.cls_loss_normalizer)

    def extra_losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        """``loss_attention`` = lambda2 * sum_k l_a(m_k, m_k*) (Sec. 3.2.2 / Eq. 1)."""
        if not self.attention_on:
            return {}
        logits = ctx.outputs["attention"]
        targets = self.attention_targets(ctx)
        return {"loss_attention": self.loss_weight_attention * level_mask_loss(logits, targets)}

    def attention_targets(self, ctx: LossContext) -> List[Tensor]:
        """Per level (N, Hk, Wk) targets of the batch (1 face, 0 background, -1 ignored)."""
        map_sizes = [tuple(z.shape[-2:]) for z in ctx.outputs["attention"]]
        return batch_level_masks(self, ctx, map_sizes, self.attention_targets_mode, self.attention_size_ranges)
