"""MogFace Selective Scale Enhancement (Liu et al., "MogFace", CVPR 2022, Sec. 3.1), as implemented
in damo-cv/MogFace (``mog_sse`` in ``data/transform/image_util.py``, settings in
``configs/mogface/MogFace_SSE.yml``).

The paper motivates SSE as choosing the training scale so that the number of positive anchors
per pyramid level is balanced. The public code does this with *fixed* probabilities derived from
those statistics: every pyramid level ``p2 .. p7`` has a face-scale range (the scales whose faces
are matched to that level's anchors, ``SCALE_RANGES``); one level is the *main* pyramid layer
(``p5``) and one the *auxiliary* layer (``p6``). Inside the DAS pipeline (same random face, same
640x640 window containing it, same centre rule) the resize ratio is replaced by::

    u ~ U(0, 1)
    u <  MAIN_PROB               : t ~ U(SCALE_RANGES[MAIN_LEVEL])             (p5: [106.2, 212.4])
    u <  MAIN_PROB + AUX_PROB    : t ~ U(SCALE_RANGES[AUX_LEVEL])              (p6: [212.4, 420.8])
    otherwise                    : t ~ U(MIN_SCALE, SCALE_RANGES[MAIN_LEVEL][0])  ([16, 106.2])
    ratio = t / s_face,  s_face = sqrt(w * h) of the chosen face

with ``MAIN_PROB = 0.2`` and ``AUX_PROB = 0.16 = (1 - 0.2) * 0.2`` (MogFace_SSE.yml). The
augmentation is applied with probability ``PROB`` (``das_prob = 1`` in the code).

Everything after the ratio (window placement, padding with the mean, centre rule, clipping, the
upscale-by-cropping-first optimisation) is :func:`facelib.data.transforms.data_anchor_sampling.
scale_and_crop_transform`; its documented deviations from the public code apply here too.
Further deviations: the code's image-area cap (12000^2 pixels) is unnecessary with the crop-first
upscale and is not applied; the code's ``filter_face`` (faces below 8 px removed after the final
resize) is the mapper's ``INPUT.FACE_AUG.MIN_FACE_SIZE``.
"""
from typing import Sequence

import numpy as np
from PIL import Image

from .data_anchor_sampling import ScaleAndCropAroundFace

__all__ = ["SelectiveScaleEnhancement", "MOGFACE_SCALE_RANGES"]

# MogFace_SSE.yml: p2_scale_range .. p7_scale_range
MOGFACE_SCALE_RANGES = (
    (8.4, 26.7),
    (26.7, 54.0),
    (54.0, 106.2),
    (106.2, 212.4),
    (212.4, 420.8),
    (420.8, 640.0),
)


class SelectiveScaleEnhancement(ScaleAndCropAroundFace):
    """MogFace SSE (see the module docstring). Needs ``AugInput(image, boxes=...)``.

    Args:
        scale_ranges: per pyramid level (p2, p3, ...) the ``[lo, hi]`` face scales it handles.
        main_level, aux_level: indices into ``scale_ranges`` of the main / auxiliary layer.
        main_prob, aux_prob: probabilities of drawing the target scale in those layers' ranges;
            otherwise it is drawn in ``[min_scale, scale_ranges[main_level][0]]``.
        min_scale: lower end of the remaining range (16 in the code).
        crop_size, prob, fill: as in :class:`~facelib.data.transforms.data_anchor_sampling.
            DataAnchorSampling`.
    """

    def __init__(
        self,
        scale_ranges: Sequence[Sequence[float]] = MOGFACE_SCALE_RANGES,
        main_level: int = 3,
        aux_level: int = 4,
        main_prob: float = 0.2,
        aux_prob: float = 0.16,
        min_scale: float = 16.0,
        crop_size: int = 640,
        prob: float = 1.0,
        fill=0.0,
        interp=Image.BILINEAR,
    ):
        super().__init__(crop_size=crop_size, prob=prob, fill=fill, interp=interp)
        scale_ranges = tuple(tuple(float(v) for v in r) for r in scale_ranges)
        for lvl in (main_level, aux_level):
            if not 0 <= lvl < len(scale_ranges):
                raise ValueError(f"SSE level index {lvl} outside the {len(scale_ranges)} scale ranges")
        if main_prob < 0 or aux_prob < 0 or main_prob + aux_prob > 1:
            raise ValueError(f"SSE probabilities must be >= 0 and sum to <= 1: {main_prob}, {aux_prob}")
        if min_scale > scale_ranges[main_level][0]:
            raise ValueError(
                f"SSE min_scale {min_scale} above the main level's lower end {scale_ranges[main_level][0]}"
            )
        self.scale_ranges = scale_ranges
        self.main_level = int(main_level)
        self.aux_level = int(aux_level)
        self.main_prob = float(main_prob)
        self.aux_prob = float(aux_prob)
        self.min_scale = float(min_scale)

    def sample_target_scale(self, s_face: float) -> float:
        u = np.random.random()
        main = self.scale_ranges[self.main_level]
        if u < self.main_prob:
            return float(np.random.uniform(*main))
        if u < self.main_prob + self.aux_prob:
            return float(np.random.uniform(*self.scale_ranges[self.aux_level]))
        return float(np.random.uniform(self.min_scale, main[0]))
