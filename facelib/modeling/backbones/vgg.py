"""VGG16 conv1_1..conv5_3 (Simonyan & Zisserman 2015, configuration D) as in Faster R-CNN VGG16
(Ren et al. 2015), AOFD's backbone: 2x2 max-pools after the conv1..conv4 blocks and none after
conv5, so ``vgg_conv5`` (conv5_3 + ReLU) has stride 16 and 512 channels.

Parameters are named ``conv<block>_<i>`` (the Caffe layer names); torchvision ``vgg16``'s
``features.N`` weights map onto them with
:func:`facelib.modeling.weight_conversion.convert_torchvision_vgg16`.
"""
from typing import Sequence

import fvcore.nn.weight_init as weight_init
import torch.nn.functional as F

from detectron2.layers import Conv2d, FrozenBatchNorm2d, ShapeSpec, get_norm
from detectron2.modeling.backbone import BACKBONE_REGISTRY, Backbone

__all__ = ["VGG16", "build_vgg16_backbone", "VGG16_BLOCKS"]

# (convs per block, output channels) of VGG16, blocks conv1..conv5.
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


class VGG16(Backbone):
    """VGG16 conv layers. Outputs any of ``vgg_conv1``..``vgg_conv5`` (after the ReLU of each
    block's last conv, before the block's pool), strides 1, 2, 4, 8, 16."""

    def __init__(self, in_channels: int = 3, norm: str = "",
                 out_features: Sequence[str] = ("vgg_conv5",), freeze_at: int = 0):
        """
        Args:
            norm: "" (no norm, convs with bias: torchvision/Caffe VGG16) or a
                :func:`detectron2.layers.get_norm` name (convs without bias).
            out_features: subset of vgg_conv1..vgg_conv5.
            freeze_at: freeze blocks conv1..conv<freeze_at> (0 = none, 2 = conv1+conv2 as in
                Faster R-CNN VGG16); their norms become FrozenBatchNorm2d.
        """
        super().__init__()
        self.blocks = []  # list of lists of conv names, for forward/freeze
        self._out_feature_strides, self._out_feature_channels = {}, {}
        stride = 1
        for b, (n, channels) in enumerate(VGG16_BLOCKS, start=1):
            names = []
            for i in range(1, n + 1):
                conv = Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=norm == "",
                              norm=get_norm(norm, channels), activation=F.relu)
                weight_init.c2_msra_fill(conv)  # torchvision VGG's kaiming_normal_(fan_out) init
                name = "conv{}_{}".format(b, i)
                self.add_module(name, conv)
                names.append(name)
                in_channels = channels
            self.blocks.append(names)
            self._out_feature_strides["vgg_conv{}".format(b)] = stride
            self._out_feature_channels["vgg_conv{}".format(b)] = channels
            stride *= 2
        out_features = list(out_features)
        unknown = set(out_features) - set(self._out_feature_strides)
        if not out_features or unknown:
            raise ValueError(f"VGG16 out_features must be a subset of "
                             f"{list(self._out_feature_strides)}, got {out_features}")
        self._out_features = out_features
        self._num_blocks = max(int(f[len("vgg_conv"):]) for f in out_features)
        # Drop the blocks above the deepest output so that no parameter goes unused.
        for names in self.blocks[self._num_blocks:]:
            for name in names:
                delattr(self, name)
        self.blocks = self.blocks[: self._num_blocks]
        self.freeze(freeze_at)

    def freeze(self, freeze_at: int = 0):
        """Freeze conv blocks 1..freeze_at (requires_grad False, norms -> FrozenBatchNorm2d)."""
        if not 0 <= freeze_at <= len(VGG16_BLOCKS):
            raise ValueError(f"VGG16 freeze_at must be in 0..5, got {freeze_at}")
        for names in self.blocks[:freeze_at]:
            for name in names:
                conv = getattr(self, name)
                for p in conv.parameters():
                    p.requires_grad = False
                FrozenBatchNorm2d.convert_frozen_batchnorm(conv)
        return self

    def forward(self, x):
        outputs = {}
        for b, names in enumerate(self.blocks, start=1):
            if b > 1:
                x = F.max_pool2d(x, kernel_size=2, stride=2)
            for name in names:
                x = getattr(self, name)(x)
            key = "vgg_conv{}".format(b)
            if key in self._out_features:
                outputs[key] = x
        return outputs


@BACKBONE_REGISTRY.register()
def build_vgg16_backbone(cfg, input_shape: ShapeSpec):
    """VGG16 from ``MODEL.VGG.*`` (OUT_FEATURES, NORM, FREEZE_AT)."""
    return VGG16(
        in_channels=input_shape.channels,
        norm=cfg.MODEL.VGG.NORM,
        out_features=cfg.MODEL.VGG.OUT_FEATURES,
        freeze_at=cfg.MODEL.VGG.FREEZE_AT,
    )
