"""Selective Scale Enhancement (MogFace Sec. 3.2, Algorithm 2, Tables 1-2), registered as the
training augmentation ``"sse"`` (keys ``INPUT.FACE_AUG.SSE``).

Per training image: pick a random face of scale fs = sqrt(w h); choose the target pyramid level
(Algorithm 2 lines 4-11)::

    u ~ U(0, 1)
    u <  MAIN_PROB              : p5 (the main layer; tr_p5 = r_p5 = 0.2)
    u <= MAIN_PROB + AUX_PROB   : p6 (the auxiliary layer)
    otherwise                   : OTHER_LEVELS "paper": a random one of p2, p3, p4, p7 (line 10)
                                  OTHER_LEVELS "code":  no level, t ~ U(MIN_SCALE, p5's lower end)
                                  (MogFace code, not paper: ``mog_sse``)

draw the target scale t uniformly in the level's range (line 12; Table 2: p2 8.4-20.7, p3
20.7-48.2, p4 48.2-106.2, p5 106.2-212.4, p6 212.4-420.8, p7 420.8-640 -- the released
``MogFace_SSE.yml`` has p2..p4 at 8.4-26.7, 26.7-54, 54-106.2), resize by t / fs and take an
N x N window (N = 640) around the face, padding where the image is smaller (lines 13-18).

AUX_PROB: Algorithm 2's tr_apl = (1 - tr_mpl) * r_p6 = (1 - 0.2) * 0.2 = 0.16 (default; also the
code's ``apl_scale_ratio``); the text's thresholds ("over r_p5 and less than r_p5 + r_p6") give
0.2 (set AUX_PROB 0.2). Line 2's first resize of the short side to [640, 1280] does not change
the result: the final ratio is t / fs measured after it.

Everything after the ratio (window placement, mean padding, centre rule, clipping) is facelib's
:func:`~facelib.data.transforms.data_anchor_sampling.scale_and_crop_transform`, shared with DAS.
The code's image-area cap (12000^2 pixels) is unnecessary with its crop-first upscale and is not
applied; the code's ``filter_face`` (faces below 8 px after the final resize) is the mapper's
``INPUT.FACE_AUG.MIN_FACE_SIZE``.
"""
from typing import Sequence

import numpy as np
from PIL import Image

from facelib.data.transforms.build import TRAIN_AUGMENTATIONS, mean_fill
from facelib.data.transforms.data_anchor_sampling import ScaleAndCropAroundFace

__all__ = ["SelectiveScaleEnhancement", "SSE_SCALE_RANGES_PAPER", "SSE_SCALE_RANGES_CODE", "OTHER_LEVEL_MODES"]

# Table 2: face scales matched on p2 .. p7
SSE_SCALE_RANGES_PAPER = (
    (8.4, 20.7),
    (20.7, 48.2),
    (48.2, 106.2),
    (106.2, 212.4),
    (212.4, 420.8),
    (420.8, 640.0),
)
# MogFace code, not paper (MogFace_SSE.yml p2_scale_range .. p7_scale_range)
SSE_SCALE_RANGES_CODE = (
    (8.4, 26.7),
    (26.7, 54.0),
    (54.0, 106.2),
    (106.2, 212.4),
    (212.4, 420.8),
    (420.8, 640.0),
)
OTHER_LEVEL_MODES = ("paper", "code")


class SelectiveScaleEnhancement(ScaleAndCropAroundFace):
    """MogFace SSE (see the module docstring). Needs ``AugInput(image, boxes=...)``.

    Args:
        scale_ranges: per pyramid level (p2, p3, ...) the ``[lo, hi]`` face scales it handles.
        main_level, aux_level: indices into ``scale_ranges`` of the main / auxiliary layer.
        main_prob, aux_prob: probabilities of drawing the target scale in those layers' ranges.
        other_levels: otherwise, "paper" = in the range of a random other level, "code" = in
            ``[min_scale, scale_ranges[main_level][0]]``.
        min_scale: lower end of that range ("code" only; 16 in the code).
        crop_size, prob, fill: as in :class:`~facelib.data.transforms.data_anchor_sampling.
            DataAnchorSampling`.
    """

    def __init__(
        self,
        scale_ranges: Sequence[Sequence[float]] = SSE_SCALE_RANGES_PAPER,
        main_level: int = 3,
        aux_level: int = 4,
        main_prob: float = 0.2,
        aux_prob: float = 0.16,
        min_scale: float = 16.0,
        other_levels: str = "paper",
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
        if other_levels not in OTHER_LEVEL_MODES:
            raise ValueError(f"SSE other_levels must be one of {OTHER_LEVEL_MODES}, got {other_levels!r}")
        self.other_levels = other_levels
        self.others = [i for i in range(len(scale_ranges)) if i not in (self.main_level, self.aux_level)]

    def sample_target_scale(self, s_face: float) -> float:
        u = np.random.random()
        main = self.scale_ranges[self.main_level]
        if u < self.main_prob:
            return float(np.random.uniform(*main))
        if u <= self.main_prob + self.aux_prob:
            return float(np.random.uniform(*self.scale_ranges[self.aux_level]))
        if self.other_levels == "paper":
            return float(np.random.uniform(*self.scale_ranges[self.others[np.random.randint(len(self.others))]]))
        return float(np.random.uniform(self.min_scale, main[0]))


def build_sse(cfg) -> SelectiveScaleEnhancement:
    """``"sse"`` of ``INPUT.FACE_AUG.TRAIN`` from ``INPUT.FACE_AUG.SSE``."""
    c = cfg.INPUT.FACE_AUG.SSE
    return SelectiveScaleEnhancement(
        scale_ranges=tuple(tuple(r) for r in c.SCALE_RANGES),
        main_level=c.MAIN_LEVEL,
        aux_level=c.AUX_LEVEL,
        main_prob=c.MAIN_PROB,
        aux_prob=c.AUX_PROB,
        min_scale=c.MIN_SCALE,
        other_levels=c.OTHER_LEVELS,
        crop_size=c.CROP_SIZE,
        prob=c.PROB,
        fill=mean_fill(cfg),
    )


TRAIN_AUGMENTATIONS.register("sse", build_sse)
