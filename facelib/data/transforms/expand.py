"""SSD "zoom out" / expand (Liu et al., SSD, Sec. 3 "Data augmentation", and ssd.pytorch
``Expand``; used by FAN, RefineFace, DSFD).

With probability ``prob``: ``ratio ~ U(ratio_range)`` (default [1, 2]); a canvas of
``int(W * ratio) x int(H * ratio)`` is filled with the pixel mean and the image is placed at
``(left, top) = (int(U(0, new_w - W)), int(U(0, new_h - H)))``. Boxes are shifted by
``(left, top)``; the occlusion mask is padded with 0 (not occluded).

The fill is the pixel mean in the image's own channel order: detectron2's ``MODEL.PIXEL_MEAN`` is
given in ``INPUT.FORMAT`` order (e.g. BGR ``[103.53, 116.28, 123.675]``), which is the order of the
image the mapper reads, so it is used as is (rounded for uint8 images).
"""
from typing import Sequence, Union

import numpy as np
from fvcore.transforms.transform import NoOpTransform, PadTransform, Transform

from detectron2.data.transforms import Augmentation

from .crop import fill_value_for

__all__ = ["ExpandTransform", "RandomExpand"]


class ExpandTransform(PadTransform):
    """Pad ``x0`` / ``y0`` pixels left / top and ``x1`` / ``y1`` right / bottom with a per-channel
    fill (detectron2's ``PadTransform`` pads with one scalar only)."""

    def __init__(
        self,
        x0: int,
        y0: int,
        x1: int,
        y1: int,
        orig_w: int = None,
        orig_h: int = None,
        pad_value: Union[float, Sequence[float]] = 0.0,
        seg_pad_value: int = 0,
    ):
        super().__init__(x0, y0, x1, y1, orig_w, orig_h, 0, seg_pad_value)
        self.pad_value = pad_value

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        out = np.empty((h + self.y0 + self.y1, w + self.x0 + self.x1) + img.shape[2:], img.dtype)
        out[...] = fill_value_for(img, self.pad_value)
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = img
        return out


class RandomExpand(Augmentation):
    """SSD zoom-out with mean fill (see the module docstring)."""

    def __init__(
        self,
        ratio_range: Sequence[float] = (1.0, 2.0),
        prob: float = 0.5,
        fill: Union[float, Sequence[float]] = 0.0,
    ):
        super().__init__()
        if ratio_range[0] < 1.0 or ratio_range[1] < ratio_range[0]:
            raise ValueError(f"expand ratio range must satisfy 1 <= lo <= hi, got {ratio_range}")
        self._init(locals())

    def get_transform(self, image) -> Transform:
        if np.random.uniform() >= self.prob:
            return NoOpTransform()
        h, w = image.shape[:2]
        ratio = np.random.uniform(*self.ratio_range)
        new_w, new_h = int(w * ratio), int(h * ratio)
        left = int(np.random.uniform(0, new_w - w))
        top = int(np.random.uniform(0, new_h - h))
        return ExpandTransform(
            left, top, new_w - w - left, new_h - h - top, orig_w=w, orig_h=h, pad_value=self.fill
        )
