"""facelib backbones, registered in detectron2's BACKBONE_REGISTRY on import."""
from .fpn_top import LastLevelStridedConvs, build_face_fpn, build_fpn_top_block
from .mobilenet import (
    MobileNetV1,
    build_mobilenet_v1_backbone,
    build_mobilenet_v1_fpn_backbone,
    load_mobilenet_v1_imagenet,
)
from .resnet_fpn import build_face_resnet_fpn_backbone
from .vgg import VGG16, build_vgg16_backbone

__all__ = [
    "LastLevelStridedConvs",
    "build_fpn_top_block",
    "build_face_fpn",
    "MobileNetV1",
    "build_mobilenet_v1_backbone",
    "build_mobilenet_v1_fpn_backbone",
    "load_mobilenet_v1_imagenet",
    "build_face_resnet_fpn_backbone",
    "VGG16",
    "build_vgg16_backbone",
]
