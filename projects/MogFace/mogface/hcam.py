"""Hierarchical Context-Aware Module (HCAM; MogFace Sec. 3.3, Fig. 2, Eq. 1).

1) The main classifier's scores mark the high-confidence anchors (score > ``threshold``; 0.1 in
   the MogFace code, the paper names no value); for each N in ``sizes`` (3 and 5, Table 5) a
   binary map is 1 at those locations and their N x N neighbourhoods (footnote 5), 0 elsewhere
   (:func:`high_confidence_maps`).
2) Context-enhanced backbone features (MogFace code, not paper: each C level 1x1 to the pyramid's
   width, then one 3x3 conv per N; the paper leaves the architecture to its supplement) are
   multiplied by the maps and 3) added to the pyramid features (levels without a C level, P6 /
   P7, stay as they are).
4) A progressive classifier (one 3x3 conv per level, MogFace code) scores the result; it is
   trained with the dynamic labels y_hc of Eq. 1 (:func:`dynamic_labels`): high-confidence
   anchors that are positives -> 1, high-confidence negatives -> 0, every other anchor ignored.

The maps carry no gradient.
"""
import math
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["high_confidence_maps", "dynamic_labels", "HCAM"]


@torch.no_grad()
def high_confidence_maps(scores: Tensor, threshold: float, sizes: Sequence[int]) -> List[Tensor]:
    """(N, A*K, H, W) main-classifier probabilities -> per N in ``sizes`` an (N, 1, H, W) float map:
    1 within the N x N neighbourhood of every location where some anchor / class scores above
    ``threshold``."""
    high = (scores > threshold).any(dim=1, keepdim=True).to(scores.dtype)
    out = []
    for n in sizes:
        if n < 1 or n % 2 == 0:
            raise ValueError(f"HCAM neighbourhood sizes must be odd and >= 1, got {n}")
        out.append(F.max_pool2d(high, kernel_size=n, stride=1, padding=n // 2))
    return out


@torch.no_grad()
def dynamic_labels(main_scores: Tensor, gt_labels: Tensor, num_classes: int, threshold: float) -> Tensor:
    """Eq. 1's y_hc per (anchor, class): 1 where the main score is above ``threshold`` and the
    anchor is a positive of that class, 0 where it is above and the anchor is background, -1
    (ignored) elsewhere (and on ignored anchors).

    Args:
        main_scores: (N, R, K) main-classifier probabilities; gt_labels: (N, R) in {-1, 0..K-1, K}.
    """
    high = main_scores > threshold
    classes = torch.arange(main_scores.shape[-1], device=main_scores.device)
    positive = (gt_labels[..., None] == classes) & (gt_labels[..., None] < num_classes)
    background = (gt_labels == num_classes)[..., None].expand_as(high)
    y = torch.full_like(gt_labels[..., None].expand_as(high), -1)
    y = torch.where(high & background, torch.zeros_like(y), y)
    y = torch.where(high & positive, torch.ones_like(y), y)
    return y


class HCAM(nn.Module):
    """``forward(features, bottom_up, main_logits) -> progressive logits`` per level.

    Args:
        level_sources: per pyramid level, the bottom-up feature name whose context it gets, or
            None (no context: P6 / P7).
        source_channels: channels of each named bottom-up feature.
        channels: the pyramid's width.
        num_outputs: A * K of the main classifier (the progressive classifier's outputs).
        threshold / sizes: as :func:`high_confidence_maps`.
    """

    def __init__(self, level_sources: Sequence, source_channels: Dict[str, int], channels: int,
                 num_outputs: int, threshold: float = 0.1, sizes: Sequence[int] = (3, 5),
                 prior_prob: float = 0.01):
        super().__init__()
        self.level_sources = list(level_sources)
        self.threshold = float(threshold)
        self.sizes = [int(n) for n in sizes]
        if not self.sizes:
            raise ValueError("HCAM needs at least one neighbourhood size")
        self.reduce = nn.ModuleDict()
        self.context = nn.ModuleDict()
        for name in sorted({s for s in self.level_sources if s is not None}):
            self.reduce[name] = nn.Conv2d(source_channels[name], channels, 1)
            self.context[name] = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in self.sizes)
        self.classifiers = nn.ModuleList(nn.Conv2d(channels, num_outputs, 3, padding=1) for _ in self.level_sources)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.constant_(m.bias, 0.0)
        bias = -math.log((1 - prior_prob) / prior_prob)
        for c in self.classifiers:
            nn.init.constant_(c.bias, bias)

    def forward(self, features: List[Tensor], bottom_up: Dict[str, Tensor], main_logits: List[Tensor]) -> List[Tensor]:
        if len(features) != len(self.level_sources) or len(main_logits) != len(features):
            raise ValueError(f"HCAM was built for {len(self.level_sources)} levels, got "
                             f"{len(features)} features and {len(main_logits)} logits")
        out = []
        for feat, logits, source, classifier in zip(features, main_logits, self.level_sources, self.classifiers):
            combined = feat
            if source is not None:
                c = self.reduce[source](bottom_up[source])
                if c.shape[-2:] != feat.shape[-2:]:
                    raise ValueError(f"HCAM: {source} is {tuple(c.shape[-2:])}, its level {tuple(feat.shape[-2:])}")
                maps = high_confidence_maps(logits.detach().sigmoid(), self.threshold, self.sizes)
                for conv, m in zip(self.context[source], maps):
                    combined = combined + conv(c) * m
            out.append(classifier(combined))
        return out
