"""facelib models. Importing this registers the backbones in detectron2's BACKBONE_REGISTRY
(``build_face_resnet_fpn_backbone``, ``build_vgg16_backbone``, ``build_mobilenet_v1_backbone``,
``build_mobilenet_v1_fpn_backbone``) and their config keys with :func:`facelib.config.get_face_cfg`."""
from facelib.config import register_config_extension

from .backbones import (
    VGG16,
    LastLevelStridedConvs,
    MobileNetV1,
    build_face_resnet_fpn_backbone,
    build_fpn_top_block,
    build_mobilenet_v1_backbone,
    build_mobilenet_v1_fpn_backbone,
    build_vgg16_backbone,
    load_mobilenet_v1_imagenet,
)
from .config import add_backbone_config

register_config_extension(add_backbone_config)

__all__ = [
    "add_backbone_config",
    "LastLevelStridedConvs",
    "build_fpn_top_block",
    "MobileNetV1",
    "build_mobilenet_v1_backbone",
    "build_mobilenet_v1_fpn_backbone",
    "load_mobilenet_v1_imagenet",
    "build_face_resnet_fpn_backbone",
    "VGG16",
    "build_vgg16_backbone",
]

# Dense-detector pieces shared by the single-shot methods (registering their config keys too).
from . import anchors, face_retinanet, retinanet_config, tta  # noqa: E402,F401
from .anchors import FaceAnchorGenerator  # noqa: E402
from .face_retinanet import FaceRetinaNet  # noqa: E402
from .retinanet_config import add_face_retinanet_config  # noqa: E402
from .tta import FaceDetectorWithTTA, add_face_tta_config  # noqa: E402
