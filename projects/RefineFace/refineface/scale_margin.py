"""Scale-aware Margin Loss (RefineFace Sec. 3.3, Eqs. 3-4).

Eq. 3: y = sigmoid(x - m); Eq. 4: m = alpha / sqrt(w h), w and h the sample's width and height
(its anchor). The margin enters the classification loss only. Which samples get it the paper does
not say; two readings (``MODEL.REFINEFACE.SML.MODE``):

* ``"positives"``: the positive sample's ground-truth class logit becomes x - m (a positive must
  score m above the boundary to reach the loss of an unmargined x);
* ``"symmetric"``: positives x - m and every class logit of a negative sample x + m (a negative
  must stay m below it): the margin on both sides of the decision boundary.
"""
import torch
from torch import Tensor

from .config import SML_MODES

__all__ = ["scale_margins", "apply_scale_margin"]


def scale_margins(boxes: Tensor, alpha: float) -> Tensor:
    """Eq. 4: ``alpha / sqrt(w h)`` of (..., 4) XYXY boxes (degenerate boxes clamped to 1 px^2)."""
    wh = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return alpha / wh.clamp(min=1.0).sqrt()


def apply_scale_margin(logits: Tensor, gt_labels: Tensor, margins: Tensor, num_classes: int, mode: str) -> Tensor:
    """Margined logits for the loss (Eq. 3).

    Args:
        logits: (N, R, K) classification logits.
        gt_labels: (N, R) int64 in {-1 ignored, 0..K-1 face classes, K background}.
        margins: (N, R) or (R,) margin of each sample (:func:`scale_margins` of its anchor).
        mode: "positives" | "symmetric" (module docstring).
    Returns:
        (N, R, K): ``logits`` with -m on each positive's ground-truth class, and with "symmetric"
        +m on every class of each negative; ignored samples unchanged.
    """
    if mode not in SML_MODES:
        raise ValueError(f"MODEL.REFINEFACE.SML.MODE must be one of {SML_MODES}, got {mode!r}")
    if margins.dim() == 1:
        margins = margins.expand_as(gt_labels)
    margins = margins.to(logits.dtype)
    pos = (gt_labels >= 0) & (gt_labels < num_classes)
    k = logits.shape[-1]
    classes = gt_labels.clamp(0, k - 1)
    one_hot = (classes[..., None] == torch.arange(k, device=logits.device)) & pos[..., None]
    shift = -margins[..., None] * one_hot.to(logits.dtype)
    if mode == "symmetric":
        neg = (gt_labels == num_classes)
        shift = shift + margins[..., None] * neg[..., None].to(logits.dtype)
    return logits + shift
