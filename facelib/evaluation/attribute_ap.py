"""AP and recall per face attribute value: where a detector wins or loses (occlusion level, blur,
pose, mask, face height, ...).

For a subset of the faces (an attribute value, a height bin), the faces outside the subset are
*ignored*, the mechanism of the official WIDER FACE easy / medium / hard lists: a detection that
matches such a face is neither a hit nor a false positive, so each subset's AP is that of a
benchmark holding only those faces (faces already ignored, e.g. WIDER's ``invalid``, stay ignored).
Matching is :func:`~facelib.evaluation.box_matching.match_image` (greedy, score-ordered VOC rule,
float IoU).

Operating point: one score threshold for all subsets, the lowest score down to which the
detections over *all* faces keep a precision of at least ``precision`` (0.9): the cumulative
precision of the detections ranked by score is computed and the threshold is the score of the
last detection where it is still >= ``precision`` (``inf`` when no prefix reaches it). A subset's
recall at that point is the share of its faces matched by detections scoring at least the
threshold.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .box_matching import ImageMatch, average_precision, match_image

__all__ = [
    "subset_matches",
    "precision_operating_point",
    "recall_at_score",
    "attribute_value",
    "height_bin",
    "subset_breakdown",
]

Selector = Callable[[dict], np.ndarray]


def subset_matches(images: Iterable[Tuple[dict, np.ndarray, np.ndarray]], in_subset: Selector,
                   iou_threshold: float = 0.5, ious: Optional[Sequence[np.ndarray]] = None) -> List[ImageMatch]:
    """Matches of every image, faces outside ``in_subset(rec)`` ((G,) bool) ignored.

    ``images``: ``(rec, boxes_xywh, scores)`` with ``rec`` a
    :func:`~facelib.evaluation.box_matching.load_gt_faces` record (``boxes``, ``ignore``, ...);
    ``ious``: optional per-image ``(D, G)`` overlaps (computed once for many subsets).
    """
    out = []
    for i, (rec, boxes, scores) in enumerate(images):
        sel = np.asarray(in_subset(rec), dtype=bool).reshape(-1)
        if len(sel) != len(rec["boxes"]):
            raise ValueError(f"subset selector returned {len(sel)} flags for {len(rec['boxes'])} faces")
        out.append(match_image(boxes, scores, rec["boxes"], np.asarray(rec["ignore"], bool) | ~sel, iou_threshold,
                               iou=None if ious is None else ious[i]))
    return out


def _ranked(matches: Sequence[ImageMatch]):
    scores = np.concatenate([m.scores for m in matches]) if matches else np.zeros(0)
    tp = np.concatenate([m.tp for m in matches]) if matches else np.zeros(0, bool)
    fp = np.concatenate([m.fp for m in matches]) if matches else np.zeros(0, bool)
    keep = tp | fp
    order = np.argsort(-scores[keep], kind="stable")
    return scores[keep][order], tp[keep][order], fp[keep][order]


def precision_operating_point(matches: Sequence[ImageMatch], precision: float = 0.9) -> float:
    """The score threshold of the module docstring (``inf`` if no ranked prefix reaches it)."""
    if not 0 < precision <= 1:
        raise ValueError(f"precision must be in (0, 1], got {precision}")
    scores, tp, fp = _ranked(matches)
    if len(scores) == 0:
        return float("inf")
    prec = np.cumsum(tp) / (np.cumsum(tp) + np.cumsum(fp))
    ok = np.nonzero(prec >= precision - 1e-12)[0]
    return float(scores[ok[-1]]) if len(ok) else float("inf")


def recall_at_score(matches: Sequence[ImageMatch], threshold: float) -> float:
    """Share of the (non-ignored) faces matched by detections with score >= ``threshold``."""
    num_pos = sum(m.num_pos for m in matches)
    if num_pos == 0:
        return float("nan")
    hits = sum(int((m.tp & (m.scores >= threshold)).sum()) for m in matches)
    return hits / num_pos


def attribute_value(name: str, value) -> Selector:
    """Faces whose ``attributes[name] == value`` (faces without the attribute: not in it)."""
    return lambda rec: np.array([a.get(name) == value for a in rec["attributes"]], dtype=bool)


def height_bin(lo: float, hi: float) -> Selector:
    """Faces of height in [lo, hi) pixels (XYWH boxes of the record)."""
    return lambda rec: (np.asarray(rec["boxes"])[:, 3] >= lo) & (np.asarray(rec["boxes"])[:, 3] < hi)


def subset_breakdown(images: Sequence[Tuple[dict, np.ndarray, np.ndarray]], subsets: Dict[str, Selector],
                     iou_threshold: float = 0.5, precision: float = 0.9) -> Dict:
    """``{"threshold": t, "all": row, "subsets": {name: row}}``, each row ``{"faces", "ap",
    "recall"}`` (AP in [0, 1], NaN without faces; recall at the operating point ``t`` of all faces)."""
    images = list(images)
    everything = subset_matches(images, lambda rec: np.ones(len(rec["boxes"]), bool), iou_threshold)
    t = precision_operating_point(everything, precision)

    def row(matches):
        return {"faces": int(sum(m.num_pos for m in matches)), "ap": average_precision(matches)[0],
                "recall": recall_at_score(matches, t)}

    return {"threshold": t, "all": row(everything),
            "subsets": {name: row(subset_matches(images, sel, iou_threshold)) for name, sel in subsets.items()}}
