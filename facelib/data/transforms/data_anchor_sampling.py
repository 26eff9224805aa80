"""Data-anchor-sampling (Tang et al., "PyramidBox", ECCV 2018, Sec. 3.4), and the rescale-and-crop
machinery it shares with MogFace's SSE (``facelib.projects.mogface.sse``).

The paper: choose a face of size ``s_face`` at random; with anchor scales ``s_i = 16 * 2^i``
(i = 0..5), ``i_anchor = argmin_i |s_i - s_face|``; draw ``i_target`` uniformly from
``{0, 1, ..., min(5, i_anchor + 1)}`` and ``s_target`` uniformly from ``[s_i_target / 2,
2 * s_i_target]``; resize the image by ``s_target / s_face``; crop a 640x640 sub-image containing
the chosen face.

Details taken from the public implementation (PaddlePaddle PyramidBox ``data_anchor_sampling``,
reproduced verbatim as ``das_sample_bbox`` / ``das_crop_img`` in damo-cv/MogFace
``data/transform/image_util.py``):

* ``s_face = sqrt(w * h)`` of the chosen face; ties of ``argmin`` go to the smaller anchor;
* the crop window (side ``CROP_SIZE`` in the resized image) is placed at a uniform position
  such that it contains the chosen face (or, for a face larger than the window, such that the
  window lies inside the face); if the whole resized image fits in the window, the window is
  placed uniformly so that it contains the whole image; the window may extend beyond the image,
  the outside is filled with the pixel mean;
* faces whose centre lies inside the window are kept, clipped to it.

Deviations (documented):

* ``s_target`` is uniform in ``[s/2, 2s]`` as the paper says; the public code draws
  ``s * 2^U(-1, 1)`` (log-uniform) -- ``scale_sampling="log_uniform"`` selects that;
* the window offsets are integers drawn uniformly over the positions that keep the chosen face
  inside the window (the code draws a float and floors it, which can cut one pixel off the face);
  for a face larger than the window, the window is also kept around the face centre so that the
  face survives the centre rule (the code instead accepts windows with IoU > 0.7 with a face);
* the code draws 50 windows and picks one at random; all of them satisfy the containment
  condition by construction, so one draw is equivalent;
* for an upscale (``ratio > 1``) the window is cut from the *original* image (side
  ``round(CROP_SIZE / ratio)``) and then resized to ``CROP_SIZE``, instead of resizing the whole
  image first (the code caps the resized image at 12000^2 pixels for the same reason). The
  effective ratio is ``CROP_SIZE / round(CROP_SIZE / ratio)`` (within 1% of ``ratio`` for windows of
  50 pixels and more). For ``ratio <= 1`` the whole image is resized first, as in the code;
* one interpolation (bilinear) instead of a random choice among five OpenCV methods;
* the code's ``prob_large_sample`` option (0 by default) is not implemented.

Returns a ``TransformList`` of a ``ResizeTransform`` and a
:class:`~facelib.data.transforms.crop.FaceCropTransform` (in either order); the occlusion mask is
resized with nearest neighbour and padded with 0.
"""
import math
from typing import Optional, Sequence, Union

import numpy as np
from fvcore.transforms.transform import NoOpTransform, Transform, TransformList
from PIL import Image

from detectron2.data.transforms import Augmentation, ResizeTransform

from .crop import FaceCropTransform, valid_face_mask

__all__ = ["ScaleAndCropAroundFace", "DataAnchorSampling", "scale_and_crop_transform"]


def _randint_incl(lo: int, hi: int) -> int:
    return int(np.random.randint(lo, hi + 1))


def _axis_offset(b0: float, b1: float, side: int, extent: int, whole_fits: bool) -> int:
    """Integer window start along one axis (see the module docstring)."""
    if whole_fits:  # window contains the whole image: start in [extent - side, 0]
        return _randint_incl(extent - side, 0)
    size = b1 - b0
    if size <= side:  # window contains the face: start in [b1 - side, b0]
        lo, hi = math.ceil(b1 - side), math.floor(b0)
        return _randint_incl(lo, hi) if lo <= hi else math.floor(b0)
    # face larger than the window: window inside the face and around its centre
    c = (b0 + b1) / 2.0
    lo, hi = max(b0, c - side), min(b1 - side, c)
    return int(math.floor(np.random.uniform(lo, hi))) if hi > lo else int(math.floor(lo))


def _window(height: int, width: int, face: np.ndarray, side: int):
    whole_fits = side >= max(height, width)
    x0 = _axis_offset(face[0], face[2], side, width, whole_fits)
    y0 = _axis_offset(face[1], face[3], side, height, whole_fits)
    return x0, y0


def scale_and_crop_transform(
    height: int,
    width: int,
    face: np.ndarray,
    ratio: float,
    crop_size: int,
    fill: Union[float, Sequence[float]] = 0.0,
    interp=Image.BILINEAR,
) -> TransformList:
    """Resize the image by ``ratio`` and cut a ``crop_size`` square window containing ``face``
    (XYXY, original coordinates). See the module docstring for the placement rule."""
    face = np.asarray(face, dtype=np.float64).reshape(4)
    if ratio <= 1.0:
        new_h = max(1, int(round(height * ratio)))
        new_w = max(1, int(round(width * ratio)))
        sx, sy = new_w / width, new_h / height
        f = face * np.array([sx, sy, sx, sy])
        x0, y0 = _window(new_h, new_w, f, crop_size)
        tfms = []
        if (new_h, new_w) != (height, width):
            tfms.append(ResizeTransform(height, width, new_h, new_w, interp))
        tfms.append(
            FaceCropTransform(x0, y0, crop_size, crop_size, orig_w=new_w, orig_h=new_h, pad_value=fill)
        )
        return TransformList(tfms)
    side = max(1, int(round(crop_size / ratio)))
    x0, y0 = _window(height, width, face, side)
    tfms = [FaceCropTransform(x0, y0, side, side, orig_w=width, orig_h=height, pad_value=fill)]
    if side != crop_size:
        tfms.append(ResizeTransform(side, side, crop_size, crop_size, interp))
    return TransformList(tfms)


class ScaleAndCropAroundFace(Augmentation):
    """Base of DAS and SSE: with probability ``prob`` pick a random face, draw a resize ratio with
    :meth:`sample_ratio`, then :func:`scale_and_crop_transform`. Images without faces are left
    alone. ``last_params`` records the last draw (face index, ``s_face``, ``s_target``, ratio)."""

    def __init__(self, crop_size: int = 640, prob: float = 1.0, fill=0.0, interp=Image.BILINEAR):
        super().__init__()
        self._init(locals())
        self.last_params: Optional[dict] = None

    def sample_target_scale(self, s_face: float) -> float:
        raise NotImplementedError

    def get_transform(self, image, boxes) -> Transform:
        self.last_params = None
        if np.random.uniform() >= self.prob:
            return NoOpTransform()
        h, w = image.shape[:2]
        if boxes is None:
            return NoOpTransform()
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        valid = np.nonzero(valid_face_mask(boxes))[0]
        if len(valid) == 0:
            return NoOpTransform()
        idx = int(valid[np.random.randint(len(valid))])
        face = boxes[idx]
        s_face = math.sqrt((face[2] - face[0]) * (face[3] - face[1]))
        s_target = float(self.sample_target_scale(s_face))
        ratio = s_target / s_face
        tfm = scale_and_crop_transform(h, w, face, ratio, self.crop_size, self.fill, self.interp)
        eff = ratio
        if ratio > 1.0:
            eff = self.crop_size / max(1, int(round(self.crop_size / ratio)))
        self.last_params = dict(
            face_index=idx, s_face=s_face, s_target=s_target, ratio=ratio, effective_ratio=eff
        )
        return tfm


class DataAnchorSampling(ScaleAndCropAroundFace):
    """PyramidBox data-anchor-sampling (see the module docstring). Needs ``AugInput(image, boxes=)``.

    Args:
        anchor_sizes: the anchor scales ``s_i`` (16 .. 512).
        crop_size: side of the output square (640).
        prob: probability of applying it (otherwise no-op).
        fill: pixel mean used outside the image.
        scale_sampling: "uniform" (paper) or "log_uniform" (public code, ``s * 2^U(-1, 1)``).
    """

    def __init__(
        self,
        anchor_sizes: Sequence[float] = (16, 32, 64, 128, 256, 512),
        crop_size: int = 640,
        prob: float = 0.5,
        fill=0.0,
        scale_sampling: str = "uniform",
        interp=Image.BILINEAR,
    ):
        super().__init__(crop_size=crop_size, prob=prob, fill=fill, interp=interp)
        if scale_sampling not in ("uniform", "log_uniform"):
            raise ValueError(f"scale_sampling must be 'uniform' or 'log_uniform', got {scale_sampling!r}")
        self.anchor_sizes = tuple(float(a) for a in anchor_sizes)
        self.scale_sampling = scale_sampling

    def anchor_index(self, s_face: float) -> int:
        """``argmin_i |s_i - s_face|`` (first index on ties)."""
        return int(np.argmin([abs(a - s_face) for a in self.anchor_sizes]))

    def sample_target_scale(self, s_face: float) -> float:
        i_anchor = self.anchor_index(s_face)
        i_max = min(len(self.anchor_sizes) - 1, i_anchor + 1)
        i_target = int(np.random.randint(0, i_max + 1))
        s_i = self.anchor_sizes[i_target]
        if self.scale_sampling == "uniform":
            return float(np.random.uniform(s_i / 2.0, s_i * 2.0))
        return float(s_i * 2.0 ** np.random.uniform(-1.0, 1.0))
