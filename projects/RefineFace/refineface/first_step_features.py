"""The first step's features: the backbone's C levels, each reduced to the head's width
(RefineFace Sec. 3, Fig. 3: the first step of STR / STC runs on C2..C7, the second on P2..P7).

C levels the backbone has (C2..C5 of a ResNet, the three stages of MobileNetV1) are read from the
FPN's bottom-up outputs; levels above its last stage (C6, C7) come from stride-2 3x3 convs
stacked on the last stage (Sec. 3: "two simple down-sample 3x3 convolution layers after C5").
Every first-step level then goes through a 1x1 conv to ``channels`` (SRN code, not paper:
``c2_conv`` .. ``c7_conv``).
"""
import math
from typing import Dict, List, Sequence

import fvcore.nn.weight_init as weight_init
from torch import Tensor, nn

from detectron2.layers import ShapeSpec

__all__ = ["FirstStepFeatures", "TwoStepFeatures", "level_of"]


def level_of(stride: int) -> int:
    """Pyramid level of a stride (8 -> 3)."""
    level = int(round(math.log2(stride)))
    if 2 ** level != stride:
        raise ValueError(f"feature stride {stride} is not a power of 2")
    return level


class TwoStepFeatures(list):
    """The second step's features (a list over levels, what :class:`FaceRetinaNet` passes on)
    carrying the first step's in ``first_step`` (a list over the first-step levels)."""

    def __init__(self, second_step: Sequence[Tensor], first_step: Sequence[Tensor]):
        super().__init__(second_step)
        self.first_step = list(first_step)


class FirstStepFeatures(nn.Module):
    """``forward(bottom_up_features) -> [features of each first-step level]``.

    Args:
        bottom_up_shapes: name -> ShapeSpec of the FPN's bottom-up inputs (its ``in_features``).
        levels: pyramid levels of the first step (e.g. [2, 3, 4, 5, 6, 7]), ascending.
        channels: output channels of every level (the 1x1 reductions).
        extra_channels: output channels of each extra (above the last stage) level's 3x3 conv;
            empty = ``channels`` for each.
    """

    def __init__(self, bottom_up_shapes: Dict[str, ShapeSpec], levels: Sequence[int], channels: int,
                 extra_channels: Sequence[int] = ()):
        super().__init__()
        self.levels = sorted(int(x) for x in levels)
        if self.levels != [int(x) for x in levels]:
            raise ValueError(f"first-step levels must be ascending, got {list(levels)}")
        by_level = {level_of(s.stride): (name, s) for name, s in bottom_up_shapes.items()}
        last = max(by_level)
        missing = [l for l in self.levels if l < last and l not in by_level]
        if missing:
            raise ValueError(f"the backbone has no C{missing[0]} (its bottom-up levels: {sorted(by_level)})")
        self.sources = {l: by_level[l][0] for l in self.levels if l in by_level}
        self.last_name = by_level[last][0]
        num_extra = max(0, max(self.levels) - last)
        extra_channels = list(extra_channels) or [channels] * num_extra
        if len(extra_channels) < num_extra:
            raise ValueError(f"MODEL.REFINEFACE.FIRST_STEP.EXTRA_CHANNELS has {len(extra_channels)} entries, "
                             f"C{last + 1}..C{max(self.levels)} need {num_extra}")
        in_ch = {l: by_level[l][1].channels for l in self.sources}
        prev = by_level[last][1].channels
        self.extra_levels = []
        for i in range(num_extra):
            conv = nn.Conv2d(prev, extra_channels[i], 3, stride=2, padding=1)
            weight_init.c2_xavier_fill(conv)
            self.add_module(f"c{last + 1 + i}", conv)
            self.extra_levels.append(last + 1 + i)
            in_ch[last + 1 + i] = prev = extra_channels[i]
        for l in self.levels:
            conv = nn.Conv2d(in_ch[l], channels, 1)
            weight_init.c2_xavier_fill(conv)
            self.add_module(f"reduce_c{l}", conv)
        self.channels = channels

    def output_shapes(self) -> List[ShapeSpec]:
        return [ShapeSpec(channels=self.channels, stride=2 ** l) for l in self.levels]

    def forward(self, bottom_up: Dict[str, Tensor]) -> List[Tensor]:
        feats = {l: bottom_up[name] for l, name in self.sources.items()}
        x = bottom_up[self.last_name]
        for l in self.extra_levels:
            x = getattr(self, f"c{l}")(x)
            feats[l] = x
        return [getattr(self, f"reduce_c{l}")(feats[l]) for l in self.levels]
