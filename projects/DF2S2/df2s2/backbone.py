"""``build_df2s2_ffp_backbone``: a ResNet or MobileNetV1 bottom-up network with DF²S²'s feature
fusion pyramid (:mod:`.ffp`), in detectron2's ``BACKBONE_REGISTRY``."""
from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import BACKBONE_REGISTRY
from detectron2.modeling.backbone.resnet import build_resnet_backbone

from facelib.modeling.backbones.mobilenet import build_mobilenet_v1_backbone
from facelib.modeling.backbones.resnet_fpn import resnet_cfg_for_fpn

from .config import add_df2s2_config  # noqa: F401  (registers MODEL.DF2S2)
from .ffp import FeatureFusionPyramid

__all__ = ["build_df2s2_ffp_backbone", "BOTTOM_UPS"]

BOTTOM_UPS = ("resnet", "mobilenet")


@BACKBONE_REGISTRY.register()
def build_df2s2_ffp_backbone(cfg, input_shape: ShapeSpec):
    d = cfg.MODEL.DF2S2
    if d.BOTTOM_UP == "resnet":
        rcfg, in_features = resnet_cfg_for_fpn(cfg)
        bottom_up = build_resnet_backbone(rcfg, input_shape)
    elif d.BOTTOM_UP == "mobilenet":
        bottom_up = build_mobilenet_v1_backbone(cfg, input_shape)
        in_features = list(cfg.MODEL.MOBILENET.OUT_FEATURES)
    else:
        raise ValueError(f"MODEL.DF2S2.BOTTOM_UP must be one of {BOTTOM_UPS}, got {d.BOTTOM_UP!r}")
    return FeatureFusionPyramid(bottom_up, in_features, out_channels=int(d.OUT_CHANNELS),
                                num_top=int(cfg.MODEL.FPN.TOP_LEVELS), fusion_kernel=int(d.FUSION_KERNEL),
                                fuse=bool(d.FUSE))
