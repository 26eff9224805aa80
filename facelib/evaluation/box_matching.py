"""Greedy, score-ordered VOC matching of detections to ground-truth faces, with ignored faces.

The rule is the one of the PASCAL VOC devkit (``VOCevaldet.m``) that the face benchmarks reuse
(the face-eval kit of Mathias et al. ECCV 2014 for AFW / PASCAL Face, the MAFA AP numbers):

* detections of one image are visited from the highest score down (a stable sort: equal scores
  keep their input order);
* each detection takes the face of largest IoU among **all** faces of the image (ignored and
  already-matched ones included, there is no fall-back to the second best face);
* if that IoU passes the threshold (``>=`` as in VOC, or ``>`` with ``strict=True`` as in the
  face-eval kit and FDDB):
    - an ignored face: the detection is neither TP nor FP (dropped from the PR curve, the VOC
      "difficult" rule);
    - a face not matched yet: TP, the face is now matched;
    - a face already matched by a higher-scoring detection: FP (duplicate);
* otherwise FP.

``num_pos`` is the number of non-ignored faces. All boxes are ``XYWH`` absolute pixels, the
format of the dataset dicts and of :class:`~facelib.evaluation.collect.FaceDetectionCollector`.
With ``plus_one=True`` widths/heights and intersections are measured as ``x2 - x1 + 1``
(``x2 = x + w``), the inclusive-pixel convention of the VOC devkit and of the face-eval kit.
"""
from dataclasses import dataclass

import numpy as np

from .voc_ap import voc_ap

__all__ = [
    "false_positives_at_recalls",
    "ImageMatch",
    "xywh_to_xyxy",
    "pairwise_iou",
    "match_image",
    "precision_recall",
    "average_precision",
    "load_gt_faces",
    "gt_faces_from_dicts",
    "align_predictions",
]


def xywh_to_xyxy(boxes):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = boxes.copy()
    out[:, 2:] = boxes[:, :2] + boxes[:, 2:]
    return out


def pairwise_iou(boxes_a, boxes_b, plus_one: bool = False):
    """IoU matrix ``(len(a), len(b))`` of two sets of ``XYWH`` boxes (vectorised).

    ``plus_one``: the inclusive-pixel convention (extent ``x2 - x1 + 1``); overlaps that are
    empty in that convention count as 0.
    """
    a = xywh_to_xyxy(boxes_a)
    b = xywh_to_xyxy(boxes_b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    one = 1.0 if plus_one else 0.0
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + one
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + one
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


@dataclass
class ImageMatch:
    """Matching of one image's detections, in the **input** detection order.

    ``tp`` / ``fp``: bool per detection (both False: matched an ignored face).
    ``gt_index``: the face each detection was assigned to (``-1``: none above the threshold).
    ``num_pos``: non-ignored faces of the image.
    """

    scores: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    gt_index: np.ndarray
    num_pos: int

    @property
    def ignored(self):
        return ~(self.tp | self.fp)


def match_image(
    det_boxes,
    det_scores,
    gt_boxes,
    gt_ignore=None,
    iou_threshold: float = 0.5,
    *,
    strict: bool = False,
    plus_one: bool = False,
    tie_break: str = "first",
    iou=None,
) -> ImageMatch:
    """Greedy VOC matching of one image (see the module docstring).

    Args:
        det_boxes: ``(D, 4)`` XYWH detections; det_scores: ``(D,)``.
        gt_boxes: ``(G, 4)`` XYWH faces; gt_ignore: ``(G,)`` bool, True = ignored face.
        strict: require ``IoU > threshold`` (face-eval kit, FDDB) instead of ``>=`` (VOC).
        plus_one: inclusive-pixel IoU (VOC devkit, face-eval kit).
        tie_break: when two faces share the largest IoU, take the ``"first"`` (Matlab ``max``,
            ``numpy.argmax``) or the ``"last"`` (the face-eval kit's ``>=`` scan) one.
        iou: optional precomputed ``(D, G)`` overlap matrix; replaces the box IoU (``det_boxes``
            and ``gt_boxes`` are then only used for their counts).
    """
    scores = np.asarray(det_scores, dtype=np.float64).reshape(-1)
    num_det = len(scores)
    if iou is None:
        iou = pairwise_iou(det_boxes, gt_boxes, plus_one=plus_one)
    else:
        iou = np.asarray(iou, dtype=np.float64)
        if iou.ndim != 2 or iou.shape[0] != num_det:
            raise ValueError(f"iou must be (num_det={num_det}, num_gt), got shape {iou.shape}")
    num_gt = iou.shape[1]
    if gt_ignore is None:
        gt_ignore = np.zeros(num_gt, dtype=bool)
    gt_ignore = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    if len(gt_ignore) != num_gt:
        raise ValueError(f"gt_ignore has {len(gt_ignore)} entries for {num_gt} faces")
    if tie_break not in ("first", "last"):
        raise ValueError(f"tie_break must be 'first' or 'last', got {tie_break!r}")

    tp = np.zeros(num_det, dtype=bool)
    fp = np.zeros(num_det, dtype=bool)
    gt_index = np.full(num_det, -1, dtype=np.int64)
    num_pos = int((~gt_ignore).sum())
    if num_det == 0:
        return ImageMatch(scores, tp, fp, gt_index, num_pos)
    if num_gt == 0:
        fp[:] = True
        return ImageMatch(scores, tp, fp, gt_index, num_pos)

    # Best face of every detection, vectorised; only the "already matched" bookkeeping is sequential.
    if tie_break == "first":
        best = np.argmax(iou, axis=1)
    else:
        best = num_gt - 1 - np.argmax(iou[:, ::-1], axis=1)
    best_iou = iou[np.arange(num_det), best]
    passes = best_iou > iou_threshold if strict else best_iou >= iou_threshold
    gt_index[passes] = best[passes]
    fp[~passes] = True

    order = np.argsort(-scores, kind="stable")
    matched = np.zeros(num_gt, dtype=bool)
    for d in order[passes[order]]:
        g = best[d]
        if gt_ignore[g]:
            continue
        if matched[g]:
            fp[d] = True
        else:
            tp[d] = True
            matched[g] = True
    return ImageMatch(scores, tp, fp, gt_index, num_pos)


def _cumulative(matches):
    """``(tp_cum, fp_cum, scores, num_pos)`` over all images' detections sorted by score (stable:
    equal scores keep the image order, then the in-image order); detections that matched an
    ignored face are left out."""
    matches = list(matches)
    num_pos = int(sum(m.num_pos for m in matches))
    if not matches:
        empty = np.zeros(0, dtype=np.float64)
        return empty, empty, empty, num_pos
    scores = np.concatenate([m.scores for m in matches])
    tp = np.concatenate([m.tp for m in matches])
    fp = np.concatenate([m.fp for m in matches])
    keep = tp | fp
    scores, tp, fp = scores[keep], tp[keep], fp[keep]
    order = np.argsort(-scores, kind="stable")
    return np.cumsum(tp[order]).astype(np.float64), np.cumsum(fp[order]).astype(np.float64), scores[order], num_pos


def precision_recall(matches):
    """Global PR curve over images: ``(recall, precision, scores, num_pos)`` (order and ignored
    detections as :func:`_cumulative`)."""
    tp_cum, fp_cum, scores, num_pos = _cumulative(matches)
    recall = tp_cum / num_pos if num_pos > 0 else np.zeros_like(tp_cum)
    denom = tp_cum + fp_cum
    precision = np.divide(tp_cum, denom, out=np.zeros_like(tp_cum), where=denom > 0)
    return recall, precision, scores, num_pos


def average_precision(matches):
    """VOC AP (precision envelope, :func:`~facelib.evaluation.voc_ap.voc_ap`) over images.

    Returns ``(ap, recall, precision)``; ``ap`` is NaN when there is no positive face.
    """
    recall, precision, _, num_pos = precision_recall(matches)
    if num_pos == 0:
        return float("nan"), recall, precision
    return voc_ap(recall, precision), recall, precision


def false_positives_at_recalls(matches, recalls):
    """Number of false positives above the score where the global recall first reaches each of
    ``recalls`` (fractions in (0, 1]); NaN for a recall the detections never reach (RefineFace
    Table 5's "# FP at recall")."""
    tp_cum, fp_cum, _, num_pos = _cumulative(matches)
    out = []
    for r in recalls:
        if not 0 < r <= 1:
            raise ValueError(f"recall levels are fractions in (0, 1], got {r}")
        hit = np.nonzero(tp_cum >= r * num_pos - 1e-9)[0] if num_pos > 0 else []
        out.append(float(fp_cum[hit[0]]) if len(hit) else float("nan"))
    return out


def load_gt_faces(dataset_name: str):
    """Ground truth of a registered dataset: ``{image_id: dict}`` with

    ``boxes`` ``(G, 4)`` XYWH float64, ``ignore`` / ``masked`` ``(G,)`` bool, ``attributes``
    (list of dicts), ``height`` / ``width`` / ``file_name`` (None when absent). Annotations in any ``bbox_mode``
    are converted to ``XYWH_ABS``; ``iscrowd`` faces count as ignored.
    """
    from detectron2.data import DatasetCatalog

    return gt_faces_from_dicts(DatasetCatalog.get(dataset_name), dataset_name)


def gt_faces_from_dicts(dataset_dicts, dataset_name: str = ""):
    """:func:`load_gt_faces` of a list of detectron2 dataset dicts."""
    from detectron2.structures import BoxMode

    gt = {}
    for d in dataset_dicts:
        anns = d.get("annotations", []) or []
        boxes = np.zeros((len(anns), 4), dtype=np.float64)
        ignore = np.zeros(len(anns), dtype=bool)
        masked = np.zeros(len(anns), dtype=bool)
        attrs = []
        for i, a in enumerate(anns):
            mode = a.get("bbox_mode", BoxMode.XYWH_ABS)
            boxes[i] = BoxMode.convert(list(a["bbox"]), mode, BoxMode.XYWH_ABS)
            ignore[i] = bool(a.get("ignore", 0)) or bool(a.get("iscrowd", 0))
            masked[i] = bool(a.get("masked", False))
            attrs.append(a.get("attributes") or {})
        image_id = d.get("image_id", d.get("file_name"))
        if image_id in gt:
            raise ValueError(f"dataset {dataset_name!r} has the image_id {image_id!r} twice")
        gt[image_id] = {
            "boxes": boxes,
            "ignore": ignore,
            "masked": masked,
            "attributes": attrs,
            "height": d.get("height"),
            "width": d.get("width"),
            "file_name": d.get("file_name"),
        }
    return gt


def align_predictions(gt, predictions, logger=None, dataset_name=""):
    """Yield ``(image_id, gt_record, boxes_xywh, scores)`` for every ground-truth image.

    Images without predictions get zero detections (their faces stay missed); predictions for
    images unknown to the dataset are left out. Both counts are logged at WARNING level.
    """
    empty_boxes = np.zeros((0, 4), dtype=np.float64)
    empty_scores = np.zeros(0, dtype=np.float64)
    missing = [k for k in gt if k not in predictions]
    extra = [k for k in predictions if k not in gt]
    if logger is not None and missing:
        logger.warning(
            f"{dataset_name}: {len(missing)} of {len(gt)} images have no predictions; "
            "they count as images with zero detections"
        )
    if logger is not None and extra:
        logger.warning(f"{dataset_name}: {len(extra)} predicted images are not in the dataset; left out")
    for image_id, rec in gt.items():
        if image_id in predictions:
            boxes, scores = predictions[image_id]
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        else:
            boxes, scores = empty_boxes, empty_scores
        yield image_id, rec, boxes, scores
