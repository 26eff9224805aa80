"""``DF2S2``: DF²S² (Tian et al.) on facelib's :class:`FaceRetinaNet`, through its hooks:

* the backbone is the config's (``build_df2s2_ffp_backbone``: the feature fusion pyramid, Sec. 3.3);
* ``build_head``: :class:`~.head.DF2S2Head`, the shared tower with class, box and segmentation
  outputs (Sec. 3.1-3.2);
* ``losses``: Eq. 2's first two terms, per level (:func:`facelib.modeling.per_level_losses.per_level_losses`,
  ``MODEL.DF2S2.CLS_LOSS_NORMALIZER``; lambda1 = ``MODEL.FACE_RETINANET.LOSS_BOX_REG_WEIGHT``);
* ``extra_losses``: ``loss_seg`` = lambda2 sum_k L_s(m_k, m_k*), the pixel-wise sigmoid
  cross-entropy against the per-level box masks of the faces each level answers for
  (:mod:`facelib.modeling.level_box_masks`, ``MODEL.DF2S2.SEG``).

Label assignment (IoU > 0.5 positive, < 0.4 background, the rest ignored: Sec. 3.4, FaceRetinaNet's
matcher), decoding and NMS are FaceRetinaNet's.
"""
from typing import Dict, List

import torch
from torch import Tensor

from detectron2.config import configurable
from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY

from facelib.modeling.dense_outputs import LossContext
from facelib.modeling.face_retinanet import FaceRetinaNet
from facelib.modeling.level_box_masks import LEVEL_MASK_MODES, batch_level_masks, level_mask_loss, resolve_size_ranges
from facelib.modeling.per_level_losses import CLS_LOSS_NORMALIZERS, per_level_losses

from .config import add_df2s2_config  # noqa: F401  (registers MODEL.DF2S2)
from .head import DF2S2Head

__all__ = ["DF2S2"]


@META_ARCH_REGISTRY.register()
class DF2S2(FaceRetinaNet):
    """Feature fusion pyramid + segmentation supervision; see the module docstring."""

    @configurable
    def __init__(self, *, cls_loss_normalizer: str = "positives", seg_loss_weight: float = 0.05,
                 seg_targets: str = "size_ranges", seg_size_ranges=(), **kwargs):
        super().__init__(**kwargs)
        if cls_loss_normalizer not in CLS_LOSS_NORMALIZERS:
            raise ValueError(f"MODEL.DF2S2.CLS_LOSS_NORMALIZER must be one of {CLS_LOSS_NORMALIZERS}, "
                             f"got {cls_loss_normalizer!r}")
        if seg_targets not in LEVEL_MASK_MODES:
            raise ValueError(f"MODEL.DF2S2.SEG.TARGETS must be one of {LEVEL_MASK_MODES}, got {seg_targets!r}")
        self.cls_loss_normalizer = cls_loss_normalizer
        self.seg_loss_weight = float(seg_loss_weight)
        self.seg_targets = seg_targets
        self.seg_size_ranges = resolve_size_ranges(seg_size_ranges, self, "MODEL.DF2S2.SEG.SIZE_RANGES")

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        d = cfg.MODEL.DF2S2
        ret.update(cls_loss_normalizer=d.CLS_LOSS_NORMALIZER, seg_loss_weight=d.SEG.LOSS_WEIGHT,
                   seg_targets=d.SEG.TARGETS, seg_size_ranges=[tuple(r) for r in d.SEG.SIZE_RANGES])
        return ret

    @classmethod
    def build_head(cls, cfg, feature_shapes):
        return DF2S2Head(cfg, feature_shapes)

    def losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        return per_level_losses(self, ctx, self.cls_loss_normalizer)

    def extra_losses(self, ctx: LossContext) -> Dict[str, Tensor]:
        if "seg_logits" not in ctx.outputs:
            return {}
        logits = ctx.outputs["seg_logits"]
        targets = self.segmentation_targets(ctx)
        return {"loss_seg": self.seg_loss_weight * level_mask_loss(logits, targets)}

    def segmentation_targets(self, ctx: LossContext) -> List[Tensor]:
        """m_k*, per level (N, Hk, Wk): 1 face, 0 background, -1 ignored."""
        map_sizes = [tuple(z.shape[-2:]) for z in ctx.outputs["seg_logits"]]
        return batch_level_masks(self, ctx, map_sizes, self.seg_targets, self.seg_size_ranges)
