"""Compactness loss of the generated masks (AOFD Eq. 3).

``L_com = sum | (1 - M) * K |``: ``M`` is the 0/1 RoI mask (1 = feature kept, 0 = dropped), ``*``
a 2-D convolution (zero padding, same size), ``K`` the 3x3 kernel with centre 1 and the eight
neighbours -1/8, and the sum runs over the mask positions of the ABSOLUTE response.

Why the absolute value: ``K`` sums to 0, so the signed response of a dropped set integrates to
(almost exactly) zero whatever its shape -- a 2x2 blob and four isolated pixels both give 0 -- and
could not rank compactness at all. ``|.|`` makes the loss the (weighted) length of the boundary
between dropped and kept positions: a dropped position contributes 1 - (its dropped neighbours)/8,
a kept one (its dropped neighbours)/8, so a compact blob (short boundary) scores LOWER than a
scattered set of the same area (2x2 blob: 5.0; four isolated pixels: 8.0). Zero padding counts
positions outside the RoI as kept, so a region dropped along the RoI border is not penalised for
the border side (occluders that enter from the side are cheap).

Reductions over a batch (``MODEL.AOFD.COMPACT_LOSS_REDUCTION``): ``"mean"`` averages the per-RoI
sums over the RoIs; ``"sum"`` adds them (every RoI and cell); ``"sum_channels"`` also multiplies by
the number C of feature channels the one-channel mask is tiled to (the sum of Eq. 3 over the masked
C x H x W RoI feature, what a Caffe loss layer on that blob sums). With gamma = 1e-6 (Eq. 2) a
7x7 mask's L_com (~10) weighs 1e-5 per RoI under "mean"; the gradient of Eq. 2's two terms on the
generator is compared under the three reductions in docs/results.md.
"""
import torch
import torch.nn.functional as F

__all__ = ["COMPACT_KERNEL", "compact_response", "compact_loss"]

COMPACT_KERNEL = torch.full((3, 3), -1.0 / 8.0)
COMPACT_KERNEL[1, 1] = 1.0


def _as_n1hw(mask: torch.Tensor) -> torch.Tensor:
    if mask.dim() == 2:
        return mask[None, None]
    if mask.dim() == 3:
        return mask[:, None]
    if mask.dim() == 4 and mask.shape[1] == 1:
        return mask
    raise ValueError(f"mask must be (H, W), (N, H, W) or (N, 1, H, W), got {tuple(mask.shape)}")


def compact_response(mask: torch.Tensor) -> torch.Tensor:
    """Signed response ``(1 - mask) * K`` as (N, 1, H, W) (zero padding, same size)."""
    m = _as_n1hw(mask)
    k = COMPACT_KERNEL.to(device=m.device, dtype=m.dtype)[None, None]
    return F.conv2d(1.0 - m, k, padding=1)


def compact_loss(mask: torch.Tensor, reduction: str = "mean", num_channels: int = 1) -> torch.Tensor:
    """L_com (Eq. 3): sum of ``|(1 - mask) * K|`` per RoI, reduced over the RoIs: "mean", "sum",
    "sum_channels" (the sum times ``num_channels``, the channels the mask is tiled to) or "none" (N,)."""
    per_roi = compact_response(mask).abs().flatten(1).sum(dim=1)
    if reduction == "none":
        return per_roi
    if reduction == "sum":
        return per_roi.sum()
    if reduction == "sum_channels":
        return per_roi.sum() * float(num_channels)
    if reduction == "mean":
        return per_roi.mean() if per_roi.numel() else per_roi.sum()
    raise ValueError(f"unknown reduction {reduction!r}")
