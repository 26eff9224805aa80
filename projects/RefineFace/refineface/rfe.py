"""Receptive Field Enhancement (RefineFace Sec. 3.5, Fig. 7).

Four branches, each a 1x1 conv to a quarter of the channels, one rectangular conv (1x5, 5x1, 1x3,
3x1: "1 x k and k x 1 (k = 3 and 5) convolution layer to provide rectangular receptive field")
and a 1x1 conv; the branches are concatenated back to C channels, go through a 1x1 conv, and the
input is added ("a shortcut path to retain the original receptive field"). A ReLU follows every
conv (SRN code, not paper: ChiCheng123/SRN ``RFE``).
"""
from typing import Tuple

import torch
from torch import nn

__all__ = ["RFE", "RFE_KERNELS", "replace_middle_convs"]

# (height, width) of the rectangular conv of each branch, in SRN's branch order.
RFE_KERNELS: Tuple[Tuple[int, int], ...] = ((1, 5), (5, 1), (1, 3), (3, 1))


class RFE(nn.Module):
    """``x + relu(conv1x1(cat(branch_i(x))))`` with the four rectangular branches of Fig. 7 (a)."""

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4 != 0:
            raise ValueError(f"RFE needs channels divisible by 4 (four branches of C/4), got {channels}")
        inter = channels // 4
        branches = []
        for kh, kw in RFE_KERNELS:
            branches.append(nn.Sequential(
                nn.Conv2d(channels, inter, 1), nn.ReLU(inplace=True),
                nn.Conv2d(inter, inter, (kh, kw), padding=(kh // 2, kw // 2)), nn.ReLU(inplace=True),
                nn.Conv2d(inter, inter, 1), nn.ReLU(inplace=True),
            ))
        self.branches = nn.ModuleList(branches)
        self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # RetinaNetHead's initialisation of its subnets
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.constant_(m.bias, 0.0)

    def forward(self, x):
        return x + self.fuse(torch.cat([b(x) for b in self.branches], dim=1))


def replace_middle_convs(subnet: nn.Sequential, channels: int) -> nn.Sequential:
    """``subnet`` (detectron2 ``RetinaNetHead``'s [conv, (norm), ReLU] x n) with its second and
    third blocks replaced by one :class:`RFE` ("RFE module replaces the middle two convolution
    layers in the class subnet and the box subnet", Sec. 3.5, of RetinaNet's four): n = 4 ->
    block 0, RFE, block 3 (the paper's); n = 3 -> block 0, RFE; n = 2 -> block 0, RFE (the RFE
    always follows a conv, so the predictors never sit on the RFE's identity shortcut straight
    from the FPN)."""
    blocks, current = [], []
    for m in subnet:
        if isinstance(m, nn.Conv2d) and current:
            blocks.append(current)
            current = []
        current.append(m)
    if current:
        blocks.append(current)
    n = len(blocks)
    if n < 2:
        raise ValueError(f"RFE replaces convs 2-3 of a subnet; MODEL.RETINANET.NUM_CONVS is {n} (needs >= 2)")
    kept = [m for m in blocks[0]] + [RFE(channels)] + [m for b in blocks[3:] for m in b]
    return nn.Sequential(*kept)
