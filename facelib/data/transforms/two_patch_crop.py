"""SRN / RefineFace two-patch square crop (Chi et al., SRN, AAAI 2019, Sec. "Training", data
augmentation item 3; Zhang et al., RefineFace, TPAMI 2020, Sec. 4.1):

    "crop two square patches and randomly select one for training. One patch is with the image's
    shorter side and the other one is with the size determined by multiplying a random number in
    the interval [0.3, 1] by the image's shorter side."

followed (in the papers) by a random flip and a resize to 1024x1024, which are separate
augmentations here (``flip``, ``resize_square``).

Implementation (all of it is the paper's text; the public SRN repository, ChiCheng123/SRN, only
ships the test code, so the unspecified details follow the SSD-family crops):

* with probability 0.5 the *largest* square patch (side = short side) is used, otherwise a patch
  of side ``int(U(scale_range) * short side)``;
* the patch position is uniform over the positions inside the image (for the largest patch this
  is a random shift along the long side);
* faces whose centre lies strictly inside the patch are kept, clipped to it ("keep the overlapped
  part"), the others are removed (:class:`~facelib.data.transforms.crop.FaceCropTransform`);
* the position (and, for the random patch, the size) is re-drawn up to ``max_tries`` times until a
  face is kept; the patch kind is drawn once. If no draw keeps a face the image is not cropped.
  Images without faces get the first draw.

Note: the SRN paper states [0.5, 1.0] for the random patch (and an expansion in [1, 4] before
it); RefineFace Sec. 4.1 uses [0.3, 1], the default of ``INPUT.FACE_AUG.TWO_PATCH_CROP.SCALE_RANGE``.
"""
from typing import Sequence

import numpy as np
from fvcore.transforms.transform import NoOpTransform, Transform

from detectron2.data.transforms import Augmentation

from .square_crop import sample_square_crop

__all__ = ["TwoPatchSquareCrop"]


class TwoPatchSquareCrop(Augmentation):
    """SRN / RefineFace two-patch crop (see the module docstring). Needs ``AugInput(image, boxes=)``.

    Args:
        scale_range: size range of the random patch, as a fraction of the short side.
        max_tries: re-draws of the patch until at least one face is kept.
        largest_prob: probability of choosing the largest square patch (0.5 in the papers).
    """

    def __init__(
        self, scale_range: Sequence[float] = (0.3, 1.0), max_tries: int = 50, largest_prob: float = 0.5
    ):
        super().__init__()
        self._init(locals())

    def get_transform(self, image, boxes) -> Transform:
        h, w = image.shape[:2]
        short = min(h, w)
        if np.random.uniform() < self.largest_prob:
            side_fn = lambda: short  # noqa: E731
        else:
            side_fn = lambda: int(np.random.uniform(*self.scale_range) * short)  # noqa: E731
        crop = sample_square_crop(h, w, boxes, side_fn, self.max_tries)
        return crop if crop is not None else NoOpTransform()
