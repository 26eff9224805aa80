"""Face anchors: :class:`FaceAnchorGenerator` and helpers that build the papers' anchor settings.

Conventions (verified against detectron2's ``DefaultAnchorGenerator.generate_cell_anchors``)
------------------------------------------------------------------------------------------
* An **aspect ratio is height / width**, in detectron2 and in the face papers alike (SRN /
  RefineFace use 1.25, other settings 1.5: faces are taller than wide). detectron2
  computes ``w = sqrt(size**2 / ratio)``, ``h = ratio * w``, i.e. ``h / w = ratio``.
* ``size`` is the anchor's *scale*. How a ratio != 1 turns a scale into ``(w, h)`` is chosen with
  ``ratio_mode`` (config key ``MODEL.ANCHOR_GENERATOR.RATIO_MODE``):

  - ``"area"`` (default, detectron2 / Faster R-CNN / RetinaNet / S3FD-style): the area is kept,
    ``w = size / sqrt(ratio)``, ``h = size * sqrt(ratio)``.
  - ``"width"``: the width is kept and the height stretched, ``w = size``, ``h = size * ratio``
    (the "anchor width = scale, height = ratio x scale" reading of the face papers).

* Every anchor is centred on ``((x + offset) * stride, (y + offset) * stride)`` for the feature
  cell ``(x, y)``. ``offset`` may differ per level (``MODEL.ANCHOR_GENERATOR.OFFSETS``):
  0.5 puts anchors at cell centres (S3FD / SSD ``(j + 0.5) * step``), 0.0 at cell corners
  (detectron2's default ``OFFSET``).
* Boxes are XYXY in input-image pixels, continuous coordinates (no "+1").

Building settings from a few numbers
------------------------------------
:func:`anchor_sizes_from_strides` (RetinaNet style: ``octave_base * stride * 2**(i / scales_per_octave)``)
and :func:`anchor_sizes_from_base` (``base_size * level_factor**level * 2**(i / scales_per_octave)``)
give ``list[list[float]]`` for ``MODEL.ANCHOR_GENERATOR.SIZES``; :func:`face_anchor_setting`
returns the whole ``dict`` of ``FaceAnchorGenerator`` arguments. Examples:

* S3FD (Zhang et al. 2017, Sec. 3.1 "scale-equitable"): strides 4..128, one square anchor per
  location of size 4 x stride -> ``anchor_sizes_from_strides([4, 8, 16, 32, 64, 128], 4, 1)``
  = ``[[16], [32], [64], [128], [256], [512]]``.
* SRN / RefineFace (2S and 2*sqrt(2)S, ratio 1.25) -> ``anchor_sizes_from_strides(strides, 2, 2)``
  with ``aspect_ratios=[1.25]``.
* RetinaNet (3 scales per octave, octave base 4) -> ``anchor_sizes_from_strides(strides, 4, 3)``.
"""
import math
from typing import List, Optional, Sequence, Union

import torch

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import (
    ANCHOR_GENERATOR_REGISTRY,
    DefaultAnchorGenerator,
    _broadcast_params,
    _create_grid_offsets,
)

__all__ = [
    "FaceAnchorGenerator",
    "RATIO_MODES",
    "anchor_sizes_from_strides",
    "anchor_sizes_from_base",
    "face_anchor_setting",
    "cell_anchor_wh",
]

RATIO_MODES = ("area", "width")


def cell_anchor_wh(size: float, ratio: float, ratio_mode: str = "area"):
    """``(w, h)`` of one anchor of scale ``size`` and aspect ratio ``ratio`` (= h / w)."""
    if ratio <= 0 or size <= 0:
        raise ValueError(f"anchor size and aspect ratio must be > 0, got {size}, {ratio}")
    if ratio_mode == "area":
        w = math.sqrt(size * size / ratio)
        return w, ratio * w
    if ratio_mode == "width":
        return float(size), float(size) * ratio
    raise ValueError(f"ratio_mode must be one of {RATIO_MODES}, got {ratio_mode!r}")


def anchor_sizes_from_strides(
    strides: Sequence[int],
    octave_base: float,
    scales_per_octave: int = 1,
    num_scales: Optional[int] = None,
) -> List[List[float]]:
    """Per-level anchor sizes ``octave_base * stride_l * 2 ** (i / scales_per_octave)``.

    ``i`` runs over ``range(num_scales)`` (default ``scales_per_octave``: one octave per level, the
    RetinaNet setting, Lin et al. 2017 Sec. 4). ``octave_base`` is RetinaNet's "octave base scale"
    (4) or S3FD's "anchor = 4 x stride".
    """
    if octave_base <= 0 or scales_per_octave < 1:
        raise ValueError("octave_base must be > 0 and scales_per_octave >= 1")
    n = scales_per_octave if num_scales is None else int(num_scales)
    return [
        [float(octave_base * s * 2.0 ** (i / scales_per_octave)) for i in range(n)] for s in strides
    ]


def anchor_sizes_from_base(
    base_size: float,
    num_levels: int,
    scales_per_octave: int = 1,
    num_scales: Optional[int] = None,
    level_factor: float = 2.0,
) -> List[List[float]]:
    """Per-level sizes ``base_size * level_factor ** l * 2 ** (i / scales_per_octave)``.

    The same as :func:`anchor_sizes_from_strides` when strides double per level and
    ``base_size = octave_base * strides[0]`` (e.g. S3FD: base 16, 6 levels -> 16 ... 512).
    """
    if base_size <= 0 or num_levels < 1 or scales_per_octave < 1:
        raise ValueError("base_size must be > 0, num_levels and scales_per_octave >= 1")
    n = scales_per_octave if num_scales is None else int(num_scales)
    return [
        [float(base_size * level_factor**l * 2.0 ** (i / scales_per_octave)) for i in range(n)]
        for l in range(num_levels)
    ]


def face_anchor_setting(
    strides: Sequence[int],
    *,
    octave_base: Optional[float] = None,
    base_size: Optional[float] = None,
    scales_per_octave: int = 1,
    num_scales: Optional[int] = None,
    aspect_ratios: Sequence[float] = (1.0,),
    ratio_mode: str = "area",
    offset: Union[float, Sequence[float]] = 0.5,
) -> dict:
    """Keyword arguments of :class:`FaceAnchorGenerator` from a few numbers.

    Exactly one of ``octave_base`` (sizes follow the strides) or ``base_size`` (sizes double per
    level from ``base_size``) must be given.
    """
    if (octave_base is None) == (base_size is None):
        raise ValueError("give exactly one of octave_base or base_size")
    if octave_base is not None:
        sizes = anchor_sizes_from_strides(strides, octave_base, scales_per_octave, num_scales)
    else:
        sizes = anchor_sizes_from_base(base_size, len(strides), scales_per_octave, num_scales)
    return {
        "sizes": sizes,
        "aspect_ratios": [list(aspect_ratios)],
        "strides": list(strides),
        "offset": offset,
        "ratio_mode": ratio_mode,
    }


@ANCHOR_GENERATOR_REGISTRY.register()
class FaceAnchorGenerator(DefaultAnchorGenerator):
    """:class:`DefaultAnchorGenerator` with a ``ratio_mode`` (area- or width-preserving aspect
    ratios) and a per-level ``offset``. With ``ratio_mode="area"`` and one offset it produces
    exactly the anchors of ``DefaultAnchorGenerator``.

    Cell anchors of a level are ordered size-major (for each size, for each ratio), the grid
    row-major (y, then x), anchors of a location contiguous: the layout of detectron2, so it pairs
    with ``RetinaNetHead`` / ``permute_to_N_HWA_K``. Levels may have different numbers of cell
    anchors (``num_anchors`` per level), though ``RetinaNetHead`` requires them equal.
    """

    @configurable
    def __init__(
        self,
        *,
        sizes,
        aspect_ratios,
        strides,
        offset: Union[float, Sequence[float]] = 0.5,
        ratio_mode: str = "area",
    ):
        """
        Args:
            sizes, aspect_ratios, strides: as :class:`DefaultAnchorGenerator` (ratios are h / w;
                both broadcast over levels when given once).
            offset: one float for all levels, or one per level, each in [0, 1).
            ratio_mode: ``"area"`` or ``"width"`` (see the module docstring).
        """
        if ratio_mode not in RATIO_MODES:
            raise ValueError(f"ratio_mode must be one of {RATIO_MODES}, got {ratio_mode!r}")
        # needed by generate_cell_anchors, which the parent __init__ calls
        self.ratio_mode = ratio_mode
        num_levels = len(strides)
        if isinstance(offset, (int, float)):
            offsets = [float(offset)] * num_levels
        else:
            offsets = [float(o) for o in offset]
            if len(offsets) == 1:
                offsets = offsets * num_levels
            if len(offsets) != num_levels:
                raise ValueError(f"got {len(offsets)} offsets for {num_levels} levels")
        for o in offsets:
            if not 0.0 <= o < 1.0:
                raise ValueError(f"anchor offsets must lie in [0, 1), got {offsets}")
        super().__init__(sizes=sizes, aspect_ratios=aspect_ratios, strides=strides, offset=offsets[0])
        self.offsets = offsets
        # kept for introspection / tests
        self.sizes = _broadcast_params(sizes, num_levels, "sizes")
        self.aspect_ratios = _broadcast_params(aspect_ratios, num_levels, "aspect_ratios")

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        ag = cfg.MODEL.ANCHOR_GENERATOR
        strides = [x.stride for x in input_shape]
        octave_base = float(ag.OCTAVE_BASE)
        if octave_base > 0:
            num_scales = int(ag.NUM_SCALES) or None
            sizes = anchor_sizes_from_strides(
                strides, octave_base, int(ag.SCALES_PER_OCTAVE), num_scales
            )
        else:
            sizes = ag.SIZES
        offsets = list(ag.OFFSETS)
        return {
            "sizes": sizes,
            "aspect_ratios": ag.ASPECT_RATIOS,
            "strides": strides,
            "offset": offsets if len(offsets) else ag.OFFSET,
            "ratio_mode": ag.RATIO_MODE,
        }

    def generate_cell_anchors(self, sizes=(32, 64, 128, 256, 512), aspect_ratios=(0.5, 1, 2)):
        """XYXY cell anchors centred at (0, 0), size-major, honouring ``self.ratio_mode``."""
        anchors = []
        for size in sizes:
            for ratio in aspect_ratios:
                w, h = cell_anchor_wh(size, ratio, self.ratio_mode)
                anchors.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        return torch.tensor(anchors, dtype=torch.float64)

    def _grid_anchors(self, grid_sizes: List[List[int]]):
        anchors = []
        buffers: List[torch.Tensor] = [x[1] for x in self.cell_anchors.named_buffers()]
        for size, stride, offset, base_anchors in zip(grid_sizes, self.strides, self.offsets, buffers):
            shift_x, shift_y = _create_grid_offsets(size, stride, offset, base_anchors)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + base_anchors.view(1, -1, 4)).reshape(-1, 4))
        return anchors
