"""DF²S²'s feature fusion pyramid (projects/DF2S2/df2s2/ffp.py): Eq. 1 by hand, strides, switches."""
import pytest
import torch
from torch import nn

from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone
from detectron2.modeling.backbone import Backbone

from facelib.config import get_face_cfg
from facelib.projects.df2s2 import FBlock, FeatureFusionPyramid


def test_fblock_formula_by_hand():
    """phi_i <- phi_i * Psi(phi_{i+1}) + phi_i with Psi a 2x2 stride-2 transposed conv: with weight
    w (one in / one out channel) and bias b, Psi(x) is x * w + b on each 2x2 block."""
    block = FBlock(1, 1, kernel_size=2)
    with torch.no_grad():
        block.psi.weight.fill_(0.5)
        block.psi.bias.fill_(1.0)
    high = torch.tensor([[[[2.0]]]])  # 1x1 -> 2x2 of 2 * 0.5 + 1 = 2
    low = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = block(high, low)
    assert torch.equal(out, low * 2.0 + low)  # 3, 6, 9, 12
    # odd low-level size: the doubled map is padded / cropped to it
    low5 = torch.ones(1, 1, 5, 3)
    assert block(torch.ones(1, 1, 3, 2), low5).shape == (1, 1, 5, 3)
    with pytest.raises(ValueError, match="even"):
        FBlock(1, 1, kernel_size=3)


class _Toy(Backbone):
    """c2..c5: 4, 8, 16, 32 channels at strides 4..32 (constant maps, for shapes)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        n, _, h, w = x.shape
        return {f"c{l}": torch.ones(n, 2 ** l, h // 2 ** l, w // 2 ** l) for l in range(2, 6)}

    def output_shape(self):
        return {f"c{l}": ShapeSpec(channels=2 ** l, stride=2 ** l) for l in range(2, 6)}


def test_pyramid_levels_strides_and_reductions():
    ffp = FeatureFusionPyramid(_Toy(), ["c2", "c3", "c4", "c5"], out_channels=8, num_top=2)
    out = ffp(torch.zeros(1, 3, 256, 192))
    assert list(out) == ["p2", "p3", "p4", "p5", "p6", "p7"]
    assert [out[f].shape[-2:] for f in out] == [(64, 48), (32, 24), (16, 12), (8, 6), (4, 3), (2, 2)]
    assert {f: s.stride for f, s in ffp.output_shape().items()} == {f"p{l}": 2 ** l for l in range(2, 8)}
    assert all(o.shape[1] == 8 for o in out.values())
    assert [b.psi.in_channels for b in ffp.fblocks] == [8, 16, 32]  # C_{i+1} -> C_i
    assert [b.psi.out_channels for b in ffp.fblocks] == [4, 8, 16]


def test_fusion_off_is_the_plain_bottom_up():
    fused = FeatureFusionPyramid(_Toy(), ["c2", "c3", "c4", "c5"], out_channels=0, num_top=2)
    plain = FeatureFusionPyramid(_Toy(), ["c2", "c3", "c4", "c5"], out_channels=0, num_top=2, fuse=False)
    x = torch.zeros(1, 3, 64, 64)
    a, b = fused(x), plain(x)
    assert torch.equal(b["p3"], torch.ones_like(b["p3"])) and torch.equal(b["p5"], a["p5"])  # top not fused
    assert torch.equal(b["p7"], torch.ones(1, 32, 1, 1))  # FFP7 = two max-pools of FFP5
    assert not len(plain.fblocks)


def test_registered_backbones_build():
    cfg = get_face_cfg()
    cfg.MODEL.BACKBONE.NAME = "build_df2s2_ffp_backbone"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.TOP_LEVELS = 2
    net = build_backbone(cfg)
    assert sorted(net.output_shape()) == [f"p{l}" for l in range(2, 8)]
    assert net(torch.zeros(1, 3, 128, 128))["p7"].shape == (1, 256, 1, 1)
    cfg.MODEL.DF2S2.BOTTOM_UP = "mobilenet"
    cfg.MODEL.FPN.TOP_LEVELS = 1
    mnet = build_backbone(cfg)
    assert sorted(mnet.output_shape()) == ["p3", "p4", "p5", "p6"]
    assert mnet.bottom_up.__class__.__name__ == "MobileNetV1"  # weights load under backbone.bottom_up.*
    cfg.MODEL.DF2S2.BOTTOM_UP = "vgg"
    with pytest.raises(ValueError, match="BOTTOM_UP"):
        build_backbone(cfg)
