"""SSD photometric distortion (Liu et al., SSD, ECCV 2016, Sec. 3 "Data augmentation"; the Caffe
``DistortImage`` and ssd.pytorch ``PhotometricDistort``; used by S3FD, PyramidBox, FAN Sec. 3.2.3,
SRN / RefineFace Sec. 4.1 and MogFace ``distort_image``).

Order (as in the Caffe SSD / MogFace code)::

    brightness  (delta ~ U(-BRIGHTNESS_DELTA, +BRIGHTNESS_DELTA) added)      with prob PROB
    with prob 0.5:  contrast, saturation, hue      ("contrast first")
    otherwise:      saturation, hue, contrast      ("contrast last")
    contrast:   multiply by alpha ~ U(CONTRAST_RANGE)                          with prob PROB
    saturation: S channel of HSV multiplied by ~ U(SATURATION_RANGE)           with prob PROB
    hue:        H channel (degrees, [0, 360)) shifted by ~ U(-HUE_DELTA, HUE_DELTA), wrapped, with prob PROB

The random parameters are drawn by :class:`PhotometricDistortion` (an ``Augmentation``) and
stored in a :class:`PhotometricDistortTransform`, which changes only the image: coordinates, boxes
and segmentation masks pass through untouched.

Notes / deviations:

* HSV is computed in float32 with OpenCV (H in degrees, S in [0, 1]), as ssd.pytorch and
  MogFace do; the Caffe SSD applies the hue delta in OpenCV's 8-bit H units (0..180).
* The result is clipped to [0, 255] after every step (the references work in unclipped float
  and clip / cast only at the end); this keeps the HSV conversions well defined.
* SSD's optional random channel swap (``random_order_prob``, 0 in the Caffe SSD) is not done.
* uint8 in -> uint8 out (rounded); float in -> float32 out in [0, 255].
"""
from typing import Optional, Sequence

import cv2
import numpy as np
from fvcore.transforms.transform import Transform

from detectron2.data.transforms import Augmentation

__all__ = ["PhotometricDistortTransform", "PhotometricDistortion"]


class PhotometricDistortTransform(Transform):
    """Deterministic SSD photometric distortion with fixed parameters (``None`` = step skipped).

    Args:
        brightness_delta: value added to every channel, or None.
        contrast_alpha: multiplier, or None.
        saturation_alpha: multiplier of the HSV S channel, or None.
        hue_delta: degrees added to the HSV H channel, or None.
        contrast_first: True: contrast, saturation, hue; False: saturation, hue, contrast.
        image_format: channel order of the image ("BGR" or "RGB"); single-channel images get only
            brightness and contrast.
    """

    def __init__(
        self,
        brightness_delta: Optional[float] = None,
        contrast_alpha: Optional[float] = None,
        saturation_alpha: Optional[float] = None,
        hue_delta: Optional[float] = None,
        contrast_first: bool = True,
        image_format: str = "BGR",
    ):
        super().__init__()
        self._set_attributes(locals())

    def _hsv(self, img: np.ndarray, fn) -> np.ndarray:
        if img.ndim != 3 or img.shape[2] != 3:
            return img  # saturation / hue are undefined for single-channel images
        to_hsv, to_rgb = (
            (cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB)
            if self.image_format.upper() == "RGB"
            else (cv2.COLOR_BGR2HSV, cv2.COLOR_HSV2BGR)
        )
        hsv = cv2.cvtColor(np.ascontiguousarray(img, dtype=np.float32), to_hsv)
        fn(hsv)
        return np.clip(cv2.cvtColor(hsv, to_rgb), 0.0, 255.0)

    def _saturation(self, img):
        if self.saturation_alpha is None:
            return img

        def f(hsv):
            hsv[..., 1] = np.clip(hsv[..., 1] * self.saturation_alpha, 0.0, 1.0)

        return self._hsv(img, f)

    def _hue(self, img):
        if self.hue_delta is None:
            return img

        def f(hsv):
            hsv[..., 0] = np.mod(hsv[..., 0] + self.hue_delta, 360.0)

        return self._hsv(img, f)

    def _contrast(self, img):
        if self.contrast_alpha is None:
            return img
        return np.clip(img * self.contrast_alpha, 0.0, 255.0)

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        out = img.astype(np.float32)
        if self.brightness_delta is not None:
            out = np.clip(out + self.brightness_delta, 0.0, 255.0)
        if self.contrast_first:
            out = self._hue(self._saturation(self._contrast(out)))
        else:
            out = self._contrast(self._hue(self._saturation(out)))
        out = out.astype(np.float32)
        if img.dtype == np.uint8:
            return np.clip(np.round(out), 0, 255).astype(np.uint8)
        return out

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_box(self, box: np.ndarray) -> np.ndarray:
        return box

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation

    def inverse(self) -> Transform:
        from fvcore.transforms.transform import NoOpTransform

        return NoOpTransform()


class PhotometricDistortion(Augmentation):
    """Draws the SSD photometric distortion parameters (see the module docstring)."""

    def __init__(
        self,
        brightness_delta: float = 32.0,
        contrast_range: Sequence[float] = (0.5, 1.5),
        saturation_range: Sequence[float] = (0.5, 1.5),
        hue_delta: float = 18.0,
        prob: float = 0.5,
        image_format: str = "BGR",
    ):
        super().__init__()
        self._init(locals())

    def get_transform(self, image) -> Transform:
        r = np.random
        brightness = contrast = saturation = hue = None
        if r.uniform() < self.prob:
            brightness = float(r.uniform(-self.brightness_delta, self.brightness_delta))
        contrast_first = bool(r.uniform() < 0.5)
        if r.uniform() < self.prob:
            contrast = float(r.uniform(*self.contrast_range))
        if r.uniform() < self.prob:
            saturation = float(r.uniform(*self.saturation_range))
        if r.uniform() < self.prob:
            hue = float(r.uniform(-self.hue_delta, self.hue_delta))
        return PhotometricDistortTransform(
            brightness, contrast, saturation, hue, contrast_first, self.image_format
        )
