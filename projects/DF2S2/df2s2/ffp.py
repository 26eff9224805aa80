"""Feature fusion pyramid (DF²S², Tian et al., Sec. 3.3 "Feature fusion pyramids", Eq. 1, Fig. 2).

F-blocks fuse the backbone's levels top-down, recursively (the fused map goes on to fuse with the
next lower level)::

    phi_i <- phi_i * Psi(phi_{i+1}) + phi_i                                     (Eq. 1)

Psi a stride-2 transposed convolution from C_{i+1} to C_i channels (``MODEL.DF2S2.FUSION_KERNEL``;
the paper gives no kernel size: 2 = the smallest that doubles the resolution exactly), ``*``
element-wise; no activation or normalisation (none is stated). FFP5 = res5 (the top level is not
fused); FFP6 and FFP7 are two successive max-pools of FFP5 (Sec. 3.1; kernel 1, stride 2 as
detectron2's ``LastLevelMaxPool``: the paper gives no kernel). The fused maps keep the backbone's
channels (256..2048 for ResNet-50); a head shared across levels needs one width, so every level
gets a 1x1 conv to ``MODEL.DF2S2.OUT_CHANNELS`` (256; the paper does not specify one: our choice).
New layers are xavier-initialised (Sec. 3.4).
"""
import math
from typing import Dict, List, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from detectron2.layers import ShapeSpec
from detectron2.modeling.backbone import Backbone

__all__ = ["FBlock", "FeatureFusionPyramid"]


class FBlock(nn.Module):
    """Eq. 1: ``low * Psi(high) + low``, Psi = ConvTranspose2d(high_channels -> low_channels,
    ``kernel_size``, stride 2), cropped / padded to ``low``'s size when the sizes are odd."""

    def __init__(self, high_channels: int, low_channels: int, kernel_size: int = 2):
        super().__init__()
        if kernel_size < 2 or kernel_size % 2 != 0:
            raise ValueError(f"F-block transposed conv kernel must be even and >= 2, got {kernel_size}")
        self.psi = nn.ConvTranspose2d(high_channels, low_channels, kernel_size, stride=2,
                                      padding=(kernel_size - 2) // 2)
        nn.init.xavier_uniform_(self.psi.weight)
        nn.init.zeros_(self.psi.bias)

    def forward(self, high: Tensor, low: Tensor) -> Tensor:
        up = self.psi(high)
        h, w = low.shape[-2:]
        if up.shape[-2:] != (h, w):  # odd sizes: stride 2 gives 2x the high map
            up = F.pad(up, (0, max(0, w - up.shape[-1]), 0, max(0, h - up.shape[-2])))[..., :h, :w]
        return low * up + low


class FeatureFusionPyramid(Backbone):
    """``bottom_up`` levels ``in_features`` fused by F-blocks, ``num_top`` max-pooled levels above,
    each level 1x1-reduced to ``out_channels`` (0 = not reduced); outputs ``p<level>``.

    ``fuse=False`` leaves the bottom-up maps unfused (only the reductions and the top levels):
    the ``+Fus`` switch of Table 2 turned off while keeping the rest of the pyramid."""

    def __init__(self, bottom_up: Backbone, in_features: Sequence[str], out_channels: int = 256,
                 num_top: int = 2, fusion_kernel: int = 2, fuse: bool = True):
        super().__init__()
        self.bottom_up = bottom_up
        self.in_features = list(in_features)
        shapes = bottom_up.output_shape()
        missing = [f for f in self.in_features if f not in shapes]
        if missing:
            raise ValueError(f"feature fusion pyramid inputs {missing} are not outputs of the bottom-up "
                             f"network ({sorted(shapes)})")
        strides = [shapes[f].stride for f in self.in_features]
        if any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(f"feature fusion pyramid inputs must double their stride level by level, got {strides}")
        channels = [shapes[f].channels for f in self.in_features]
        self.fuse = bool(fuse)
        self.fblocks = nn.ModuleList(
            FBlock(channels[i + 1], channels[i], fusion_kernel) for i in range(len(channels) - 1)
        ) if self.fuse else nn.ModuleList()
        levels = [int(math.log2(s)) for s in strides]
        levels += [levels[-1] + 1 + i for i in range(int(num_top))]
        level_channels = channels + [channels[-1]] * int(num_top)
        self.num_top = int(num_top)
        self._out_features = [f"p{l}" for l in levels]
        self.reduce = nn.ModuleList()
        if out_channels:
            for c in level_channels:
                conv = nn.Conv2d(c, out_channels, 1)
                nn.init.xavier_uniform_(conv.weight)
                nn.init.zeros_(conv.bias)
                self.reduce.append(conv)
        self._out_feature_strides = {f"p{l}": 2 ** l for l in levels}
        self._out_feature_channels = {
            f"p{l}": (out_channels or c) for l, c in zip(levels, level_channels)
        }

    @property
    def size_divisibility(self) -> int:
        return max(self._out_feature_strides.values())

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        feats = self.bottom_up(x)
        maps: List[Tensor] = [feats[f] for f in self.in_features]
        if self.fuse:
            for i in range(len(maps) - 2, -1, -1):  # top-down: the fused map fuses with the next lower
                maps[i] = self.fblocks[i](maps[i + 1], maps[i])
        top = maps[-1]
        for _ in range(self.num_top):
            top = F.max_pool2d(top, kernel_size=1, stride=2)
            maps.append(top)
        if len(self.reduce):
            maps = [conv(m) for conv, m in zip(self.reduce, maps)]
        return dict(zip(self._out_features, maps))

    def output_shape(self) -> Dict[str, ShapeSpec]:
        return {f: ShapeSpec(channels=self._out_feature_channels[f], stride=self._out_feature_strides[f])
                for f in self._out_features}
