"""Resizes.

* :class:`ResizeSquare`: resize to ``size x size`` without keeping the aspect ratio, the final
  step of the FAN (640), RefineFace / SRN (1024) and MogFace (640) training pipelines (after a
  square crop it only changes the scale). A no-op when the image already has that size.
* Shortest-edge test resize: detectron2's ``ResizeShortestEdge`` is used directly
  (see :func:`facelib.data.transforms.build.build_face_augmentation`).

Both produce detectron2 ``ResizeTransform`` s, whose ``apply_segmentation`` uses nearest-neighbour
interpolation, so the occlusion mask stays binary and aligned with the boxes.
"""
import numpy as np
from fvcore.transforms.transform import NoOpTransform, Transform
from PIL import Image

from detectron2.data.transforms import Augmentation, ResizeTransform

__all__ = ["ResizeSquare"]


class ResizeSquare(Augmentation):
    """Resize to ``size x size`` (aspect ratio not kept)."""

    def __init__(self, size: int = 640, interp=Image.BILINEAR):
        super().__init__()
        self._init(locals())

    def get_transform(self, image: np.ndarray) -> Transform:
        h, w = image.shape[:2]
        if (h, w) == (self.size, self.size):
            return NoOpTransform()
        return ResizeTransform(h, w, self.size, self.size, self.interp)
