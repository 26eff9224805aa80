"""MobileNetV1 (Howard et al. 2017) with a width multiplier, split into RetinaFace's three stages
(biubug6/Pytorch_Retinaface ``models/net.py`` MobileNetV1: ``stage1`` = conv_bn + 5 conv_dw,
stride 8; ``stage2`` = 6 conv_dw, stride 16; ``stage3`` = 2 conv_dw, stride 32; 64/128/256
channels at width 0.25), + detectron2's FPN on the stages with optional P6/P7.

Module names: ``stageS.0`` is the stem conv (a detectron2 :class:`Conv2d` with ``.norm``),
``stageS.i.dw`` / ``stageS.i.pw`` the depthwise 3x3 and pointwise 1x1 convs of a depthwise
separable block. The ImageNet checkpoint's ``stageS.0.{0,1}`` / ``stageS.i.{0,1,3,4}`` map onto them
(:func:`facelib.modeling.weight_conversion.convert_mobilenet_v1`).
"""
import logging
import math
from typing import Sequence

import fvcore.nn.weight_init as weight_init
from torch import nn

from detectron2.layers import Conv2d, FrozenBatchNorm2d, ShapeSpec, get_norm
from detectron2.modeling.backbone import BACKBONE_REGISTRY, Backbone

from .fpn_top import build_face_fpn

__all__ = [
    "MobileNetV1",
    "DepthwiseSeparable",
    "build_mobilenet_v1_backbone",
    "build_mobilenet_v1_fpn_backbone",
    "load_mobilenet_v1_imagenet",
]

logger = logging.getLogger(__name__)

# Per stage: (kind, output channels at width 1.0, stride) of each layer.
MOBILENET_V1_STAGES = (
    ("stage1", (("conv", 32, 2), ("dw", 64, 1), ("dw", 128, 2), ("dw", 128, 1),
                ("dw", 256, 2), ("dw", 256, 1))),
    ("stage2", (("dw", 512, 2),) + (("dw", 512, 1),) * 5),
    ("stage3", (("dw", 1024, 2), ("dw", 1024, 1))),
)


def _norm(norm, channels):
    """get_norm, except GN uses gcd(32, channels) groups (0.25x layers have 8 or 16 channels)."""
    if norm == "GN":
        return nn.GroupNorm(math.gcd(32, channels), channels)
    return get_norm(norm, channels)


def _activation(name: str, leaky_slope: float):
    name = name.lower()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name in ("leaky_relu", "leakyrelu"):
        return nn.LeakyReLU(negative_slope=leaky_slope, inplace=True)
    raise ValueError(f'MobileNet activation must be "relu" or "leaky_relu", got {name!r}')


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv + norm + act, then 1x1 pointwise conv + norm + act (conv_dw)."""

    def __init__(self, in_channels, out_channels, stride, norm, activation):
        super().__init__()
        self.dw = Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels,
                         bias=norm == "", norm=_norm(norm, in_channels), activation=activation)
        self.pw = Conv2d(in_channels, out_channels, 1, bias=norm == "",
                         norm=_norm(norm, out_channels), activation=activation)
        for conv in (self.dw, self.pw):
            weight_init.c2_msra_fill(conv)

    def forward(self, x):
        return self.pw(self.dw(x))


class MobileNetV1(Backbone):
    """MobileNetV1 up to its last conv (no pool / fc), returning ``stage1``..``stage3``."""

    def __init__(self, in_channels: int = 3, width_mult: float = 0.25, norm: str = "BN",
                 activation: str = "relu", leaky_slope: float = 0.1,
                 out_features: Sequence[str] = ("stage1", "stage2", "stage3"),
                 freeze_at: int = 0):
        super().__init__()
        act = _activation(activation, leaky_slope)
        self.stage_names = []
        self._out_feature_strides, self._out_feature_channels = {}, {}
        stride = 1
        out_features = list(out_features)
        all_names = [name for name, _ in MOBILENET_V1_STAGES]
        if not out_features or set(out_features) - set(all_names):
            raise ValueError(f"MobileNetV1 out_features must be a subset of {all_names}, "
                             f"got {out_features}")
        num_stages = max(all_names.index(f) for f in out_features) + 1
        for name, layers in MOBILENET_V1_STAGES[:num_stages]:
            blocks = []
            for kind, channels, s in layers:
                channels = max(1, int(round(channels * width_mult)))
                if kind == "conv":
                    block = Conv2d(in_channels, channels, 3, stride=s, padding=1, bias=norm == "",
                                   norm=_norm(norm, channels), activation=act)
                    weight_init.c2_msra_fill(block)
                else:
                    block = DepthwiseSeparable(in_channels, channels, s, norm, act)
                blocks.append(block)
                in_channels = channels
                stride *= s
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
            self._out_feature_strides[name] = stride
            self._out_feature_channels[name] = in_channels
        self._out_features = out_features
        self.freeze(freeze_at)

    def freeze(self, freeze_at: int = 0):
        """Freeze stages 1..freeze_at (requires_grad False, norms -> FrozenBatchNorm2d)."""
        if not 0 <= freeze_at <= len(MOBILENET_V1_STAGES):
            raise ValueError(f"MobileNetV1 freeze_at must be in 0..3, got {freeze_at}")
        for name in self.stage_names[:freeze_at]:
            stage = getattr(self, name)
            for p in stage.parameters():
                p.requires_grad = False
            FrozenBatchNorm2d.convert_frozen_batchnorm(stage)
        return self

    def forward(self, x):
        outputs = {}
        for name in self.stage_names:
            x = getattr(self, name)(x)
            if name in self._out_features:
                outputs[name] = x
        return outputs


@BACKBONE_REGISTRY.register()
def build_mobilenet_v1_backbone(cfg, input_shape: ShapeSpec):
    """MobileNetV1 alone, from ``MODEL.MOBILENET.*``."""
    c = cfg.MODEL.MOBILENET
    return MobileNetV1(
        in_channels=input_shape.channels,
        width_mult=c.WIDTH_MULT,
        norm=c.NORM,
        activation=c.ACTIVATION,
        leaky_slope=c.LEAKY_SLOPE,
        out_features=c.OUT_FEATURES,
        freeze_at=c.FREEZE_AT,
    )


@BACKBONE_REGISTRY.register()
def build_mobilenet_v1_fpn_backbone(cfg, input_shape: ShapeSpec):
    """MobileNetV1 + FPN on ``MODEL.MOBILENET.OUT_FEATURES`` (p3, p4, p5 for the three stages)
    with ``MODEL.FPN.OUT_CHANNELS`` (RetinaFace-MobileNet0.25 uses 64), ``MODEL.FPN.NORM`` and
    ``MODEL.FPN.TOP_LEVELS*`` extra levels (0 for RetinaFace's P3..P5, 2 for P3..P7).

    ``MODEL.FPN.IN_FEATURES`` is not read: base configs set it to ResNet names."""
    bottom_up = build_mobilenet_v1_backbone(cfg, input_shape)
    in_features = list(cfg.MODEL.MOBILENET.OUT_FEATURES)
    return build_face_fpn(cfg, bottom_up, in_features)


def _find_mobilenet(module: nn.Module) -> MobileNetV1:
    if isinstance(module, MobileNetV1):
        return module
    found = [m for m in module.modules() if isinstance(m, MobileNetV1)]
    if len(found) != 1:
        raise ValueError(f"expected exactly one MobileNetV1 inside {type(module).__name__}, "
                         f"found {len(found)}")
    return found[0]


def load_mobilenet_v1_imagenet(backbone: nn.Module, path: str):
    """Load the ImageNet MobileNetV1 checkpoint of Pytorch_Retinaface (``{"state_dict":
    {"module.stage1.0.0.weight": ...}}``, e.g. ../shared/weights/mobilenet_v1_0.25_imagenet.pth.tar)
    into ``backbone`` (a :class:`MobileNetV1` or a module holding one, e.g. the FPN backbone).

    ``module.`` is stripped, ``fc.*`` dropped, names mapped by ``convert_mobilenet_v1``.
    Raises if any weight of the MobileNetV1 stays unloaded (or has a different shape); returns
    ``(missing, unexpected)`` key lists (missing is then empty; unexpected are logged).
    """
    from ..weight_conversion import convert_mobilenet_v1, load_source_state_dict

    net = _find_mobilenet(backbone)
    state = convert_mobilenet_v1(load_source_state_dict(path), prefix="")
    own = net.state_dict()
    # Checkpoint stages deeper than the net's last stage (e.g. OUT_FEATURES ["stage1"]) are unused.
    state = {k: v for k, v in state.items() if k.split(".")[0] in net.stage_names}
    incompatible = net.load_state_dict(state, strict=False)
    missing = [k for k in incompatible.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = list(incompatible.unexpected_keys)
    if missing:
        raise KeyError(f"MobileNetV1 weights missing from {path}: {missing}")
    if unexpected:
        logger.warning("Unused keys of %s (norm %s?): %s", path,
                       type(net.stage1[0].norm).__name__, unexpected)
    logger.info("Loaded %d MobileNetV1 tensors from %s", len(own) - len(missing), path)
    return missing, unexpected
