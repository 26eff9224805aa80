"""Where a detector's AP goes, in the spirit of TIDE (Bolya et al., ECCV 2020), at one IoU
threshold t (0.5) on float IoU (the official WIDER FACE IoU is rounded; this is not).

Every false positive of the greedy VOC matching (:func:`~facelib.evaluation.box_matching.match_image`)
is one of, by its largest IoU with a non-ignored face:

* ``duplicate``: IoU >= t with a face a higher-scored detection already took;
* ``localisation``: 0.1 <= IoU < t;
* ``background``: IoU < 0.1.

A face is ``missed`` when no detection matched it (by attribute value: :func:`error_breakdown`'s
``subsets``). Each error type's cost is the AP gained by fixing it, the rest unchanged (TIDE's
oracles): duplicates and background false positives are removed; a localisation error gets its
face's box (a fixed detection that then matches no free face is removed); a missed face that no
localisation error points at is removed from the ground truth (ignored). Matching is re-run after
each fix.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .box_matching import average_precision, match_image, pairwise_iou

__all__ = ["ERROR_TYPES", "classify_image", "classify_images", "error_breakdown"]

ERROR_TYPES = ("localisation", "duplicate", "background", "missed")
BACKGROUND_IOU = 0.1


def classify_image(det_boxes, det_scores, gt_boxes, gt_ignore, iou_threshold: float = 0.5, iou=None):
    """One image: ``(match, fp_type, best_face, missed)``: the :class:`ImageMatch`, per detection
    "" (TP / matched an ignored face) or its error type, the index of its best non-ignored face
    (-1 without one), and the (G,) bool missed faces. ``iou``: the ``(D, G)`` overlaps when
    already computed."""
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    gt_ignore = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    if iou is None:
        iou = pairwise_iou(det_boxes, gt_boxes)
    m = match_image(det_boxes, det_scores, gt_boxes, gt_ignore, iou_threshold, iou=iou)
    best = np.full(len(det_boxes), -1)
    best_iou = np.zeros(len(det_boxes))
    if (~gt_ignore).any():
        iou_real = np.where(gt_ignore[None], -1.0, iou)
        best = np.argmax(iou_real, axis=1)
        best_iou = iou_real[np.arange(len(det_boxes)), best]
    kinds = np.full(len(det_boxes), "", dtype=object)
    for d in np.nonzero(m.fp)[0]:
        if best_iou[d] >= iou_threshold:
            kinds[d] = "duplicate"
        elif best_iou[d] >= BACKGROUND_IOU:
            kinds[d] = "localisation"
        else:
            kinds[d] = "background"
    matched = np.zeros(len(gt_boxes), dtype=bool)
    matched[m.gt_index[m.tp]] = True
    missed = ~matched & ~gt_ignore
    return m, kinds, np.where(best_iou > 0, best, -1), missed


def _fixed_matches(classified, fix: Optional[str], iou_threshold: float):
    """The matches of every image with the error type ``fix`` fixed (None: as they are);
    ``classified``: per image ``(rec, boxes, scores, classify_image(...))``."""
    out = []
    for rec, boxes, scores, (m, kinds, best, missed) in classified:
        ignore = np.asarray(rec["ignore"], dtype=bool)
        if fix in ("duplicate", "background"):
            keep = kinds != fix
            out.append(match_image(boxes[keep], scores[keep], rec["boxes"], ignore, iou_threshold))
        elif fix == "localisation":
            loc = kinds == "localisation"
            boxes = boxes.copy()
            boxes[loc] = np.asarray(rec["boxes"], dtype=np.float64)[best[loc]]
            fm = match_image(boxes, scores, rec["boxes"], ignore, iou_threshold)
            keep = ~(loc & fm.fp)  # a fixed box whose face was already taken is removed
            out.append(match_image(boxes[keep], scores[keep], rec["boxes"], ignore, iou_threshold))
        elif fix == "missed":
            pointed = np.zeros(len(missed), dtype=bool)
            pointed[best[(kinds == "localisation") & (best >= 0)]] = True
            out.append(match_image(boxes, scores, rec["boxes"], ignore | (missed & ~pointed), iou_threshold))
        else:
            out.append(m)
    return out


def classify_images(images: Iterable[Tuple[dict, np.ndarray, np.ndarray]], iou_threshold: float = 0.5,
                    ious: Optional[Sequence[np.ndarray]] = None) -> List[Tuple]:
    """Per image ``(rec, boxes, scores, classify_image(...))`` of ``images`` (``(rec, boxes_xywh,
    scores)``); ``ious``: optional per-image ``(D, G)`` overlaps."""
    classified = []
    for i, (rec, boxes, scores) in enumerate(images):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        iou = None if ious is None else ious[i]
        classified.append((rec, boxes, scores,
                           classify_image(boxes, scores, rec["boxes"], rec["ignore"], iou_threshold, iou=iou)))
    return classified


def error_breakdown(images: Iterable[Tuple[dict, np.ndarray, np.ndarray]],
                    subsets: Optional[Dict[str, Callable[[dict], np.ndarray]]] = None,
                    iou_threshold: float = 0.5, classified: Optional[List[Tuple]] = None) -> Dict:
    """``{"ap", "counts": {type: n}, "ap_gain": {type: AP_fixed - AP}, "missed_by": {subset: n}}``
    over ``images`` (``(rec, boxes_xywh, scores)``; AP in [0, 1]); ``subsets`` name face selectors
    ((G,) bool per record) to count the missed faces by; ``classified``: :func:`classify_images`
    of ``images`` when already computed (``images`` is then not read)."""
    if classified is None:
        classified = classify_images(images, iou_threshold)
    counts = {k: 0 for k in ERROR_TYPES}
    missed_by = {name: 0 for name in (subsets or {})}
    for rec, _, _, (_, kinds, _, missed) in classified:
        for k in ("localisation", "duplicate", "background"):
            counts[k] += int((kinds == k).sum())
        counts["missed"] += int(missed.sum())
        for name, sel in (subsets or {}).items():
            missed_by[name] += int((missed & np.asarray(sel(rec), dtype=bool)).sum())
    ap = average_precision(_fixed_matches(classified, None, iou_threshold))[0]
    gain = {k: average_precision(_fixed_matches(classified, k, iou_threshold))[0] - ap for k in ERROR_TYPES}
    return {"ap": ap, "counts": counts, "ap_gain": gain, "missed_by": missed_by}
