"""``Float32Pooler``: runs a detectron2 ``ROIPooler`` in float32 under autocast.

torchvision's CPU ``roi_pool`` kernel has no autocast rule: under ``torch.autocast("cpu",
torch.bfloat16)`` the features arrive in bfloat16 while the RoI boxes stay float32 and it raises
"input should have the same type as rois" (RoIAlign is covered by torchvision's autocast rules,
RoIPool, used by AOFD's Faster R-CNN VGG16 head, is not). Pooling is cheap: the wrapper pools the
float32 features with autocast off and lets the box head run in the autocast dtype.
"""
import torch
from torch import nn

__all__ = ["Float32Pooler"]


class Float32Pooler(nn.Module):
    def __init__(self, pooler: nn.Module):
        super().__init__()
        self.pooler = pooler

    @property
    def output_size(self):
        return self.pooler.output_size

    def forward(self, x, box_lists):
        if not torch.is_autocast_enabled(x[0].device.type):
            return self.pooler(x, box_lists)
        with torch.autocast(x[0].device.type, enabled=False):
            return self.pooler([f.float() for f in x], box_lists)
