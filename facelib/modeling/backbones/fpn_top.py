"""Extra FPN levels above the last bottom-up stage (P6, P7, ...), shared by every FPN backbone."""
import math
from typing import List

import fvcore.nn.weight_init as weight_init
import torch.nn.functional as F
from torch import nn

from detectron2.modeling.backbone import Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool, LastLevelP6P7

__all__ = ["LastLevelStridedConvs", "build_fpn_top_block", "build_face_fpn"]


class LastLevelStridedConvs(nn.Module):
    """``num_levels`` 3x3 stride-2 convs, a ReLU before every conv but the first: detectron2's
    :class:`LastLevelP6P7` for any number of levels. The convs are named ``p<first_level + i>``
    (``p6``, ``p7``), so with 2 levels the parameters are named exactly as LastLevelP6P7's."""

    def __init__(self, in_channels: int, out_channels: int, num_levels: int = 2,
                 in_feature: str = "res5", first_level: int = 6):
        super().__init__()
        assert num_levels >= 1, num_levels
        self.num_levels = num_levels
        self.in_feature = in_feature
        self._names = []
        for i in range(num_levels):
            conv = nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, 2, 1)
            weight_init.c2_xavier_fill(conv)
            name = "p{}".format(first_level + i)
            self.add_module(name, conv)
            self._names.append(name)

    def forward(self, x) -> List:
        outs = []
        for i, name in enumerate(self._names):
            x = getattr(self, name)(x if i == 0 else F.relu(x))
            outs.append(x)
        return outs


def build_fpn_top_block(cfg, bottom_up: Backbone, in_features, out_channels: int):
    """The FPN ``top_block`` from ``MODEL.FPN.TOP_LEVELS / TOP_LEVELS_FROM / TOP_LEVELS_TYPE``
    (see :func:`facelib.modeling.config.add_backbone_config`), or None for 0 levels.

    "C5" reads the last bottom-up feature in ``in_features``; "P5" the last FPN output."""
    num_levels = int(cfg.MODEL.FPN.TOP_LEVELS)
    source = str(cfg.MODEL.FPN.TOP_LEVELS_FROM).upper()
    kind = str(cfg.MODEL.FPN.TOP_LEVELS_TYPE).lower()
    if num_levels == 0:
        return None
    if num_levels < 0:
        raise ValueError(f"MODEL.FPN.TOP_LEVELS must be >= 0, got {num_levels}")
    if source not in ("C5", "P5"):
        raise ValueError(f'MODEL.FPN.TOP_LEVELS_FROM must be "C5" or "P5", got {source!r}')
    last = in_features[-1]
    last_shape = bottom_up.output_shape()[last]
    last_level = int(math.log2(last_shape.stride))
    p_last = "p{}".format(last_level)
    if kind == "maxpool":
        if num_levels != 1 or source != "P5":
            raise ValueError('MODEL.FPN.TOP_LEVELS_TYPE "maxpool" needs TOP_LEVELS 1 and '
                             'TOP_LEVELS_FROM "P5"')
        block = LastLevelMaxPool()
        block.in_feature = p_last
        return block
    if kind != "conv":
        raise ValueError(f'MODEL.FPN.TOP_LEVELS_TYPE must be "conv" or "maxpool", got {kind!r}')
    if source == "C5":
        in_channels, in_feature = last_shape.channels, last
    else:
        in_channels, in_feature = out_channels, p_last
    if num_levels == 2 and last_level == 5:
        return LastLevelP6P7(in_channels, out_channels, in_feature=in_feature)
    return LastLevelStridedConvs(in_channels, out_channels, num_levels, in_feature, last_level + 1)


def build_face_fpn(cfg, bottom_up: Backbone, in_features) -> FPN:
    """detectron2's ``FPN`` on ``in_features`` of ``bottom_up`` with ``MODEL.FPN.OUT_CHANNELS / NORM /
    FUSE_TYPE`` and the ``MODEL.FPN.TOP_LEVELS*`` extra levels of :func:`build_fpn_top_block`."""
    out_channels = cfg.MODEL.FPN.OUT_CHANNELS
    return FPN(
        bottom_up=bottom_up,
        in_features=in_features,
        out_channels=out_channels,
        norm=cfg.MODEL.FPN.NORM,
        top_block=build_fpn_top_block(cfg, bottom_up, in_features, out_channels),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
