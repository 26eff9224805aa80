"""facelib backbones: output names / channels / strides / shapes on small inputs, the FPN top-level
options, norms and freezing, and the shared MobileNet ImageNet checkpoint."""
import os

import pytest
import torch
from torch import nn

import facelib  # noqa: F401
import facelib.modeling  # noqa: F401  (registers the backbones)
from detectron2.config import get_cfg
from detectron2.layers import FrozenBatchNorm2d
from detectron2.modeling import BACKBONE_REGISTRY, build_backbone
from detectron2.modeling.backbone.fpn import LastLevelMaxPool, LastLevelP6P7

from facelib.modeling import MobileNetV1, add_backbone_config, load_mobilenet_v1_imagenet
from facelib.modeling.backbones.fpn_top import LastLevelStridedConvs
from facelib.modeling.backbones.vgg import VGG16
from facelib.paths import shared_root

MNET_CKPT = os.path.join(shared_root(), "weights", "mobilenet_v1_0.25_imagenet.pth.tar")


def _cfg(name, **fpn):
    cfg = get_cfg()
    add_backbone_config(cfg)
    cfg.MODEL.BACKBONE.NAME = name
    cfg.MODEL.FPN.OUT_CHANNELS = 16
    for k, v in fpn.items():
        setattr(cfg.MODEL.FPN, k, v)
    return cfg


def _resnet_cfg(depth, in_features, **fpn):
    cfg = _cfg("build_face_resnet_fpn_backbone", IN_FEATURES=list(in_features), **fpn)
    cfg.MODEL.RESNETS.DEPTH = depth
    return cfg


def _shapes(backbone, size=128):
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, size, size))
    assert list(out) == list(backbone.output_shape())
    for k, v in out.items():  # declared channels/strides agree with the tensors
        spec = backbone.output_shape()[k]
        assert v.shape[1] == spec.channels and v.shape[-1] == -(-size // spec.stride), k
    return {k: tuple(v.shape[1:]) for k, v in out.items()}


def test_registered():
    for name in ("build_face_resnet_fpn_backbone", "build_vgg16_backbone",
                 "build_mobilenet_v1_backbone", "build_mobilenet_v1_fpn_backbone"):
        assert name in BACKBONE_REGISTRY


def test_add_backbone_config_keeps_existing_values():
    cfg = get_cfg()
    add_backbone_config(cfg)
    cfg.MODEL.MOBILENET.ACTIVATION = "leaky_relu"
    cfg.MODEL.FPN.TOP_LEVELS = 0
    add_backbone_config(cfg)
    assert cfg.MODEL.MOBILENET.ACTIVATION == "leaky_relu" and cfg.MODEL.FPN.TOP_LEVELS == 0


@pytest.mark.parametrize("depth,lowest,source", [(18, 2, "C5"), (18, 3, "P5"), (50, 2, "P5"),
                                                 (50, 3, "C5")])
def test_resnet_fpn_levels(depth, lowest, source):
    cfg = _resnet_cfg(depth, ["res%d" % i for i in range(lowest, 6)], TOP_LEVELS_FROM=source)
    backbone = build_backbone(cfg)
    assert isinstance(backbone.top_block, LastLevelP6P7)
    shapes = _shapes(backbone, 128)
    assert list(shapes) == ["p%d" % i for i in range(lowest, 8)]
    assert shapes == {"p%d" % i: (16, 128 >> i, 128 >> i) for i in range(lowest, 8)}  # p7: 1x1
    assert {k: s.stride for k, s in backbone.output_shape().items()} == {
        "p%d" % i: 2 ** i for i in range(lowest, 8)}
    c5 = backbone.bottom_up.output_shape()["res5"].channels
    assert c5 == (512 if depth == 18 else 2048)
    # P6 reads res5 (C5: c5 input channels) or p5 (P5: FPN channels); P7 always reads P6
    assert backbone.top_block.in_feature == ("res5" if source == "C5" else "p5")
    assert tuple(backbone.top_block.p6.weight.shape) == (16, c5 if source == "C5" else 16, 3, 3)
    assert tuple(backbone.top_block.p7.weight.shape) == (16, 16, 3, 3)


def test_resnet_top_levels_from_c5_vs_p5_same_outputs_shapes():
    c5_net = build_backbone(_resnet_cfg(18, ["res3", "res4", "res5"], TOP_LEVELS_FROM="C5"))
    p5_net = build_backbone(_resnet_cfg(18, ["res3", "res4", "res5"], TOP_LEVELS_FROM="P5"))
    assert tuple(c5_net.top_block.p6.weight.shape) == (16, 512, 3, 3)
    assert tuple(p5_net.top_block.p6.weight.shape) == (16, 16, 3, 3)
    assert _shapes(c5_net, 64) == _shapes(p5_net, 64)
    n = lambda m: sum(p.numel() for p in m.top_block.parameters())  # noqa: E731
    assert n(c5_net) - n(p5_net) == 16 * (512 - 16) * 9


def test_resnet_top_level_variants():
    none = build_backbone(_resnet_cfg(18, ["res2", "res3", "res4", "res5"], TOP_LEVELS=0))
    assert none.top_block is None and list(_shapes(none, 64)) == ["p2", "p3", "p4", "p5"]

    p6 = build_backbone(_resnet_cfg(18, ["res3", "res4", "res5"], TOP_LEVELS=1))
    assert isinstance(p6.top_block, LastLevelStridedConvs)
    assert list(_shapes(p6, 64)) == ["p3", "p4", "p5", "p6"]
    assert sorted(k for k, _ in p6.top_block.named_parameters()) == ["p6.bias", "p6.weight"]

    p8 = build_backbone(_resnet_cfg(18, ["res3", "res4", "res5"], TOP_LEVELS=3))
    assert _shapes(p8, 256)["p8"] == (16, 1, 1)

    mp = build_backbone(_resnet_cfg(18, ["res2", "res3", "res4", "res5"], TOP_LEVELS=1,
                                    TOP_LEVELS_FROM="P5", TOP_LEVELS_TYPE="maxpool"))
    assert isinstance(mp.top_block, LastLevelMaxPool)
    assert list(_shapes(mp, 64)) == ["p2", "p3", "p4", "p5", "p6"]
    with pytest.raises(ValueError):
        build_backbone(_resnet_cfg(18, ["res3", "res4", "res5"], TOP_LEVELS_TYPE="maxpool"))


def test_strided_convs_match_last_level_p6p7_names():
    ours = LastLevelStridedConvs(8, 4, num_levels=2, in_feature="res5", first_level=6)
    theirs = LastLevelP6P7(8, 4)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 8, 8, 8)
    for a, b in zip(ours(x), theirs(x)):
        torch.testing.assert_close(a, b)


def test_resnet18_res2_channels_set_automatically():
    cfg = _resnet_cfg(18, ["res3", "res4", "res5"])
    assert cfg.MODEL.RESNETS.RES2_OUT_CHANNELS == 256  # detectron2's default, invalid for R18
    backbone = build_backbone(cfg)
    assert backbone.bottom_up.output_shape()["res3"].channels == 128
    assert cfg.MODEL.RESNETS.RES2_OUT_CHANNELS == 256  # the caller's cfg is not modified


@pytest.mark.parametrize("norm,cls", [("FrozenBN", FrozenBatchNorm2d), ("BN", nn.BatchNorm2d),
                                      ("GN", nn.GroupNorm)])
def test_resnet_norms(norm, cls):
    cfg = _resnet_cfg(18, ["res3", "res4", "res5"], NORM="GN" if norm == "GN" else "")
    cfg.MODEL.FPN.OUT_CHANNELS = 32  # GN: 32 groups
    cfg.MODEL.RESNETS.NORM = norm
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    backbone = build_backbone(cfg)
    assert type(backbone.bottom_up.res3[0].conv1.norm) is cls
    fpn_norm = backbone.fpn_lateral3.norm
    assert (fpn_norm is None) if norm != "GN" else isinstance(fpn_norm, nn.GroupNorm)
    backbone.train()
    out = backbone(torch.randn(2, 3, 64, 64))
    assert out["p3"].shape == (2, 32, 8, 8)


def test_resnet_freeze_at_converts_frozen_stages():
    cfg = _resnet_cfg(18, ["res3", "res4", "res5"])
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.BACKBONE.FREEZE_AT = 2
    bottom_up = build_backbone(cfg).bottom_up
    assert isinstance(bottom_up.res2[0].conv1.norm, FrozenBatchNorm2d)
    assert not any(p.requires_grad for p in bottom_up.res2.parameters())
    assert type(bottom_up.res3[0].conv1.norm) is nn.BatchNorm2d


# ------------------------------------------------------------------------------------- VGG16
def test_vgg16_stride16_conv5():
    cfg = _cfg("build_vgg16_backbone")
    backbone = build_backbone(cfg)
    assert isinstance(backbone, VGG16)
    assert backbone.output_shape()["vgg_conv5"].stride == 16
    assert _shapes(backbone, 64) == {"vgg_conv5": (512, 4, 4)}
    n_params = sum(p.numel() for p in backbone.parameters())
    assert n_params == 14_714_688  # torchvision vgg16().features
    # FREEZE_AT 2 (default) = conv1_x and conv2_x frozen, as in Faster R-CNN VGG16
    frozen = {n.split(".")[0] for n, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen == {"conv1_1", "conv1_2", "conv2_1", "conv2_2"}


def test_vgg16_outputs_norm_and_freeze():
    net = VGG16(norm="BN", out_features=["vgg_conv3", "vgg_conv4"], freeze_at=1)
    assert _shapes(net, 64) == {"vgg_conv3": (256, 16, 16), "vgg_conv4": (512, 8, 8)}
    assert not hasattr(net, "conv5_1")  # blocks above the deepest output are not built
    assert net.conv1_1.bias is None and isinstance(net.conv1_1.norm, FrozenBatchNorm2d)
    assert type(net.conv2_1.norm) is nn.BatchNorm2d and net.conv2_1.weight.requires_grad
    gn = VGG16(norm="GN", out_features=["vgg_conv2"], freeze_at=0)
    assert isinstance(gn.conv2_2.norm, nn.GroupNorm)
    with pytest.raises(ValueError):
        VGG16(out_features=["vgg_conv6"])


# ------------------------------------------------------------------------------------ MobileNet
def _mnet_cfg(**kw):
    cfg = _cfg("build_mobilenet_v1_fpn_backbone", **kw)
    cfg.MODEL.FPN.OUT_CHANNELS = 64
    return cfg


def test_mobilenet_stages():
    cfg = _mnet_cfg()
    cfg.MODEL.BACKBONE.NAME = "build_mobilenet_v1_backbone"
    backbone = build_backbone(cfg)
    assert _shapes(backbone, 128) == {"stage1": (64, 16, 16), "stage2": (128, 8, 8),
                                      "stage3": (256, 4, 4)}
    assert [s.stride for s in backbone.output_shape().values()] == [8, 16, 32]
    assert isinstance(backbone.stage1[1].dw.activation, nn.ReLU)  # default: the checkpoint's ReLU


@pytest.mark.parametrize("top_levels,names", [(0, ["p3", "p4", "p5"]),
                                              (2, ["p3", "p4", "p5", "p6", "p7"])])
def test_mobilenet_fpn(top_levels, names):
    backbone = build_backbone(_mnet_cfg(TOP_LEVELS=top_levels))
    shapes = _shapes(backbone, 128)
    assert list(shapes) == names
    assert all(shapes[n] == (64, 128 >> int(n[1]), 128 >> int(n[1])) for n in names)


def test_mobilenet_top_from_c5_vs_p5():
    c5 = build_backbone(_mnet_cfg(TOP_LEVELS_FROM="C5"))
    p5 = build_backbone(_mnet_cfg(TOP_LEVELS_FROM="P5"))
    assert tuple(c5.top_block.p6.weight.shape) == (64, 256, 3, 3)
    assert tuple(p5.top_block.p6.weight.shape) == (64, 64, 3, 3)


def test_mobilenet_activation_norm_freeze():
    net = MobileNetV1(norm="GN", activation="leaky_relu", leaky_slope=0.1, freeze_at=0)
    assert isinstance(net.stage1[0].activation, nn.LeakyReLU)
    assert net.stage1[0].activation.negative_slope == 0.1
    assert net.stage1[0].norm.num_groups == 8  # gcd(32, 8)
    assert _shapes(net, 64)["stage3"] == (256, 2, 2)
    frozen = MobileNetV1(norm="BN", freeze_at=2)
    assert isinstance(frozen.stage2[0].pw.norm, FrozenBatchNorm2d)
    assert not any(p.requires_grad for p in frozen.stage2.parameters())
    assert type(frozen.stage3[0].pw.norm) is nn.BatchNorm2d
    with pytest.raises(ValueError):
        MobileNetV1(activation="swish")
    half = MobileNetV1(width_mult=0.5)
    assert [s.channels for s in half.output_shape().values()] == [128, 256, 512]


@pytest.mark.skipif(not os.path.isfile(MNET_CKPT), reason=f"no checkpoint at {MNET_CKPT}")
@pytest.mark.parametrize("norm", ["BN", "FrozenBN"])
def test_mobilenet_loads_shared_imagenet_checkpoint(norm):
    cfg = _mnet_cfg()
    cfg.MODEL.MOBILENET.NORM = norm
    backbone = build_backbone(cfg)
    missing, unexpected = load_mobilenet_v1_imagenet(backbone, MNET_CKPT)
    assert missing == [] and unexpected == []
    raw = torch.load(MNET_CKPT, map_location="cpu", weights_only=True)["state_dict"]
    net = backbone.bottom_up
    assert torch.equal(net.stage1[0].weight, raw["module.stage1.0.0.weight"])
    assert torch.equal(net.stage1[0].norm.running_var, raw["module.stage1.0.1.running_var"])
    assert torch.equal(net.stage2[3].pw.weight, raw["module.stage2.3.3.weight"])
    assert torch.equal(net.stage3[1].dw.norm.bias, raw["module.stage3.1.1.bias"])
    n_loaded = sum(1 for k in raw if not k.startswith("module.fc.") and "num_batches" not in k)
    assert n_loaded == sum(1 for k in net.state_dict() if "num_batches" not in k)


@pytest.mark.skipif(not os.path.isfile(MNET_CKPT), reason=f"no checkpoint at {MNET_CKPT}")
def test_mobilenet_loader_rejects_wrong_width():
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_mobilenet_v1_imagenet(MobileNetV1(width_mult=0.5), MNET_CKPT)
