"""Pieces shared by the face crops (square crop, two-patch crop, data-anchor-sampling, SSE).

:class:`FaceCropTransform` crops a window that may extend beyond the image (the outside is filled
with the pixel mean, the occlusion mask with 0) and applies the rule every face-detection paper of
the SSD family uses for boxes (SSD, S3FD, PyramidBox, FAN Sec. 3.2.3, SRN/RefineFace Sec. 4.1,
MogFace's ``das_crop_img``): **a box is kept iff its centre lies strictly inside the window, and
then only its overlap with the window is kept** (the box is clipped to the window).

Boxes that are not kept cannot be removed by ``Transform.apply_box`` (it must return one box per
input box so that classes / flags stay aligned), so they are *collapsed* to a zero-area box (a
point inside the window). Every later geometric transform (resize, flip, pad, crop) maps a
zero-area box to a zero-area box, and :class:`facelib.data.mapper.FaceDatasetMapper` removes (and
counts) them. Box-driven augmentations only look at :func:`valid_face_mask` boxes, so a face removed
by an earlier crop is never picked again.

:class:`FaceAugInput` is detectron2's ``AugInput`` that additionally clips the boxes to the current
image after every transform, so boxes are inside the image after every augmentation.
"""
from typing import Optional, Sequence, Union

import numpy as np
from fvcore.transforms.transform import Transform, TransformList

from detectron2.data.transforms import AugInput

__all__ = [
    "FaceCropTransform",
    "FaceAugInput",
    "valid_face_mask",
    "centres_inside",
    "clip_boxes",
    "fill_value_for",
]


def valid_face_mask(boxes: Optional[np.ndarray]) -> np.ndarray:
    """Bool mask of the boxes (Nx4 XYXY) with positive width and height (not removed by a crop)."""
    if boxes is None:
        return np.zeros((0,), dtype=bool)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def centres_inside(boxes: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Bool mask: box centre strictly inside the window ``(x0, y0, x1, y1)`` (SSD's rule)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2.0
    cy = (boxes[:, 1] + boxes[:, 3]) / 2.0
    return (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1)


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clip XYXY boxes to ``[0, width] x [0, height]`` (returns a new array)."""
    boxes = np.array(boxes, copy=True).reshape(-1, 4)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    return boxes


def fill_value_for(img: np.ndarray, fill: Union[float, Sequence[float]]):
    """The fill to use for ``img``: a scalar for single-channel images (the mean of a per-channel
    fill), a per-channel vector otherwise; rounded for integer images."""
    fill = np.asarray(fill, dtype=np.float64).reshape(-1)
    if img.ndim == 2 or img.shape[2] == 1:
        value = np.array(fill.mean())
    elif fill.size == 1:
        value = np.repeat(fill, img.shape[2])
    else:
        if fill.size != img.shape[2]:
            raise ValueError(f"fill has {fill.size} values but the image has {img.shape[2]} channels")
        value = fill
    if np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        value = np.clip(np.round(value), info.min, info.max)
    return value.astype(img.dtype)


class FaceCropTransform(Transform):
    """Crop the window ``[x0, x0 + w) x [y0, y0 + h)`` (integers; it may extend beyond the image,
    the outside is filled with ``pad_value`` for images and ``seg_pad_value`` for segmentations).

    Boxes: kept iff the centre is strictly inside the window, shifted and clipped to the window;
    the others are collapsed to a zero-area box (see the module docstring).
    """

    def __init__(
        self,
        x0: int,
        y0: int,
        w: int,
        h: int,
        orig_w: Optional[int] = None,
        orig_h: Optional[int] = None,
        pad_value: Union[float, Sequence[float]] = 0.0,
        seg_pad_value: int = 0,
    ):
        super().__init__()
        x0, y0, w, h = int(x0), int(y0), int(w), int(h)
        if w <= 0 or h <= 0:
            raise ValueError(f"FaceCropTransform needs a positive size, got w={w}, h={h}")
        self._set_attributes(locals())

    def _crop(self, img: np.ndarray, fill) -> np.ndarray:
        H, W = img.shape[:2]
        x0, y0, w, h = self.x0, self.y0, self.w, self.h
        if x0 >= 0 and y0 >= 0 and x0 + w <= W and y0 + h <= H:
            return img[y0 : y0 + h, x0 : x0 + w]
        out = np.empty((h, w) + img.shape[2:], dtype=img.dtype)
        out[...] = fill
        ix0, iy0 = max(x0, 0), max(y0, 0)
        ix1, iy1 = min(x0 + w, W), min(y0 + h, H)
        if ix1 > ix0 and iy1 > iy0:
            out[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = img[iy0:iy1, ix0:ix1]
        return out

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        return self._crop(img, fill_value_for(img, self.pad_value))

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return self._crop(segmentation, np.asarray(self.seg_pad_value).astype(segmentation.dtype))

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        coords[:, 0] -= self.x0
        coords[:, 1] -= self.y0
        return coords

    def keep_mask(self, boxes: np.ndarray) -> np.ndarray:
        """Which boxes (XYXY, coordinates *before* the crop) this crop keeps."""
        return centres_inside(boxes, self.x0, self.y0, self.x0 + self.w, self.y0 + self.h)

    def apply_box(self, box: np.ndarray) -> np.ndarray:
        box = np.asarray(box)
        dtype = box.dtype if np.issubdtype(box.dtype, np.floating) else np.float32
        boxes = box.reshape(-1, 4).astype(np.float64)
        keep = self.keep_mask(boxes) & valid_face_mask(boxes)
        out = boxes.copy()
        out[:, 0::2] -= self.x0
        out[:, 1::2] -= self.y0
        out = clip_boxes(out, self.w, self.h)
        # collapse the removed faces to their (clipped) centre: zero width and height
        cx = (out[:, 0] + out[:, 2]) / 2.0
        cy = (out[:, 1] + out[:, 3]) / 2.0
        drop = ~keep
        out[drop, 0] = out[drop, 2] = cx[drop]
        out[drop, 1] = out[drop, 3] = cy[drop]
        return out.astype(dtype)

    def inverse(self) -> Transform:
        raise NotImplementedError("FaceCropTransform removes faces; it has no inverse")


class FaceAugInput(AugInput):
    """``AugInput`` (image, boxes, sem_seg = occlusion mask) that clips the boxes to the current
    image after every transform. Use it wherever boxes must stay inside the image."""

    def transform(self, tfm: Transform) -> None:
        tfms = tfm.transforms if isinstance(tfm, TransformList) else [tfm]
        for t in tfms:
            super().transform(t)
            if self.boxes is not None:
                h, w = self.image.shape[:2]
                self.boxes = clip_boxes(self.boxes, w, h).astype(np.float32)
