"""``build_face_augmentation(cfg, is_train)``: the augmentation list of ``INPUT.FACE_AUG``.

Training: the names in ``INPUT.FACE_AUG.TRAIN``, applied in that order. Test: one resize chosen by
``INPUT.FACE_AUG.TEST`` ("resize_shortest_edge", "resize_square" or "none").

Known training names (see each module for the paper and the details):

=====================  ==============================================================
``photometric``        SSD photometric distortion (``INPUT.FACE_AUG.PHOTOMETRIC``)
``expand``             SSD zoom-out with mean fill (``INPUT.FACE_AUG.EXPAND``)
``random_square_crop`` FAN random square crop (``INPUT.FACE_AUG.SQUARE_CROP``)
``two_patch_crop``     SRN / RefineFace two-patch crop (``INPUT.FACE_AUG.TWO_PATCH_CROP``)
``data_anchor_sampling`` PyramidBox DAS (``INPUT.FACE_AUG.DAS``)
``flip``               horizontal flip, detectron2 ``RandomFlip`` (``INPUT.FACE_AUG.FLIP_PROB``)
``resize_square``      resize to SIZE x SIZE (``INPUT.FACE_AUG.RESIZE_SQUARE.SIZE``)
``resize_shortest_edge`` detectron2 ``ResizeShortestEdge`` with ``INPUT.MIN_SIZE_TRAIN`` etc.
=====================  ==============================================================

Both lists are :class:`AugmentationRegistry` objects (``TRAIN_AUGMENTATIONS``,
``TEST_AUGMENTATIONS``) that method packages extend with ``register(name)``.

The mean fill of expand / DAS / SSE is ``MODEL.PIXEL_MEAN`` (given in ``INPUT.FORMAT`` order, the
order of the images the mapper reads).
"""
from typing import Callable, Dict, List, Optional

from detectron2.data import transforms as T

from .data_anchor_sampling import DataAnchorSampling
from .expand import RandomExpand
from .photometric import PhotometricDistortion
from .resize import ResizeSquare
from .square_crop import RandomSquareCrop
from .two_patch_crop import TwoPatchSquareCrop

__all__ = ["build_face_augmentation", "mean_fill", "TRAIN_AUGMENTATIONS", "TEST_AUGMENTATIONS"]


def mean_fill(cfg):
    """The fill of padded pixels: ``MODEL.PIXEL_MEAN`` (see the module docstring)."""
    return tuple(float(v) for v in cfg.MODEL.PIXEL_MEAN)


def _photometric(cfg):
    c = cfg.INPUT.FACE_AUG.PHOTOMETRIC
    return PhotometricDistortion(
        brightness_delta=c.BRIGHTNESS_DELTA,
        contrast_range=tuple(c.CONTRAST_RANGE),
        saturation_range=tuple(c.SATURATION_RANGE),
        hue_delta=c.HUE_DELTA,
        prob=c.PROB,
        image_format=cfg.INPUT.FORMAT,
    )


def _expand(cfg):
    c = cfg.INPUT.FACE_AUG.EXPAND
    return RandomExpand(ratio_range=tuple(c.RATIO_RANGE), prob=c.PROB, fill=mean_fill(cfg))


def _square_crop(cfg):
    c = cfg.INPUT.FACE_AUG.SQUARE_CROP
    return RandomSquareCrop(scale_range=tuple(c.SCALE_RANGE), max_tries=c.MAX_TRIES)


def _two_patch(cfg):
    c = cfg.INPUT.FACE_AUG.TWO_PATCH_CROP
    return TwoPatchSquareCrop(scale_range=tuple(c.SCALE_RANGE), max_tries=c.MAX_TRIES)


def _das(cfg):
    c = cfg.INPUT.FACE_AUG.DAS
    return DataAnchorSampling(
        anchor_sizes=tuple(c.ANCHOR_SIZES),
        crop_size=c.CROP_SIZE,
        prob=c.PROB,
        fill=mean_fill(cfg),
        scale_sampling=c.SCALE_SAMPLING,
    )


def _flip(cfg):
    return T.RandomFlip(prob=cfg.INPUT.FACE_AUG.FLIP_PROB, horizontal=True, vertical=False)


def _resize_square(cfg):
    return ResizeSquare(cfg.INPUT.FACE_AUG.RESIZE_SQUARE.SIZE)


def _resize_shortest_edge_train(cfg):
    return T.ResizeShortestEdge(
        cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TRAIN_SAMPLING
    )


class AugmentationRegistry:
    """Name -> ``builder(cfg)`` of the augmentations ``INPUT.FACE_AUG`` may name. facelib registers
    its own below; a method package adds its own at import::

        @TRAIN_AUGMENTATIONS.register("my_crop")
        def _my_crop(cfg):
            return MyCrop(cfg.INPUT.FACE_AUG.MY_CROP.SIZE)

    A name registered twice is an error (never silently replaced)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._builders: Dict[str, Callable] = {}

    def register(self, name: str, builder: Optional[Callable] = None):
        """Register ``builder`` under ``name``; without ``builder``, a decorator."""
        if builder is None:
            return lambda fn: self.register(name, fn)
        if name in self._builders:
            raise KeyError(f"{self.kind} {name!r} is already registered ({self._builders[name]!r})")
        self._builders[name] = builder
        return builder

    def get(self, name: str) -> Callable:
        if name not in self._builders:
            raise ValueError(f"Unknown {self.kind} {name!r}; known names: {', '.join(self._builders)}")
        return self._builders[name]

    def __contains__(self, name: str) -> bool:
        return name in self._builders

    def __iter__(self):
        return iter(self._builders)

    def names(self) -> List[str]:
        return list(self._builders)


TRAIN_AUGMENTATIONS = AugmentationRegistry("augmentation in INPUT.FACE_AUG.TRAIN")
TEST_AUGMENTATIONS = AugmentationRegistry("test resize in INPUT.FACE_AUG.TEST")

for _name, _builder in (
    ("photometric", _photometric),
    ("expand", _expand),
    ("random_square_crop", _square_crop),
    ("two_patch_crop", _two_patch),
    ("data_anchor_sampling", _das),
    ("flip", _flip),
    ("resize_square", _resize_square),
    ("resize_shortest_edge", _resize_shortest_edge_train),
):
    TRAIN_AUGMENTATIONS.register(_name, _builder)

TEST_AUGMENTATIONS.register(
    "resize_shortest_edge",
    lambda cfg: [T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, "choice")],
)
TEST_AUGMENTATIONS.register("resize_square", lambda cfg: [ResizeSquare(cfg.INPUT.FACE_AUG.RESIZE_SQUARE.SIZE)])
TEST_AUGMENTATIONS.register("none", lambda cfg: [])


def build_face_augmentation(cfg, is_train: bool) -> List[T.Augmentation]:
    """The augmentations of ``INPUT.FACE_AUG`` (see the module docstring)."""
    if is_train:
        return [TRAIN_AUGMENTATIONS.get(name)(cfg) for name in cfg.INPUT.FACE_AUG.TRAIN]
    return TEST_AUGMENTATIONS.get(cfg.INPUT.FACE_AUG.TEST)(cfg)
