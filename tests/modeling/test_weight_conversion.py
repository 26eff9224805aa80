"""Weight conversion into facelib backbone names, checked through detectron2's DetectionCheckpointer
on checkpoints made inside the tests (torchvision ResNet / VGG16 with random weights, a
Pytorch_Retinaface-style MobileNet), plus the shared MobileNet ImageNet checkpoint when present."""
import importlib.util
import os

import pytest
import torch
import torchvision
from torch import nn

import facelib  # noqa: F401
import facelib.modeling  # noqa: F401
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import build_backbone, build_model

from facelib.modeling import add_backbone_config
from facelib.modeling.backbones.mobilenet import MobileNetV1
from facelib.modeling.weight_conversion import (
    convert_mobilenet_v1,
    convert_torchvision_resnet,
    convert_torchvision_vgg16,
)
from facelib.paths import shared_root

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MNET_CKPT = os.path.join(shared_root(), "weights", "mobilenet_v1_0.25_imagenet.pth.tar")


def _tool():
    spec = importlib.util.spec_from_file_location(
        "convert_weights", os.path.join(REPO, "tools", "convert_weights.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _convert(tmp_path, source, state_dict, *extra):
    """Save ``state_dict``, run tools/convert_weights.py on it, return the output path."""
    src, out = tmp_path / "src.pth", tmp_path / "out.pth"
    torch.save(state_dict, src)
    assert _tool().main(["--source", source, "--input", str(src), "--output", str(out), *extra]) == 0
    ckpt = torch.load(out, map_location="cpu", weights_only=True)
    assert ckpt["matching_heuristics"] is False and ckpt["__author__"] == "facelib/" + source
    return str(out)


def _load(model, path):
    """DetectionCheckpointer(model).load(path); returns its incompatible keys."""
    checkpointer = DetectionCheckpointer(model)
    seen = []
    log = checkpointer._log_incompatible_keys
    checkpointer._log_incompatible_keys = lambda inc: (seen.append(inc), log(inc))
    checkpointer.load(path)
    assert len(seen) == 1
    return seen[0]


def _assert_fully_loaded(incompatible, model, prefix):
    assert incompatible.unexpected_keys == [] and incompatible.incorrect_shapes == []
    own = [k for k in model.state_dict() if k.startswith(prefix)]
    assert own, prefix
    assert not [k for k in incompatible.missing_keys if k.startswith(prefix)]


class _Holder(nn.Module):
    """A model whose backbone comes from a config (the names a meta-architecture gives it)."""

    def __init__(self, cfg):
        super().__init__()
        self.backbone = build_backbone(cfg)


def _resnet_cfg(depth):
    cfg = get_cfg()
    add_backbone_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "RetinaNet"
    cfg.MODEL.BACKBONE.NAME = "build_face_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.DEPTH = depth
    cfg.MODEL.RESNETS.STRIDE_IN_1X1 = False  # torchvision bottlenecks stride in the 3x3
    cfg.MODEL.FPN.IN_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 16
    cfg.MODEL.RETINANET.NUM_CONVS = 1
    return cfg


def _tv_resnet_features(tv, x):
    x = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
    outs = {}
    for i in range(1, 5):
        x = getattr(tv, "layer%d" % i)(x)
        outs["res%d" % (i + 1)] = x
    return outs


def _randomize_bn(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


@pytest.mark.parametrize("depth", [18, 50])
def test_torchvision_resnet_through_checkpointer(tmp_path, depth):
    tv = getattr(torchvision.models, "resnet%d" % depth)(weights=None).eval()
    _randomize_bn(tv)
    path = _convert(tmp_path, "torchvision_resnet", tv.state_dict())
    model = build_model(_resnet_cfg(depth)).eval()  # RetinaNet with the face ResNet-FPN backbone
    _assert_fully_loaded(_load(model, path), model, "backbone.bottom_up.")
    bu = model.backbone.bottom_up
    assert torch.equal(bu.stem.conv1.weight, tv.conv1.weight)
    assert torch.equal(bu.stem.conv1.norm.running_var, tv.bn1.running_var)
    assert torch.equal(bu.res5[1].conv2.weight, tv.layer4[1].conv2.weight)
    assert torch.equal(bu.res3[0].shortcut.norm.bias, tv.layer2[0].downsample[1].bias)
    if depth == 50:
        assert torch.equal(bu.res4[5].conv3.norm.weight, tv.layer3[5].bn3.weight)
    # every tensor of the bottom-up ResNet came from the checkpoint
    ckpt = torch.load(path, map_location="cpu", weights_only=True)["model"]
    assert set(ckpt) == {"backbone.bottom_up." + k for k in bu.state_dict()}
    # and the converted ResNet computes what torchvision's does (FrozenBN, STRIDE_IN_1X1 False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours, ref = bu(x), _tv_resnet_features(tv, x)
    for k in ("res3", "res4", "res5"):
        torch.testing.assert_close(ours[k], ref[k], rtol=1e-4, atol=1e-4)


def test_torchvision_resnet_into_bn_model(tmp_path):
    """Trainable BN (from-scratch norms, or fine-tuning BN): num_batches_tracked is filled in."""
    tv = torchvision.models.resnet18(weights=None)
    path = _convert(tmp_path, "torchvision_resnet", tv.state_dict())
    cfg = _resnet_cfg(18)
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    model = _Holder(cfg)
    _assert_fully_loaded(_load(model, path), model, "backbone.bottom_up.")
    assert torch.equal(model.backbone.bottom_up.res2[0].conv1.norm.running_mean,
                       tv.layer1[0].bn1.running_mean)


def test_resnet_converter_rejects_unknown_keys():
    sd = torchvision.models.resnet18(weights=None).state_dict()
    sd["layer1.0.se.fc.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match="se.fc"):
        convert_torchvision_resnet(sd)
    names = convert_torchvision_resnet({"module.conv1.weight": torch.zeros(1),
                                        "module.layer1.0.downsample.1.running_var": torch.zeros(1)})
    assert list(names) == ["backbone.bottom_up.stem.conv1.weight",
                           "backbone.bottom_up.res2.0.shortcut.norm.running_var"]


def _vgg_cfg():
    cfg = get_cfg()
    add_backbone_config(cfg)
    cfg.MODEL.BACKBONE.NAME = "build_vgg16_backbone"
    cfg.MODEL.VGG.FREEZE_AT = 2
    return cfg


def test_torchvision_vgg16_through_checkpointer(tmp_path):
    # torchvision vgg16's ``features`` alone (its classifier holds 120M parameters)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"]).eval()
    sd = {"features." + k: v for k, v in features.state_dict().items()}
    path = _convert(tmp_path, "torchvision_vgg16", sd)
    model = _Holder(_vgg_cfg()).eval()
    _assert_fully_loaded(_load(model, path), model, "backbone.")
    vgg = model.backbone
    assert torch.equal(vgg.conv1_1.weight, features[0].weight)
    assert torch.equal(vgg.conv3_3.bias, features[14].bias)
    assert torch.equal(vgg.conv5_3.weight, features[28].weight)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(vgg(x)["vgg_conv5"], features[:30](x), rtol=1e-4, atol=1e-4)


def test_vgg16_classifier_and_errors():
    sd = {"features.%d.%s" % (i, s): torch.zeros(1) for i in
          (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for s in ("weight", "bias")}
    sd.update({"classifier.%d.%s" % (i, s): torch.full((1,), float(i)) for i in (0, 3, 6)
               for s in ("weight", "bias")})
    plain = convert_torchvision_vgg16(sd)
    assert len(plain) == 26 and "backbone.conv4_2.weight" in plain  # classifier dropped
    head = convert_torchvision_vgg16(sd, prefix="backbone.bottom_up.",
                                     box_head_prefix="roi_heads.box_head.")
    assert head["roi_heads.box_head.fc1.weight"].item() == 0.0
    assert head["roi_heads.box_head.fc2.bias"].item() == 3.0
    assert "backbone.bottom_up.conv1_1.weight" in head and len(head) == 30
    bn = dict(sd, **{"features.1.running_mean": torch.zeros(1)})  # vgg16_bn layout
    with pytest.raises(KeyError):
        convert_torchvision_vgg16(bn)


def _reference_mobilenet025(leaky):
    """biubug6/Pytorch_Retinaface's MobileNetV1 structure (conv_bn / conv_dw Sequentials)."""
    def act():
        return nn.LeakyReLU(leaky) if leaky else nn.ReLU()

    def conv_bn(i, o, s):
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), act())

    def conv_dw(i, o, s):
        return nn.Sequential(nn.Conv2d(i, i, 3, s, 1, groups=i, bias=False), nn.BatchNorm2d(i), act(),
                             nn.Conv2d(i, o, 1, 1, 0, bias=False), nn.BatchNorm2d(o), act())

    ref = nn.Module()
    ref.stage1 = nn.Sequential(conv_bn(3, 8, 2), conv_dw(8, 16, 1), conv_dw(16, 32, 2),
                               conv_dw(32, 32, 1), conv_dw(32, 64, 2), conv_dw(64, 64, 1))
    ref.stage2 = nn.Sequential(conv_dw(64, 128, 2), *[conv_dw(128, 128, 1) for _ in range(5)])
    ref.stage3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))
    ref.fc = nn.Linear(256, 1000)
    return ref


@pytest.mark.parametrize("activation,leaky", [("relu", 0.0), ("leaky_relu", 0.1)])
def test_mobilenet_matches_reference_structure(activation, leaky):
    ref = _reference_mobilenet025(leaky)
    for m in ref.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    ref.eval()
    net = MobileNetV1(norm="FrozenBN", activation=activation, leaky_slope=leaky).eval()
    incompatible = net.load_state_dict(convert_mobilenet_v1(ref.state_dict(), prefix=""), strict=False)
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = net(x)
        y = x
        for name in ("stage1", "stage2", "stage3"):
            y = getattr(ref, name)(y)
            torch.testing.assert_close(out[name], y, rtol=1e-4, atol=1e-5)


def _mnet_cfg():
    cfg = get_cfg()
    add_backbone_config(cfg)
    cfg.MODEL.BACKBONE.NAME = "build_mobilenet_v1_fpn_backbone"
    cfg.MODEL.FPN.OUT_CHANNELS = 16
    cfg.MODEL.MOBILENET.NORM = "FrozenBN"
    return cfg


def test_mobilenet_checkpoint_through_checkpointer(tmp_path):
    ref = _reference_mobilenet025(0.0)
    _randomize_bn(ref)
    wrapped = nn.DataParallel(ref)  # keys "module.stage1.0.0.weight", as the real checkpoint
    path = _convert(tmp_path, "mobilenet_v1", {"epoch": 1, "state_dict": wrapped.state_dict()})
    model = _Holder(_mnet_cfg()).eval()
    _assert_fully_loaded(_load(model, path), model, "backbone.bottom_up.")
    net = model.backbone.bottom_up
    assert torch.equal(net.stage1[0].norm.running_mean, ref.stage1[0][1].running_mean)
    assert torch.equal(net.stage2[5].pw.weight, ref.stage2[5][3].weight)
    ref.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x)["stage3"], ref.stage3(ref.stage2(ref.stage1(x))),
                                   rtol=1e-4, atol=1e-5)


def test_mobilenet_converter_rejects_unknown_keys():
    with pytest.raises(KeyError, match="stage1.1.2.weight"):
        convert_mobilenet_v1({"stage1.1.2.weight": torch.zeros(1)})
    with pytest.raises(KeyError, match="stage1.0.3.weight"):  # the stem conv_bn has no layer 3
        convert_mobilenet_v1({"stage1.0.3.weight": torch.zeros(1)})


@pytest.mark.skipif(not os.path.isfile(MNET_CKPT), reason=f"no checkpoint at {MNET_CKPT}")
def test_shared_mobilenet_checkpoint_converts(tmp_path):
    out = tmp_path / "mnet.pth"
    assert _tool().main(["--source", "mobilenet_v1", "--input", MNET_CKPT, "--output", str(out)]) == 0
    model = _Holder(_mnet_cfg())
    _assert_fully_loaded(_load(model, str(out)), model, "backbone.bottom_up.")
    raw = torch.load(MNET_CKPT, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(model.backbone.bottom_up.stage3[0].pw.norm.running_var,
                       raw["module.stage3.0.4.running_var"])
