"""MAFA (Ge et al., "Detecting Masked Faces in the Wild with LLE-CNNs", CVPR 2017) and face-mask
set evaluation: VOC AP at IoU 0.5 under the protocols the occluded-face papers report.

MAFA test labels give every face a ``face_type``: 1 masked, 2 unmasked, 3 invalid. The loaders
turn type 3 into ``ignore=1`` and type 1 into ``masked=True`` (``docs/data_format.md``).

Protocols (``AP_<name>`` in the results, percent). Every face is, per protocol, a **positive**,
an **ignored** face (a detection matched to it is neither TP nor FP,
:func:`facelib.evaluation.box_matching.match_image`) or **background** (left out of the ground
truth, like an unlabeled face: a detection on it is a FP unless it matches another face):

``masked``  ("masked only", ignoring unmasked faces)
    positives: masked faces with ``ignore=0``; unmasked and ``ignore=1`` faces are ignored.
    The LLE-CNN protocol (Ge et al. 2017 report 76.4 AP on the MAFA test set) and the
    "occluded" column of FAN (Wang, Yuan, Yu, "Face Attention Network", 2017, Table 3: 76.5 with
    attention, 75.5 without).
``masked_strict``  ("'masked' only" of AOFD)
    positives: masked faces with ``ignore=0``; unmasked faces are background, so detections of
    them are FPs; ``ignore=1`` faces stay ignored. The rule of AOFD (Chen, Song, He, "Adversarial
    Occlusion-aware Face Detection", BTAS 2018, Sec. 4.2, Table 1 "'masked' only": 83.5 for AOFD,
    beside FAN's 76.5), where "unmasked and unlabeled face detections ... are regarded as FPs
    when evaluating masked faces". AOFD does not say how its 'Ignored' faces enter this column;
    facelib keeps them ignored, as the protocols that leave face_type 3 out do: they are
    labeled faces (blurry, deformed or under 32 pixels, Sec. 4.2), not unlabeled ones.
``all``  ("without 'Ignored'", the whole test set minus face_type 3)
    positives: every face with ``ignore=0`` (masked and unmasked); ``ignore=1`` faces are ignored.
    FAN's "all" column (Table 3: 88.3 with attention, 87.0 without; Table 6 lists 88.3 as FAN's
    MAFA test mAP beside LLE-CNNs 76.4 and AOFD 77.3); AOFD Table 1 "w/o 'Ignored'" (91.9).
``all_with_ignored``
    positives: every face, ``ignore=1`` included, nothing ignored: the whole test set, as in
    AOFD's Table 1 "All" column (81.3), which the paper does not define further.

Box shape: MAFA's boxes are (nearly) square, while detectors trained on WIDER FACE predict
boxes about 0.8 as wide as tall. With ``square="max"`` (the MAFA default) every **prediction** is
replaced, before matching, by the square of side ``max(w, h)`` with the same centre: the
smallest square that contains the predicted box, i.e. the face height for a WIDER-style box,
which is what the MAFA square spans (forehead to chin). ``square="sqrt"`` uses the
area-preserving side ``sqrt(w * h)`` instead; ``square=None`` keeps the boxes. AOFD (Sec. 4.2)
transforms its rectangles into squares without stating how; the other papers do not state
their conversion, so both are offered; ``max`` is facelib's choice. Ground-truth boxes are
never changed.

The face-mask set (evaluator_type ``facemask``) uses :class:`FaceMaskEvaluator`: protocols
``all`` and ``masked`` by default (``masked_strict`` on request) with the same definitions and
no squaring (its boxes are free-form).
"""
import os
from collections import OrderedDict

import numpy as np
from detectron2.utils.logger import create_small_table

from .box_matching import (
    align_predictions,
    average_precision,
    false_positives_at_recalls,
    load_gt_faces,
    match_image,
    pairwise_iou,
)
from .collect import FaceDetectionCollector

__all__ = [
    "square_boxes",
    "protocol_flags",
    "match_protocol",
    "MAFAEvaluator",
    "FaceMaskEvaluator",
    "MASK_PROTOCOLS",
]

MASK_PROTOCOLS = ("all", "masked", "all_with_ignored", "masked_strict")


def square_boxes(boxes_xywh, mode="max"):
    """Squares with the centres of ``boxes_xywh`` and side ``max(w, h)`` (``"max"``) or
    ``sqrt(w * h)`` (``"sqrt"``); ``None`` returns a copy unchanged."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4).copy()
    if mode is None:
        return boxes
    w, h = boxes[:, 2], boxes[:, 3]
    if mode == "max":
        side = np.maximum(w, h)
    elif mode == "sqrt":
        side = np.sqrt(np.clip(w, 0, None) * np.clip(h, 0, None))
    else:
        raise ValueError(f"square must be 'max', 'sqrt' or None, got {mode!r}")
    cx = boxes[:, 0] + w / 2.0
    cy = boxes[:, 1] + h / 2.0
    return np.stack([cx - side / 2.0, cy - side / 2.0, side, side], axis=1)


def protocol_flags(protocol, ignore, masked):
    """Per-face ``(positive, ignored)`` bool arrays for one protocol (see the module docstring).

    Faces that are neither (the unmasked faces of ``masked_strict``) are background: they are
    left out of the ground truth before matching (:func:`match_protocol`).
    """
    ignore = np.asarray(ignore, dtype=bool)
    masked = np.asarray(masked, dtype=bool)
    if protocol == "all":
        positive = ~ignore
    elif protocol in ("masked", "masked_strict"):
        positive = masked & ~ignore
    elif protocol == "all_with_ignored":
        positive = np.ones_like(ignore)
    else:
        raise ValueError(f"unknown protocol {protocol!r}; known: {MASK_PROTOCOLS}")
    ignored = ignore & ~positive if protocol == "masked_strict" else ~positive
    return positive, ignored


def match_protocol(protocol, boxes, scores, rec, iou=None, iou_threshold=0.5):
    """:func:`~facelib.evaluation.box_matching.match_image` of one image under ``protocol``.

    ``boxes`` / ``scores``: the image's XYWH detections; ``rec``: its
    :func:`~facelib.evaluation.box_matching.load_gt_faces` record; ``iou``: optional precomputed
    ``(D, G)`` overlaps. Background faces are dropped from the ground truth, so a detection takes
    the best of the remaining faces; ``gt_index`` refers to ``rec``'s faces.
    """
    if iou is None:
        iou = pairwise_iou(boxes, rec["boxes"])
    positive, ignored = protocol_flags(protocol, rec["ignore"], rec["masked"])
    keep = positive | ignored
    if keep.all():
        return match_image(boxes, scores, rec["boxes"], ignored, iou_threshold, iou=iou)
    kept = np.flatnonzero(keep)
    m = match_image(boxes, scores, rec["boxes"][kept], ignored[kept], iou_threshold, iou=iou[:, kept])
    if len(kept):
        m.gt_index = np.where(m.gt_index >= 0, kept[np.clip(m.gt_index, 0, None)], -1)
    return m


class MAFAEvaluator(FaceDetectionCollector):
    """VOC AP of the MAFA protocols; results ``{"mafa": {"AP_all": .., "AP_masked": .., ...}}``.

    Args:
        dataset_name: a registered dataset whose dicts carry ``ignore`` / ``masked``.
        output_dir: when given, ``<task>_pr.npz`` (recall / precision per protocol) is written
            there with the PR-curve figure ``<task>_pr.png``.
        protocols: subset of ``("all", "masked", "all_with_ignored", "masked_strict")``
            (default: all four, in that order).
        square: ``"max"`` (default), ``"sqrt"`` or ``None``: see the module docstring.
        iou_threshold: 0.5 (VOC ``>=`` rule); the ``AP_<protocol>`` results.
        extra_iou_thresholds: further thresholds, reported as ``AP_<protocol>@<t>``.
        fp_at_recalls: recall levels (fractions) at which the number of false positives is
            reported, ``FP@<r>_<protocol>`` (at ``iou_threshold``).
    """

    TASK = "mafa"
    DEFAULT_PROTOCOLS = MASK_PROTOCOLS
    DEFAULT_SQUARE = "max"

    _UNSET = object()

    def __init__(
        self,
        dataset_name,
        output_dir=None,
        protocols=None,
        square=_UNSET,
        iou_threshold=0.5,
        extra_iou_thresholds=(),
        fp_at_recalls=(),
        distributed=True,
    ):
        self._output_dir = output_dir
        self._protocols = tuple(protocols) if protocols is not None else tuple(self.DEFAULT_PROTOCOLS)
        for p in self._protocols:
            if p not in MASK_PROTOCOLS:
                raise ValueError(f"unknown protocol {p!r}; known: {MASK_PROTOCOLS}")
        self._square = self.DEFAULT_SQUARE if square is self._UNSET else square
        if self._square not in ("max", "sqrt", None):
            raise ValueError(f"square must be 'max', 'sqrt' or None, got {self._square!r}")
        self._iou_threshold = float(iou_threshold)
        self._extra_iou_thresholds = [float(t) for t in extra_iou_thresholds]
        self._fp_at_recalls = [float(r) for r in fp_at_recalls]
        self.pr_curves = {}
        super().__init__(dataset_name, distributed=distributed)

    def evaluate_predictions(self, predictions):
        gt = load_gt_faces(self._dataset_name)
        thresholds = [self._iou_threshold] + self._extra_iou_thresholds
        per_threshold = {t: {p: [] for p in self._protocols} for t in thresholds}
        for _, rec, boxes, scores in align_predictions(gt, predictions, self._logger, self._dataset_name):
            boxes = square_boxes(boxes, self._square)
            iou = pairwise_iou(boxes, rec["boxes"])
            for t in thresholds:
                for p in self._protocols:
                    per_threshold[t][p].append(match_protocol(p, boxes, scores, rec, iou, t))
        per_protocol = per_threshold[self._iou_threshold]

        res = OrderedDict()
        counts = {}
        self.pr_curves = {}
        for p in self._protocols:
            ap, recall, precision = average_precision(per_protocol[p])
            counts[p] = int(sum(m.num_pos for m in per_protocol[p]))
            if counts[p] == 0:
                self._logger.warning(f"{self._dataset_name}: protocol {p!r} has no positive face; AP is NaN")
            res[f"AP_{p}"] = 100.0 * ap
            self.pr_curves[p] = (recall, precision)
        for t in self._extra_iou_thresholds:
            for p in self._protocols:
                res[f"AP_{p}@{t:g}"] = 100.0 * average_precision(per_threshold[t][p])[0]
        fps = {p: false_positives_at_recalls(per_protocol[p], self._fp_at_recalls) for p in self._protocols}
        for i, r in enumerate(self._fp_at_recalls):
            for p in self._protocols:
                res[f"FP@{r:g}_{p}"] = fps[p][i]

        self._logger.info(
            f"{self.TASK} evaluation of {self._dataset_name} ({len(gt)} images, IoU {self._iou_threshold}, "
            f"square={self._square}, positives per protocol {counts}):\n" + create_small_table(res)
        )
        self._write_outputs(res)
        return {self.TASK: res}

    def _write_outputs(self, res):
        if not self._output_dir:
            return
        os.makedirs(self._output_dir, exist_ok=True)
        arrays = {}
        for p, (recall, precision) in self.pr_curves.items():
            arrays[f"{p}_recall"] = recall
            arrays[f"{p}_precision"] = precision
        np.savez(os.path.join(self._output_dir, f"{self.TASK}_pr.npz"), **arrays)
        try:
            from .plots import save_pr_curves

            save_pr_curves(
                os.path.join(self._output_dir, f"{self.TASK}_pr.png"),
                [(f"{p} (AP {res[f'AP_{p}']:.2f})", r, pr) for p, (r, pr) in self.pr_curves.items()],
                title=f"{self._dataset_name} (square={self._square})",
            )
        except Exception as e:  # a figure never fails an evaluation
            self._logger.warning(f"{self.TASK}: PR-curve figure not written: {e}")


class FaceMaskEvaluator(MAFAEvaluator):
    """The face-mask set (evaluator_type ``facemask``): ``AP_all`` and ``AP_masked``, no squaring
    (``protocols=`` adds e.g. ``"masked_strict"``).

    Results ``{"facemask": {"AP_all": .., "AP_masked": ..}}``.
    """

    TASK = "facemask"
    DEFAULT_PROTOCOLS = ("all", "masked")
    DEFAULT_SQUARE = None
