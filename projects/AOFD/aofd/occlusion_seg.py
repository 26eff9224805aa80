"""AOFD's occlusion segmentation branch (Sec. 3.4, Fig. 4).

Image-level and fully convolutional on the backbone map (``vgg_conv5``, stride 16): a few 3x3
convs + ReLU and a 1x1 conv to 2 classes (0 = not occluded, 1 = occluded face pixel), softmax per
feature cell. Its supervision changes the shared features ("the supervisory signals of the
segmentation branch reversely affect the features").

Targets (:func:`occlusion_seg_targets`): the mapper's ``occlusion_mask`` (H x W, 0/1, in the
network-input frame) is zero-padded / cropped to the feature grid times the stride and averaged
over each stride x stride cell; a cell is "occluded" when at least half of its pixels are. The
loss (:func:`occlusion_seg_loss`, 2-class cross entropy, summed over the input pixels of the
supervised cells per image or averaged over the cells, ``SEG_LOSS_REDUCTION``) only
counts cells whose centre ``((j + 0.5) s, (i + 0.5) s)`` lies inside a GT face box enlarged
``SEG_BOX_ENLARGE`` (1.3) times about its centre; images without an ``occlusion_mask`` are not
supervised.

Inference (:func:`crop_occlusion_masks`): the occluded-class probability map is cropped with
RoIAlign inside each detection box -> M x M box-relative masks in [0, 1]. :class:`AOFD` stores
them as ``pred_occlusion_masks`` (N, 1, M, M) over the REGRESSED box itself (enlarge 1.0), not over
the box enlarged 1.3 times (Sec. 3.4's enlargement of the supervised area): ``facelib.api`` (and
``tools/demo.py``) already define AOFD-style per-face masks as (N, 1, M, M) box-relative to ``pred_boxes`` (pasted
with ``paste_masks_in_image``) or (N, H, W) image-sized, so an (N, M, M) crop of the enlarged box
would be misread as image-sized and pasted at the wrong place. The occlusion outside the box is
in the image-level map (``output["occlusion_mask"]``); ``crop_occlusion_masks(..., enlarge=1.3)``
gives the enlarged crops when wanted.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import fvcore.nn.weight_init as weight_init
from torch import nn
from torch.nn import functional as F
from torchvision.ops import roi_align

from detectron2.layers import Conv2d

from facelib.modeling.box_rasterizer import rasterize_boxes

__all__ = ["OcclusionSegHead", "enlarge_boxes", "occlusion_seg_targets", "occlusion_seg_loss",
           "crop_occlusion_masks"]


class OcclusionSegHead(nn.Module):
    """``num_convs`` 3x3 convs + ReLU, then a 1x1 conv to 2 logits per cell. He ("MSRA") init of
    the convs, as in the authors' Caffe model; Gaussian std 0.01 for the classifier."""

    def __init__(self, in_channels: int, channels: int = 512, num_convs: int = 2):
        super().__init__()
        convs = []
        for _ in range(num_convs):
            conv = Conv2d(in_channels, channels, kernel_size=3, padding=1, activation=F.relu)
            weight_init.c2_msra_fill(conv)
            convs.append(conv)
            in_channels = channels
        self.convs = nn.Sequential(*convs)
        self.predictor = Conv2d(in_channels, 2, kernel_size=1)
        nn.init.normal_(self.predictor.weight, std=0.01)
        nn.init.constant_(self.predictor.bias, 0.0)

    def forward(self, x):
        return self.predictor(self.convs(x))


def enlarge_boxes(boxes: torch.Tensor, factor: float,
                  image_size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """XYXY boxes (N, 4) scaled ``factor`` times about their centres, clipped to (h, w) if given."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    hw, hh = (boxes[:, 2] - boxes[:, 0]) * factor / 2, (boxes[:, 3] - boxes[:, 1]) * factor / 2
    out = torch.stack([cx - hw, cy - hh, cx + hw, cy + hh], dim=1)
    if image_size is not None:
        h, w = image_size
        out[:, 0::2] = out[:, 0::2].clamp(0, w)
        out[:, 1::2] = out[:, 1::2].clamp(0, h)
    return out


def occlusion_seg_targets(occlusion_masks: Sequence[Optional[torch.Tensor]],
                          boxes: Sequence[torch.Tensor], feature_size: Tuple[int, int],
                          stride: int, enlarge: float = 1.3,
                          image_sizes: Optional[Sequence[Tuple[int, int]]] = None):
    """Per-cell targets and the supervised cells.

    Args:
        occlusion_masks: per image an (H, W) 0/1 tensor in the network-input frame, or None.
        boxes: per image the XYXY face boxes (N_i, 4) in that frame.
        feature_size: (hf, wf) of the branch's input map; ``stride`` its stride.
        image_sizes: per image (h, w), to clip the enlarged boxes (default: unclipped).
    Returns:
        targets (B, hf, wf) int64 in {0, 1}; valid (B, hf, wf) bool.
    """
    hf, wf = feature_size
    targets, valid = [], []
    for i, (mask, b) in enumerate(zip(occlusion_masks, boxes)):
        device = b.device
        if mask is None:
            targets.append(torch.zeros(hf, wf, dtype=torch.int64, device=device))
            valid.append(torch.zeros(hf, wf, dtype=torch.bool, device=device))
            continue
        m = (mask > 0).to(torch.float32)[: hf * stride, : wf * stride]
        m = F.pad(m, (0, wf * stride - m.shape[1], 0, hf * stride - m.shape[0]))
        frac = F.avg_pool2d(m[None, None], kernel_size=stride, stride=stride)[0, 0]
        targets.append((frac >= 0.5).to(torch.int64).to(device))
        eb = enlarge_boxes(b.detach().float().cpu(), enlarge,
                           image_sizes[i] if image_sizes is not None else None) if len(b) else b.cpu()
        valid.append(rasterize_boxes(eb, (hf, wf), stride, "center").to(device))
    return torch.stack(targets), torch.stack(valid)


def occlusion_seg_loss(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
                       reduction: str = "mean", pixels_per_cell: int = 1):
    """2-class cross entropy over the supervised cells: their ``"mean"``, or (``"sum"``) their
    sum with each cell counted as the ``pixels_per_cell`` input pixels it covers (stride^2),
    divided by the batch size -- the per-pixel sum of the cell's loss over the image, as a Caffe
    ``SoftmaxWithLoss`` with ``normalize: false`` on the upsampled map computes it. 0 (with a
    graph) when no cell is supervised."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if not valid.any():
        return logits.sum() * 0.0
    per_cell = F.cross_entropy(logits, targets, reduction="none")[valid]
    if reduction == "mean":
        return per_cell.mean()
    return per_cell.sum() * pixels_per_cell / logits.shape[0]


def crop_occlusion_masks(occluded_prob: torch.Tensor, boxes: Sequence[torch.Tensor], stride: int,
                         enlarge: float = 1.3, mask_size: int = 14,
                         image_sizes: Optional[Sequence[Tuple[int, int]]] = None
                         ) -> List[torch.Tensor]:
    """RoIAlign crops (N_i, M, M) of the (B, hf, wf) occluded-class probability inside each
    XYXY box (input frame) enlarged ``enlarge`` times (clipped to the image when sizes are given)."""
    rois = []
    for i, b in enumerate(boxes):
        eb = enlarge_boxes(b.float(), enlarge, image_sizes[i] if image_sizes is not None else None)
        rois.append(torch.cat([torch.full((len(eb), 1), float(i), device=eb.device), eb], dim=1))
    rois = torch.cat(rois) if rois else occluded_prob.new_zeros(0, 5)
    crops = roi_align(occluded_prob[:, None], rois, (mask_size, mask_size),
                      spatial_scale=1.0 / stride, sampling_ratio=2, aligned=True)[:, 0]
    return list(crops.split([len(b) for b in boxes]))
