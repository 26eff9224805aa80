"""FaceAnchorGenerator: hand-computed anchors, ratio modes, per-level offsets, config, helpers."""
import math

import pytest
import torch

import facelib  # noqa: F401
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import (
    ANCHOR_GENERATOR_REGISTRY,
    DefaultAnchorGenerator,
    build_anchor_generator,
)

from facelib.modeling.anchors import (
    FaceAnchorGenerator,
    anchor_sizes_from_base,
    anchor_sizes_from_strides,
    cell_anchor_wh,
    face_anchor_setting,
)
from facelib.modeling.retinanet_config import add_face_retinanet_config

# Two levels: stride 8 (2x2 cells, offset 0.5) and stride 16 (1x1 cell, offset 0.0);
# sizes 16 / 32, aspect ratios (h / w) 1 and 1.5.
FEATS = [torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)]

# area mode, ratio 1.5: w = s / sqrt(1.5), h = s * sqrt(1.5)
# s = 16: w/2 = 6.5319726, h/2 = 9.7979590 ; s = 32: w/2 = 13.0639452, h/2 = 19.5959179
W16, H16 = 6.5319726, 9.7979590
W32, H32 = 13.0639452, 19.5959179


def _gen(mode="area", offsets=(0.5, 0.0)):
    return FaceAnchorGenerator(
        sizes=[[16], [32]], aspect_ratios=[1.0, 1.5], strides=[8, 16], offset=list(offsets), ratio_mode=mode
    )


def test_detectron2_aspect_ratio_is_h_over_w():
    cell = DefaultAnchorGenerator(sizes=[[16]], aspect_ratios=[[2.0]], strides=[8]).generate_cell_anchors((16,), (2.0,))[0]
    w, h = cell[2] - cell[0], cell[3] - cell[1]
    assert float(h / w) == pytest.approx(2.0)
    assert float(w * h) == pytest.approx(256.0)


def test_hand_computed_area_mode():
    gen = _gen("area")
    assert gen.num_anchors == [2, 2]
    lvl0, lvl1 = [b.tensor for b in gen(FEATS)]
    assert lvl0.shape == (2 * 2 * 2, 4) and lvl1.shape == (1 * 1 * 2, 4)
    # level 0: centres (4, 4), (12, 4), (4, 12), (12, 12) (row-major), 2 anchors per cell
    expected0 = torch.tensor(
        [
            [-4, -4, 12, 12], [4 - W16, 4 - H16, 4 + W16, 4 + H16],
            [4, -4, 20, 12], [12 - W16, 4 - H16, 12 + W16, 4 + H16],
            [-4, 4, 12, 20], [4 - W16, 12 - H16, 4 + W16, 12 + H16],
            [4, 4, 20, 20], [12 - W16, 12 - H16, 12 + W16, 12 + H16],
        ]
    )
    torch.testing.assert_close(lvl0, expected0, atol=1e-4, rtol=0)
    # level 1: offset 0 -> centre (0, 0)
    expected1 = torch.tensor([[-16, -16, 16, 16], [-W32, -H32, W32, H32]])
    torch.testing.assert_close(lvl1, expected1, atol=1e-4, rtol=0)
    # ratio 1.5 anchors are 1.5 times taller than wide and keep the area
    a = lvl0[1]
    assert float((a[3] - a[1]) / (a[2] - a[0])) == pytest.approx(1.5, rel=1e-5)
    assert float((a[3] - a[1]) * (a[2] - a[0])) == pytest.approx(256.0, rel=1e-5)


def test_hand_computed_width_mode():
    lvl0, lvl1 = [b.tensor for b in _gen("width")(FEATS)]
    # s = 16, r = 1.5 -> w = 16, h = 24 at (4, 4): [-4, -8, 12, 16]
    torch.testing.assert_close(lvl0[1], torch.tensor([-4.0, -8.0, 12.0, 16.0]))
    torch.testing.assert_close(lvl0[7], torch.tensor([4.0, 0.0, 20.0, 24.0]))
    # s = 32, r = 1.5 -> w = 32, h = 48 at (0, 0)
    torch.testing.assert_close(lvl1[1], torch.tensor([-16.0, -24.0, 16.0, 24.0]))
    torch.testing.assert_close(lvl1[0], torch.tensor([-16.0, -16.0, 16.0, 16.0]))


def test_area_mode_single_offset_equals_default_generator():
    kw = dict(sizes=[[16, 24], [32, 48]], aspect_ratios=[[0.5, 1.0, 1.5]], strides=[8, 16])
    face = FaceAnchorGenerator(**kw, offset=0.5)
    default = DefaultAnchorGenerator(**kw, offset=0.5)
    feats = [torch.zeros(1, 1, 3, 5), torch.zeros(1, 1, 2, 3)]
    for a, b in zip(face(feats), default(feats)):
        torch.testing.assert_close(a.tensor, b.tensor)


def test_counts_per_level_and_uneven_levels():
    gen = FaceAnchorGenerator(sizes=[[16, 20], [32]], aspect_ratios=[[1.0, 1.25], [1.0]], strides=[8, 16])
    assert gen.num_anchors == [4, 1]
    feats = [torch.zeros(1, 1, 4, 3), torch.zeros(1, 1, 2, 2)]
    assert [len(b) for b in gen(feats)] == [4 * 3 * 4, 2 * 2 * 1]


def test_invalid_arguments():
    with pytest.raises(ValueError):
        FaceAnchorGenerator(sizes=[[16]], aspect_ratios=[1.0], strides=[8], ratio_mode="height")
    with pytest.raises(ValueError):
        FaceAnchorGenerator(sizes=[[16]], aspect_ratios=[1.0], strides=[8, 16], offset=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError):
        FaceAnchorGenerator(sizes=[[16]], aspect_ratios=[1.0], strides=[8], offset=1.0)


def test_size_helpers():
    assert anchor_sizes_from_strides([4, 8, 16, 32, 64, 128], 4, 1) == [[16], [32], [64], [128], [256], [512]]
    sizes = anchor_sizes_from_strides([8, 16], 2, 2)  # SRN / RefineFace: 2S and 2*sqrt(2)S
    assert sizes[0] == pytest.approx([16, 16 * math.sqrt(2)])
    assert sizes[1] == pytest.approx([32, 32 * math.sqrt(2)])
    retina = anchor_sizes_from_strides([8], 4, 3)
    assert retina[0] == pytest.approx([32, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)])
    assert anchor_sizes_from_base(16, 3) == [[16], [32], [64]]
    assert anchor_sizes_from_base(16, 2, 2, num_scales=1) == [[16], [32]]
    setting = face_anchor_setting([8, 16], base_size=16, aspect_ratios=(1.0, 1.5), offset=(0.5, 0.0))
    gen = FaceAnchorGenerator(**setting)
    torch.testing.assert_close(gen(FEATS)[0].tensor, _gen("area")(FEATS)[0].tensor)
    with pytest.raises(ValueError):
        face_anchor_setting([8], octave_base=4, base_size=16)
    assert cell_anchor_wh(10, 2.0, "width") == (10.0, 20.0)


def test_from_config():
    assert ANCHOR_GENERATOR_REGISTRY.get("FaceAnchorGenerator") is FaceAnchorGenerator
    cfg = add_face_retinanet_config(get_cfg())
    cfg.MODEL.ANCHOR_GENERATOR.NAME = "FaceAnchorGenerator"
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16], [32]]
    cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS = [[1.0, 1.5]]
    cfg.MODEL.ANCHOR_GENERATOR.OFFSETS = [0.5, 0.0]
    cfg.MODEL.ANCHOR_GENERATOR.RATIO_MODE = "area"
    shapes = [ShapeSpec(channels=1, stride=8), ShapeSpec(channels=1, stride=16)]
    gen = build_anchor_generator(cfg, shapes)
    assert isinstance(gen, FaceAnchorGenerator) and gen.offsets == [0.5, 0.0]
    for a, b in zip(gen(FEATS), _gen("area")(FEATS)):
        torch.testing.assert_close(a.tensor, b.tensor)
    # parametric sizes: OCTAVE_BASE * stride * 2^(i / SCALES_PER_OCTAVE) override SIZES
    cfg.MODEL.ANCHOR_GENERATOR.OCTAVE_BASE = 2.0
    cfg.MODEL.ANCHOR_GENERATOR.SCALES_PER_OCTAVE = 2
    gen = build_anchor_generator(cfg, shapes)
    assert gen.sizes[0] == pytest.approx([16, 16 * math.sqrt(2)])
    assert gen.num_anchors == [4, 4]
    # without OFFSETS the single OFFSET applies to every level
    cfg.MODEL.ANCHOR_GENERATOR.OFFSETS = []
    cfg.MODEL.ANCHOR_GENERATOR.OFFSET = 0.25
    assert build_anchor_generator(cfg, shapes).offsets == [0.25, 0.25]
