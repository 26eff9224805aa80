"""The SSH context head of MogFace's final model (Sec. 4.3: "SSH head [22]" among the modules
taken from HAMBox), before RetinaNet's class / box subnets.

Layout (MogFace code, not paper: ``SSHContext`` in ``modelling/pred_modules/pred_net.py``, one
module shared by all levels): for C output channels, a 3x3 conv to C/2, and a dilated (2) 3x3
conv to C/4 followed by two branches, a 3x3 conv and a dilated 3x3 + 3x3 conv, each to C/4; ReLU
after every conv; the three outputs concatenated (C/2 + C/4 + C/4). The subnets then run at C
channels (the code's 512 with its "deep head" of four 3x3 convs + GN: ``MODEL.RETINANET.NUM_CONVS``
4, ``NORM`` "GN"; the code applies one conv four times there, which is not reproduced).
"""
from typing import List, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from facelib.modeling.dense_outputs import HeadOutputs

from .pyramid_anchor import build_pyramid_anchor_predictor

__all__ = ["SSHContext", "MogFaceHead"]


class SSHContext(nn.Module):
    """``cat(relu(conv3x3(x)), ctx3(x), ctx5(x))`` to ``out_channels`` (module docstring)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        if out_channels % 4 != 0:
            raise ValueError(f"SSH context channels must be divisible by 4, got {out_channels}")
        half, quarter = out_channels // 2, out_channels // 4
        self.conv1 = nn.Conv2d(in_channels, half, 3, padding=1)
        self.conv2 = nn.Conv2d(in_channels, quarter, 3, padding=2, dilation=2)
        self.conv2_1 = nn.Conv2d(quarter, quarter, 3, padding=1)
        self.conv2_2 = nn.Conv2d(quarter, quarter, 3, padding=2, dilation=2)
        self.conv2_2_1 = nn.Conv2d(quarter, quarter, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.constant_(m.bias, 0.0)

    def forward(self, x: Tensor) -> Tensor:
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x))
        x2_1 = F.relu(self.conv2_1(x2))
        x2_2 = F.relu(self.conv2_2_1(F.relu(self.conv2_2(x2))))
        return torch.cat([x1, x2_1, x2_2], dim=1)


class MogFaceHead(RetinaNetHead):
    """RetinaNet's head, optionally behind a shared :class:`SSHContext` (``ssh_channels`` > 0; the
    subnets then run at that width) and with Pyramid Anchor's context branches on the subnets'
    outputs (training only; :mod:`.pyramid_anchor`). With neither it is ``RetinaNetHead`` exactly;
    returns :class:`~facelib.modeling.dense_outputs.HeadOutputs`."""

    @configurable
    def __init__(self, *, input_shape: List[ShapeSpec], ssh_channels: int = 0, ssh_in_channels: int = 0,
                 pyramid_anchor: Optional[nn.Module] = None, **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        self.ssh = SSHContext(ssh_in_channels, ssh_channels) if ssh_channels else None
        self.pyramid_anchor = pyramid_anchor

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        ret = super().from_config(cfg, input_shape)
        ssh = int(cfg.MODEL.MOGFACE.SSH_CHANNELS)
        if ssh:
            ret["ssh_in_channels"] = input_shape[0].channels
            ret["ssh_channels"] = ssh
            ret["input_shape"] = [ShapeSpec(channels=ssh, stride=s.stride) for s in input_shape]
            ret["conv_dims"] = [ssh] * cfg.MODEL.RETINANET.NUM_CONVS
        width = ret["conv_dims"][-1] if ret["conv_dims"] else ret["input_shape"][0].channels
        ret["pyramid_anchor"] = build_pyramid_anchor_predictor(cfg, width, ret["num_anchors"], len(input_shape), shared=True)
        return ret

    def forward(self, features: List[Tensor]) -> HeadOutputs:
        if self.ssh is not None:
            features = [self.ssh(f) for f in features]
        cls_features = [self.cls_subnet(f) for f in features]
        box_features = [self.bbox_subnet(f) for f in features]
        out = HeadOutputs(logits=[self.cls_score(f) for f in cls_features],
                          deltas=[self.bbox_pred(f) for f in box_features])
        if self.pyramid_anchor is not None and self.training:
            out.extras.update(self.pyramid_anchor(cls_features, box_features))
        return out
