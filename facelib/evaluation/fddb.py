"""FDDB discrete ROC (Jain & Learned-Miller, "FDDB: A Benchmark for Face Detection in
Unconstrained Settings", UMass tech. report 2010), the protocol papers report as TPR at 1,000
false positives.

What the official tool (``evaluation/evaluate.cpp``, ``Matching.cpp``, ``Results.cpp``) does, and
what this module reproduces:

* faces are ellipses ``(major_axis_radius, minor_axis_radius, angle, center_x, center_y)``;
  detections are rectangles;
* the overlap of a (face, detection) pair is the intersection over union of their **rasterised
  regions**: the filled ellipse and the filled rectangle are drawn into image-sized masks and
  the pixels counted (so both are clipped to the image);
* for every unique detection score ``s`` of an image, the detections with score ``>= s`` are
  matched one-to-one to the faces by the Hungarian algorithm **maximising the sum of the raw
  overlaps** (pairs below 0.5 included); a matched pair with overlap ``> 0.5`` is a true
  positive ("discrete score"), every other kept detection is a false positive;
* the per-image counts are summed over images at every threshold (a global score sweep) and
  written, from the lowest threshold up, as ``DiscROC.txt`` lines ``"<TP/N> <FP> <threshold>"``.

Overlap here (``match=``, config key ``TEST.FDDB.MATCH``):
    ``"ellipse"`` (default): the official region overlap: the ellipse and the rectangle
    rasterised at pixel centres ``(x + 0.5, y + 0.5)`` over the image. The image size is the
    dict's ``height`` / ``width`` or, where those are absent (FDDB's annotation files carry no
    sizes), read from the header of the image file ``file_name``. An image with neither falls
    back to the ``"box"`` overlap (one warning gives their count). Boundary pixels may differ
    from OpenCV's drawing by one pixel.
    ``"box"``: IoU of the detection with the ellipse's axis-aligned bounding box, both clipped
    to the image when its size is in the dict. Fast; an approximation of the official numbers
    (an ellipse fills pi/4 of its box).

Ellipses come from each annotation's ``attributes``: either ``"ellipse": [major, minor, angle,
cx, cy]`` or the keys ``major_axis_radius``, ``minor_axis_radius``, ``angle``, ``center_x``,
``center_y`` (FDDB's ``ellipseList.txt`` order and names, angle in radians). Without them the
annotation ``bbox`` is used as the face box (``"box"`` mode only; ``"ellipse"`` raises).

Reported: ``TPR@<n>FP`` (percent) for ``fp_points`` (default 1000): the highest TPR among the ROC
points with at most ``n`` false positives. The full ROC is kept in ``self.roc`` (``tpr``, ``fp``,
``thresholds`` from the lowest threshold up) and written to ``<output_dir>/DiscROC.txt``.
"""
import math
import os
from collections import OrderedDict

import numpy as np
from detectron2.utils.logger import create_small_table
from scipy.optimize import linear_sum_assignment

from .box_matching import align_predictions, load_gt_faces, pairwise_iou
from .collect import FaceDetectionCollector

__all__ = [
    "ellipse_params",
    "ellipse_bbox",
    "ellipse_rect_iou",
    "image_roc_steps",
    "discrete_roc",
    "tpr_at_fp",
    "write_disc_roc",
    "FDDBEvaluator",
]

_ELLIPSE_KEYS = ("major_axis_radius", "minor_axis_radius", "angle", "center_x", "center_y")


def ellipse_params(attributes):
    """``(major, minor, angle, cx, cy)`` from an annotation's ``attributes``, or None."""
    if not attributes:
        return None
    if "ellipse" in attributes:
        e = [float(v) for v in attributes["ellipse"]]
        if len(e) != 5:
            raise ValueError(f"attributes['ellipse'] must hold 5 numbers, got {attributes['ellipse']}")
        return tuple(e)
    if all(k in attributes for k in _ELLIPSE_KEYS):
        return tuple(float(attributes[k]) for k in _ELLIPSE_KEYS)
    return None


def ellipse_bbox(major, minor, angle, cx, cy):
    """Axis-aligned bounding box ``[x, y, w, h]`` of a rotated ellipse."""
    c, s = math.cos(angle), math.sin(angle)
    hw = math.sqrt((major * c) ** 2 + (minor * s) ** 2)
    hh = math.sqrt((major * s) ** 2 + (minor * c) ** 2)
    return [cx - hw, cy - hh, 2 * hw, 2 * hh]


def _ellipse_mask(ellipse, height, width):
    """Pixels (centres at +0.5) inside the filled ellipse. FDDB's angle is counter-clockwise from
    the x axis with y up (the tool draws it with OpenCV at ``180 - angle`` degrees, y down)."""
    major, minor, angle, cx, cy = ellipse
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5 - cy
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5 - cx
    c, s = math.cos(angle), math.sin(angle)
    u = xs * c - ys * s  # along the major axis (image y points down)
    v = xs * s + ys * c
    return (u / max(major, 1e-12)) ** 2 + (v / max(minor, 1e-12)) ** 2 <= 1.0


def _rect_axes(box_xywh, height, width):
    """Separable pixel-centre membership of a rectangle: ``(in_y (H,), in_x (W,))``."""
    x, y, w, h = box_xywh
    xs = np.arange(width, dtype=np.float64) + 0.5
    ys = np.arange(height, dtype=np.float64) + 0.5
    return (ys >= y) & (ys < y + h), (xs >= x) & (xs < x + w)


def ellipse_rect_iou(ellipses, det_boxes, height, width):
    """``(D, G)`` region IoU of rasterised rectangles (XYWH) and ellipses over an image."""
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    out = np.zeros((len(det_boxes), len(ellipses)), dtype=np.float64)
    if len(det_boxes) == 0 or len(ellipses) == 0:
        return out
    height, width = int(height), int(width)
    e_masks = [_ellipse_mask(e, height, width) for e in ellipses]
    e_areas = [int(np.count_nonzero(m)) for m in e_masks]
    for d, box in enumerate(det_boxes):
        in_y, in_x = _rect_axes(box, height, width)
        ys, xs = np.nonzero(in_y)[0], np.nonzero(in_x)[0]
        r_area = len(ys) * len(xs)
        for g, em in enumerate(e_masks):
            inter = int(np.count_nonzero(em[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1])) if r_area else 0
            union = r_area + e_areas[g] - inter
            out[d, g] = inter / union if union > 0 else 0.0
    return out


def _clip_xywh(boxes, height, width):
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1 = np.clip(b[:, 0], 0, width)
    y1 = np.clip(b[:, 1], 0, height)
    x2 = np.clip(b[:, 0] + b[:, 2], 0, width)
    y2 = np.clip(b[:, 1] + b[:, 3], 0, height)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def _discrete_tp(iou_sub, iou_threshold):
    """Official matching of the kept detections: max-weight assignment on raw overlaps, then
    count the assigned pairs above the threshold."""
    if iou_sub.size == 0:
        return 0
    rows, cols = linear_sum_assignment(iou_sub, maximize=True)
    return int(np.count_nonzero(iou_sub[rows, cols] > iou_threshold))


def image_roc_steps(iou, scores, iou_threshold=0.5):
    """Per-image ROC steps: ``(thresholds_desc, d_tp, d_det)``.

    ``iou``: ``(D, G)`` overlaps, ``scores``: ``(D,)``. At each unique score ``s`` (descending)
    the detections with score ``>= s`` are re-matched; ``d_tp`` / ``d_det`` are the increments of
    the true-positive and kept-detection counts relative to the previous (higher) threshold.
    The Hungarian step is re-run only when the newly kept detections overlap some face (a
    detection that overlaps no face cannot change the assignment's true positives).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    iou = np.asarray(iou, dtype=np.float64)
    if iou.ndim != 2 or iou.shape[0] != len(scores):
        raise ValueError(f"iou must be (num_det={len(scores)}, num_faces), got shape {iou.shape}")
    if len(scores) == 0:
        z = np.zeros(0)
        return z, z.astype(np.int64), z.astype(np.int64)
    uniq = np.unique(scores)[::-1]
    overlaps_any = (iou > 0).any(axis=1) if iou.shape[1] else np.zeros(len(scores), dtype=bool)
    d_tp = np.zeros(len(uniq), dtype=np.int64)
    d_det = np.zeros(len(uniq), dtype=np.int64)
    prev_tp = 0
    prev_det = 0
    for k, s in enumerate(uniq):
        keep = scores >= s
        n = int(keep.sum())
        new = keep & (scores == s)
        if overlaps_any[new].any():
            tp = _discrete_tp(iou[keep & overlaps_any], iou_threshold)
        else:
            tp = prev_tp
        d_tp[k] = tp - prev_tp
        d_det[k] = n - prev_det
        prev_tp, prev_det = tp, n
    return uniq, d_tp, d_det


def discrete_roc(steps, num_faces):
    """Sum per-image steps into the global ROC: ``(tpr, fp, thresholds)`` from the lowest
    threshold up (the ``DiscROC.txt`` order). ``steps``: iterable of :func:`image_roc_steps`."""
    steps = [s for s in steps if len(s[0])]
    if not steps:
        z = np.zeros(0)
        return z, z, z
    thr = np.concatenate([s[0] for s in steps])
    dtp = np.concatenate([s[1] for s in steps])
    ddet = np.concatenate([s[2] for s in steps])
    uniq, inv = np.unique(thr, return_inverse=True)  # ascending
    tp_at = np.bincount(inv, weights=dtp, minlength=len(uniq))
    det_at = np.bincount(inv, weights=ddet, minlength=len(uniq))
    # counts at threshold t = sum of increments at thresholds >= t
    tp = np.cumsum(tp_at[::-1])[::-1]
    det = np.cumsum(det_at[::-1])[::-1]
    fp = det - tp
    tpr = tp / num_faces if num_faces > 0 else np.zeros_like(tp)
    return tpr, fp, uniq


def tpr_at_fp(tpr, fp, max_fp):
    """Highest TPR among ROC points with ``fp <= max_fp`` (0 when none)."""
    tpr = np.asarray(tpr, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    ok = fp <= max_fp
    return float(tpr[ok].max()) if ok.any() else 0.0


def write_disc_roc(path, tpr, fp, thresholds):
    """``DiscROC.txt`` in the official layout: ``"<tpr> <fp> <threshold>"`` per line."""
    with open(path, "w") as f:
        for t, n, s in zip(tpr, fp, thresholds):
            f.write(f"{float(t):.6g} {int(round(n))} {float(s):.6g}\n")


def _header_size(file_name):
    """``(height, width)`` from the image file's header, or None when it cannot be read."""
    if not file_name:
        return None
    from facelib.data.datasets.common import read_image_size

    try:
        return read_image_size(file_name)
    except OSError:
        return None


class FDDBEvaluator(FaceDetectionCollector):
    """FDDB discrete ROC; results ``{"fddb": {"TPR@1000FP": ..}}`` (percent).

    Args:
        dataset_name: registered FDDB dataset (one image per dict, ellipses in ``attributes``).
        output_dir: when given, ``DiscROC.txt`` is written there.
        match: ``"ellipse"`` (default, the official region overlap) or ``"box"`` (the
            bounding-box approximation), see above.
        fp_points: false-positive counts at which the TPR is reported.
        iou_threshold: 0.5 (a pair counts when its overlap is ``> 0.5``, as in the tool).
    """

    TASK = "fddb"

    def __init__(
        self,
        dataset_name,
        output_dir=None,
        match="ellipse",
        fp_points=(1000,),
        iou_threshold=0.5,
        distributed=True,
    ):
        if match not in ("box", "ellipse"):
            raise ValueError(f"match must be 'box' or 'ellipse', got {match!r}")
        self._output_dir = output_dir
        self._match = match
        self._fp_points = tuple(int(n) for n in fp_points)
        self._iou_threshold = float(iou_threshold)
        self.roc = None
        super().__init__(dataset_name, distributed=distributed)

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir=None, distributed=True):
        """Build from the ``TEST.FDDB`` keys of :func:`facelib.config.add_facelib_config`."""
        return cls(dataset_name, output_dir=output_dir, match=cfg.TEST.FDDB.MATCH,
                   distributed=distributed)

    def _ellipses(self, rec):
        ellipses = [ellipse_params(a) for a in rec["attributes"]]
        if self._match == "ellipse" and any(e is None for e in ellipses):
            raise ValueError(
                f"{self._dataset_name}: match='ellipse' needs the ellipse parameters in every "
                "annotation's attributes (keys " + ", ".join(_ELLIPSE_KEYS) + "); "
                "match='box' (TEST.FDDB.MATCH) uses the annotation boxes instead"
            )
        return ellipses

    @staticmethod
    def _box_overlaps(rec, boxes, ellipses):
        gt_boxes = np.array(
            [ellipse_bbox(*e) if e is not None else list(b) for e, b in zip(ellipses, rec["boxes"])],
            dtype=np.float64,
        ).reshape(-1, 4)
        h, w = rec["height"], rec["width"]
        if h is not None and w is not None:
            gt_boxes = _clip_xywh(gt_boxes, h, w)
            boxes = _clip_xywh(boxes, h, w)
        return pairwise_iou(boxes, gt_boxes)

    def evaluate_predictions(self, predictions):
        gt = load_gt_faces(self._dataset_name)
        num_faces = 0
        num_box_fallback = 0
        steps = []
        aligned = align_predictions(gt, predictions, self._logger, self._dataset_name)
        for _, rec, boxes, scores in aligned:
            num_faces += len(rec["boxes"])
            ellipses = self._ellipses(rec)
            size = None
            if self._match == "ellipse":
                if rec["height"] is not None and rec["width"] is not None:
                    size = (rec["height"], rec["width"])
                else:
                    size = _header_size(rec["file_name"])
                    num_box_fallback += int(size is None)
            if size is not None:
                iou = ellipse_rect_iou(ellipses, boxes, *size)
            else:
                iou = self._box_overlaps(rec, boxes, ellipses)
            steps.append(image_roc_steps(iou, scores, self._iou_threshold))
        if num_box_fallback:
            self._logger.warning(
                f"{self._dataset_name}: {num_box_fallback} of {len(gt)} images have no height/width "
                "and no readable image file; their overlaps use the box approximation (match='box')"
            )
        tpr, fp, thresholds = discrete_roc(steps, num_faces)
        self.roc = {"tpr": tpr, "fp": fp, "thresholds": thresholds, "num_faces": num_faces}

        res = OrderedDict()
        for n in self._fp_points:
            res[f"TPR@{n}FP"] = 100.0 * tpr_at_fp(tpr, fp, n)
        self._logger.info(
            f"FDDB discrete ROC of {self._dataset_name} ({len(gt)} images, {num_faces} faces, "
            f"match={self._match}):\n" + create_small_table(res)
        )
        if self._output_dir:
            os.makedirs(self._output_dir, exist_ok=True)
            write_disc_roc(os.path.join(self._output_dir, "DiscROC.txt"), tpr, fp, thresholds)
        return {self.TASK: res}
