"""FAN random square crop (Wang et al., "Face Attention Network", 2017, Sec. 3.2.3):

    "we randomly crop square patches from original images, whose range between [0.3, 1] of the
    short edge from the original images. In addition, We keep the overlapped part of the
    ground-truth box if its center is in the sampled patch."

Implementation: ``side = int(U(scale_range) * short_side)`` (at least 1), top-left corner uniform
over the positions that keep the square inside the image; faces whose centre lies strictly inside
are kept, clipped to the square (:class:`~facelib.data.transforms.crop.FaceCropTransform`). The
draw is repeated up to ``max_tries`` times until at least one face is kept; if none is, the image
is left uncropped (no-op). An image without faces gets the first drawn crop (there is nothing to
lose). The paper does not state the size patches are resized to; that resize is a separate augmentation
(``resize_square``, ``INPUT.FACE_AUG.RESIZE_SQUARE.SIZE``; 640 in ``configs/fan_R50.yaml``).
"""
from typing import Optional, Sequence

import numpy as np
from fvcore.transforms.transform import NoOpTransform, Transform

from detectron2.data.transforms import Augmentation

from .crop import FaceCropTransform, valid_face_mask

__all__ = ["RandomSquareCrop", "sample_square_crop"]


def sample_square_crop(
    height: int,
    width: int,
    boxes: Optional[np.ndarray],
    side_fn,
    max_tries: int,
) -> Optional[FaceCropTransform]:
    """Draw square windows ``side = side_fn()`` at a uniform position inside the image until one
    keeps at least one valid face (``max_tries`` draws). Returns the crop, or None when no draw
    kept a face. Without valid faces, returns the first draw."""
    faces = None
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        faces = boxes[valid_face_mask(boxes)]
    for _ in range(max(1, int(max_tries))):
        side = int(min(max(1, side_fn()), height, width))
        x0 = int(np.random.randint(0, width - side + 1))
        y0 = int(np.random.randint(0, height - side + 1))
        crop = FaceCropTransform(x0, y0, side, side, orig_w=width, orig_h=height)
        if faces is None or len(faces) == 0 or crop.keep_mask(faces).any():
            return crop
    return None


class RandomSquareCrop(Augmentation):
    """FAN random square crop (see the module docstring). Needs ``AugInput(image, boxes=...)``."""

    def __init__(self, scale_range: Sequence[float] = (0.3, 1.0), max_tries: int = 50):
        super().__init__()
        self._init(locals())

    def get_transform(self, image, boxes) -> Transform:
        h, w = image.shape[:2]
        short = min(h, w)
        crop = sample_square_crop(
            h, w, boxes, lambda: int(np.random.uniform(*self.scale_range) * short), self.max_tries
        )
        return crop if crop is not None else NoOpTransform()
