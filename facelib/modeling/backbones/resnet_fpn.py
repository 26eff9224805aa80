"""ResNet-18/34/50/101/152 + FPN with P2..P7 or P3..P7, P6/P7 from C5 or P5.

Reuses detectron2's :func:`build_resnet_backbone` (BasicBlock for R18/34, BottleneckBlock
otherwise, ``MODEL.RESNETS.NORM``: FrozenBN for ImageNet initialisation, BN/SyncBN/GN from
scratch; ``MODEL.BACKBONE.FREEZE_AT``) and :class:`FPN` (``MODEL.FPN.NORM``, ``FUSE_TYPE``).

Levels: the lowest is set by ``MODEL.FPN.IN_FEATURES`` (``["res2", .., "res5"]`` -> P2..,
``["res3", "res4", "res5"]`` -> P3..), the highest by ``MODEL.FPN.TOP_LEVELS`` (2 -> P7), the top
levels' input by ``MODEL.FPN.TOP_LEVELS_FROM`` ("C5" or "P5").
"""
import logging

from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import BACKBONE_REGISTRY
from detectron2.modeling.backbone.resnet import build_resnet_backbone

from .fpn_top import build_face_fpn

__all__ = ["build_face_resnet_fpn_backbone", "resnet_cfg_for_fpn"]

logger = logging.getLogger(__name__)


def resnet_cfg_for_fpn(cfg):
    """``cfg`` with the ResNet's OUT_FEATURES covering the FPN inputs and, for R18/R34,
    RES2_OUT_CHANNELS 64 (the only value detectron2 accepts for BasicBlock ResNets)."""
    in_features = list(cfg.MODEL.FPN.IN_FEATURES) or list(cfg.MODEL.RESNETS.OUT_FEATURES)
    changes = {}
    if cfg.MODEL.RESNETS.DEPTH in (18, 34) and cfg.MODEL.RESNETS.RES2_OUT_CHANNELS != 64:
        changes["RES2_OUT_CHANNELS"] = 64
    if list(cfg.MODEL.RESNETS.OUT_FEATURES) != in_features:
        changes["OUT_FEATURES"] = in_features
    if not changes:
        return cfg, in_features
    cfg = cfg.clone()
    cfg.defrost()
    for k, v in changes.items():
        logger.info("face ResNet-FPN: using MODEL.RESNETS.%s = %s (was %s)",
                    k, v, cfg.MODEL.RESNETS.get(k))
        setattr(cfg.MODEL.RESNETS, k, v)
    return cfg, in_features


@BACKBONE_REGISTRY.register()
def build_face_resnet_fpn_backbone(cfg, input_shape: ShapeSpec):
    """ResNet (``MODEL.RESNETS.*``) + FPN (``MODEL.FPN.*``) with the configured extra top levels.

    ``MODEL.FPN.IN_FEATURES`` (or, when empty, ``MODEL.RESNETS.OUT_FEATURES``) are the FPN
    inputs; the ResNet is built to return exactly those.
    """
    cfg, in_features = resnet_cfg_for_fpn(cfg)
    bottom_up = build_resnet_backbone(cfg, input_shape)
    return build_face_fpn(cfg, bottom_up, in_features)
