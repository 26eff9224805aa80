"""AFW and PASCAL Face AP with the rules of the face-eval kit of Mathias, Benenson, Pedersoli and
Van Gool ("Face detection without bells and whistles", ECCV 2014; ``plot_AP.py`` / ``VOCpr.py``
/ ``database.py``), the kit the AFW / PASCAL Face numbers of later papers come from.

The kit's rules, reproduced here (each a constructor argument, defaults = the kit):

1. **Ignored faces** (``recti[5] == 1`` in the kit): faces flagged ``ignore`` in the (re-)annotation,
   plus every face narrower or shorter than ``min_face_size`` = 30 px (``--minw/--minh``,
   measured as ``x2 - x1``). A detection whose best face is ignored is neither TP nor FP; ignored
   faces do not count in the number of positives.
2. **Small detections** are dropped before matching: a detection is kept when its width or its
   height exceeds ``int(sqrt(0.5 * 30 * 30)) = 21`` px (``filterdet``).
3. **Matching**: detections sorted by score over the whole set; each takes the face of largest
   overlap among all faces of its image (on equal overlaps the later face, the kit's ``>=``
   scan); overlap is the inclusive-pixel IoU (``+1`` widths, ``util.overlap``) and must be
   **strictly** greater than 0.5; a second detection of a matched face is FP
   (:func:`facelib.evaluation.box_matching.match_image` with ``strict=True, plus_one=True,
   tie_break="last"``).
4. **Box calibration** (``evaluate_optim``, ``--nit 5``): the kit adapts each detector's boxes to
   the annotation style. For ``calibration_iters`` rounds it matches the detections, takes the
   mean relative centre shift ``((gt_c - det_c) / det_size)`` and scale ratio
   ``(gt_size / det_size)`` over the true positives (x and y separately) and applies them to
   all detections; the AP is that of the **last matching** (so ``n`` rounds apply ``n - 1``
   transforms; ``1`` means none). A round without any true positive leaves the boxes unchanged
   (the kit would produce NaN boxes).
5. AP: VOC area under the precision envelope (``VOCap``), reported in percent.

Results: ``{"<evaluator_type>": {"AP": <kit protocol>, "AP_uncalibrated": <rules 1-3, no
calibration>}}`` with evaluator_type ``afw`` or ``pascal_face``.
"""
import math
import os
from collections import OrderedDict

import numpy as np
from detectron2.data import MetadataCatalog
from detectron2.utils.logger import create_small_table

from .box_matching import align_predictions, average_precision, load_gt_faces, match_image
from .collect import FaceDetectionCollector

__all__ = ["FaceEvalAPEvaluator", "calibrate_boxes", "kit_min_det_size"]

FACE_EVAL_TYPES = ("afw", "pascal_face")


def kit_min_det_size(min_w=30, min_h=30):
    """The kit's detection size filter: ``int(sqrt(0.5 * minw * minh))`` (21 for 30 x 30)."""
    return int(math.sqrt(0.5 * min_w * min_h))


def calibrate_boxes(images, matches):
    """One calibration round: ``images`` is a list of ``(gt_boxes, det_boxes)`` (XYWH) and
    ``matches`` the :class:`~facelib.evaluation.box_matching.ImageMatch` of each image. Returns
    the transformed detection boxes per image and the ``(tx, ty, sx, sy)`` used (None when
    there was no true positive)."""
    tx, ty, sx, sy = [], [], [], []
    for (gt, det), m in zip(images, matches):
        for d in np.nonzero(m.tp)[0]:
            g = gt[m.gt_index[d]]
            b = det[d]
            tx.append((g[0] + g[2] / 2.0 - (b[0] + b[2] / 2.0)) / b[2])
            ty.append((g[1] + g[3] / 2.0 - (b[1] + b[3] / 2.0)) / b[3])
            sx.append(g[2] / b[2])
            sy.append(g[3] / b[3])
    if not tx:
        return [det for _, det in images], None
    t = (float(np.mean(tx)), float(np.mean(ty)), float(np.mean(sx)), float(np.mean(sy)))
    out = []
    for _, det in images:
        det = np.asarray(det, dtype=np.float64).reshape(-1, 4)
        cx = det[:, 0] + det[:, 2] / 2.0 + t[0] * det[:, 2]
        cy = det[:, 1] + det[:, 3] / 2.0 + t[1] * det[:, 3]
        w = det[:, 2] * t[2]
        h = det[:, 3] * t[3]
        out.append(np.stack([cx - w / 2.0, cy - h / 2.0, w, h], axis=1))
    return out, t


class FaceEvalAPEvaluator(FaceDetectionCollector):
    """AP on AFW / PASCAL Face with the face-eval kit's rules (module docstring).

    Args:
        dataset_name: registered dataset; its ``evaluator_type`` (``afw`` / ``pascal_face``)
            names the results task unless ``task`` is given.
        min_face_size: faces with ``w`` or ``h`` below it are ignored (kit: 30; 0 disables).
        min_det_size: detections are kept when ``w`` or ``h`` exceeds it (kit: 21; None = derived
            from ``min_face_size``; a negative value disables).
        calibration_iters: the kit's ``--nit`` (5); 1 or 0 = no calibration.
        output_dir: when given, ``<task>_pr.npz`` and the PR-curve figure ``<task>_pr.png``.
    """

    def __init__(
        self,
        dataset_name,
        output_dir=None,
        task=None,
        min_face_size=30,
        min_det_size=None,
        calibration_iters=5,
        iou_threshold=0.5,
        distributed=True,
    ):
        self._output_dir = output_dir
        self._task = task or self._task_from_metadata(dataset_name)
        self._min_face_size = float(min_face_size)
        if min_det_size is None:
            min_det_size = kit_min_det_size(min_face_size, min_face_size)
        self._min_det_size = float(min_det_size)
        self._calibration_iters = max(int(calibration_iters), 1)
        self._iou_threshold = float(iou_threshold)
        self.calibration = []
        self.pr_curve = None
        super().__init__(dataset_name, distributed=distributed)

    @staticmethod
    def _task_from_metadata(dataset_name):
        et = MetadataCatalog.get(dataset_name).get("evaluator_type", None)
        types = [et] if isinstance(et, str) else list(et or [])
        for t in types:
            if t in FACE_EVAL_TYPES:
                return t
        return "face_eval"

    def _match_all(self, images):
        return [
            match_image(
                det,
                scores,
                gt,
                ignore,
                self._iou_threshold,
                strict=True,
                plus_one=True,
                tie_break="last",
            )
            for (gt, ignore, det, scores) in images
        ]

    def evaluate_predictions(self, predictions):
        gt = load_gt_faces(self._dataset_name)
        images = []
        n_small_det = 0
        n_small_face = 0
        for _, rec, boxes, scores in align_predictions(gt, predictions, self._logger, self._dataset_name):
            keep = (boxes[:, 2] > self._min_det_size) | (boxes[:, 3] > self._min_det_size)
            n_small_det += int((~keep).sum())
            small = (rec["boxes"][:, 2] < self._min_face_size) | (rec["boxes"][:, 3] < self._min_face_size)
            n_small_face += int((small & ~rec["ignore"]).sum())
            images.append((rec["boxes"], rec["ignore"] | small, boxes[keep], scores[keep]))

        matches = self._match_all(images)
        ap_raw, _, _ = average_precision(matches)
        self.calibration = []
        for _ in range(self._calibration_iters - 1):
            new_dets, t = calibrate_boxes([(g, d) for g, _, d, _ in images], matches)
            self.calibration.append(t)
            images = [(g, ig, d, s) for (g, ig, _, s), d in zip(images, new_dets)]
            matches = self._match_all(images)
        ap, recall, precision = average_precision(matches)
        self.pr_curve = (recall, precision)

        res = OrderedDict([("AP", 100.0 * ap), ("AP_uncalibrated", 100.0 * ap_raw)])
        num_pos = sum(m.num_pos for m in matches)
        self._logger.info(
            f"face-eval AP of {self._dataset_name} ({len(gt)} images, {num_pos} positive faces, "
            f"{n_small_face} faces < {self._min_face_size:g} px ignored, {n_small_det} detections <= "
            f"{self._min_det_size:g} px dropped, {self._calibration_iters} calibration rounds "
            f"{self.calibration}):\n" + create_small_table(res)
        )
        self._write_outputs(res)
        return {self._task: res}

    def _write_outputs(self, res):
        if not self._output_dir:
            return
        os.makedirs(self._output_dir, exist_ok=True)
        recall, precision = self.pr_curve
        np.savez(os.path.join(self._output_dir, f"{self._task}_pr.npz"), recall=recall, precision=precision)
        try:
            from .plots import save_pr_curve

            save_pr_curve(
                os.path.join(self._output_dir, f"{self._task}_pr.png"),
                recall,
                precision,
                label=f"AP {res['AP']:.2f}",
                title=self._dataset_name,
            )
        except Exception as e:  # a figure never fails an evaluation
            self._logger.warning(f"{self._task}: PR-curve figure not written: {e}")
