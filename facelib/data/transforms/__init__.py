"""Face-detection augmentations as detectron2 ``Augmentation`` s (one module per paper idea).

Box-driven augmentations (crops, DAS, SSE) read the boxes from ``AugInput(image, boxes=...)``
(XYXY absolute). Faces removed by a crop are collapsed to zero-area boxes (``apply_box`` must keep
one box per face); :class:`facelib.data.mapper.FaceDatasetMapper` removes and counts them. The
occlusion mask goes in ``sem_seg`` and follows every geometric transform (nearest-neighbour
resize, 0-padding). See :mod:`facelib.data.transforms.crop`.
"""
from .build import TEST_AUGMENTATIONS, TRAIN_AUGMENTATIONS, AugmentationRegistry, build_face_augmentation
from .crop import FaceAugInput, FaceCropTransform, clip_boxes, valid_face_mask
from .data_anchor_sampling import DataAnchorSampling, ScaleAndCropAroundFace, scale_and_crop_transform
from .expand import ExpandTransform, RandomExpand
from .photometric import PhotometricDistortion, PhotometricDistortTransform
from .resize import ResizeSquare
from .square_crop import RandomSquareCrop
from .two_patch_crop import TwoPatchSquareCrop

__all__ = [
    "build_face_augmentation",
    "AugmentationRegistry",
    "TRAIN_AUGMENTATIONS",
    "TEST_AUGMENTATIONS",
    "FaceAugInput",
    "FaceCropTransform",
    "clip_boxes",
    "valid_face_mask",
    "DataAnchorSampling",
    "ScaleAndCropAroundFace",
    "scale_and_crop_transform",
    "ExpandTransform",
    "RandomExpand",
    "PhotometricDistortion",
    "PhotometricDistortTransform",
    "ResizeSquare",
    "RandomSquareCrop",
    "TwoPatchSquareCrop",
]
