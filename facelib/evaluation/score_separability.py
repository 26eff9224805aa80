"""Face / background separability of detection scores by scale (RefineFace Sec. 3.3, Fig. 5).

RefineFace motivates its scale-aware margin by plotting a trained detector's detections as (scale =
sqrt(w h), score before the sigmoid), faces and background apart: the two overlap more ("the mixed
region") the smaller the scale. :func:`binned_separability` puts numbers on that plot, per scale
bin:

* ``auc``: the probability that a random face detection scores above a random background one
  (Mann-Whitney, ties count one half); 1 = fully separable, 0.5 = indistinguishable;
* ``mixed``: the share of the bin's detections whose logit lies in [the faces' ``low`` quantile,
  the background's ``high`` quantile] (default 5 % / 95 %): the width of the overlap in samples, 0
  when the two ranges do not meet.
"""
from typing import Dict, List, Sequence

import numpy as np

__all__ = ["score_logits", "mann_whitney_auc", "binned_separability"]


def score_logits(scores, eps: float = 1e-6) -> np.ndarray:
    """Sigmoid scores back to logits (clipped to [eps, 1 - eps] first)."""
    p = np.clip(np.asarray(scores, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def mann_whitney_auc(pos, neg) -> float:
    """P(random positive > random negative) + 0.5 P(tie); NaN when either side is empty."""
    pos = np.asarray(pos, dtype=np.float64).reshape(-1)
    neg = np.asarray(neg, dtype=np.float64).reshape(-1)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    neg_sorted = np.sort(neg)
    below = np.searchsorted(neg_sorted, pos, side="left")
    not_above = np.searchsorted(neg_sorted, pos, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (len(pos) * len(neg)))


def binned_separability(scales, logits, is_face, edges: Sequence[float],
                        low: float = 0.05, high: float = 0.95) -> List[Dict]:
    """One row per scale bin ``[edges[i], edges[i+1])`` (the last edge may be ``inf``).

    Args:
        scales: (D,) sqrt(w h) of each detection; logits: (D,) its score before the sigmoid;
        is_face: (D,) bool, True = matched a face (a true positive), False = background.
    Returns:
        dicts with ``bin`` (lo, hi), ``faces``, ``background``, ``auc``, ``mixed`` (module docstring).
    """
    scales = np.asarray(scales, dtype=np.float64).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    is_face = np.asarray(is_face, dtype=bool).reshape(-1)
    if not (len(scales) == len(logits) == len(is_face)):
        raise ValueError(f"scales, logits, is_face differ in length: {len(scales)}, {len(logits)}, {len(is_face)}")
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be at least two increasing values, got {list(edges)}")
    rows = []
    for lo, hi in zip(edges, edges[1:]):
        sel = (scales >= lo) & (scales < hi)
        pos, neg = logits[sel & is_face], logits[sel & ~is_face]
        mixed = float("nan")
        if len(pos) and len(neg):
            a, b = np.quantile(pos, low), np.quantile(neg, high)
            mixed = float(((logits[sel] >= a) & (logits[sel] <= b)).mean()) if a <= b else 0.0
        rows.append({"bin": (lo, hi), "faces": int(len(pos)), "background": int(len(neg)),
                     "auc": mann_whitney_auc(pos, neg), "mixed": mixed})
    return rows
