"""detectron2 evaluator for the WIDER FACE protocol (easy / medium / hard AP).

Ground truth:

* When ``MetadataCatalog.get(dataset_name).gt_mat_dir`` is set, the official ``wider_face_val.mat``
  and ``wider_{easy,medium,hard}_val.mat`` in that folder are used, restricted to the images of the
  dataset being evaluated (``image_id = "<event>/<name>"``); dataset images absent from the ``.mat``
  files are logged and left out. When the metadata also sets ``gt_boxes_from_annotations`` (a copy
  of val whose images were resized, such as ``widerface_val200``), the boxes come from the
  dataset's own annotation file and only the settings' face lists from the ``.mat`` files
  (:func:`facelib.evaluation.wider_face_annotations.load_wider_annotations`).
* Otherwise the three settings are derived from the dataset dicts: every face of an image is in its
  face list; the faces with ``ignore`` = 0 count in *every* setting (so easy = medium = hard), and
  the faces with ``ignore`` = 1 are outside every ``gt_list`` - a detection matched to them is
  neither a true nor a false positive, exactly like the faces outside a setting in the official
  protocol. (The official easy/medium/hard split comes from EdgeBox proposal detection rates and
  cannot be recomputed from the annotations.)

Predictions for the images of the dataset only are evaluated; the score normalisation
(``norm_score.m``) runs over those images. The protocol itself is
:func:`facelib.evaluation.wider_face_protocol.evaluate_wider`.

Outputs under ``output_dir`` (when given): ``submission/<event>/<name>.txt`` for every evaluated image
that has predictions (the official submission layout, readable by ``tools/eval_widerface.py``;
written with exact round-trip numbers, so re-reading it gives the same AP; skipped when
``write_submission`` is False),
``wider_pr_curve_{easy,medium,hard}.png``, ``wider_pr_curves.npz`` (precision / recall per threshold)
and ``wider_face_results.json``. ``evaluate()`` returns
``{"wider_face": {"easy": AP, "medium": AP, "hard": AP}}`` with AP in percent (like detectron2's
COCO evaluator) and logs the table.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Optional

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from detectron2.utils.file_io import PathManager
from detectron2.utils.logger import create_small_table

from . import wider_face_protocol as wfp
from .collect import FaceDetectionCollector
from .plots import save_pr_curve

__all__ = ["WiderFaceEvaluator", "wider_gt_from_dataset_dicts"]


def _face_boxes_xywh(annotations) -> np.ndarray:
    boxes = []
    for ann in annotations:
        mode = ann.get("bbox_mode", BoxMode.XYWH_ABS)
        boxes.append(BoxMode.convert(list(ann["bbox"]), mode, BoxMode.XYWH_ABS))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def wider_gt_from_dataset_dicts(dataset_dicts, settings=wfp.SETTINGS) -> wfp.WiderFaceGT:
    """Derive the ground truth from detectron2 dataset dicts (see the module docstring): all faces
    listed, the non-ignored ones kept in every setting."""
    image_ids, boxes, keep = [], [], []
    for d in dataset_dicts:
        anns = d.get("annotations", [])
        image_ids.append(str(d["image_id"]))
        boxes.append(_face_boxes_xywh(anns))
        keep.append(np.array([i for i, a in enumerate(anns) if not a.get("ignore", 0)], dtype=np.int64))
    return wfp.WiderFaceGT(image_ids=image_ids, boxes=boxes, keep={s: list(keep) for s in settings})


class WiderFaceEvaluator(FaceDetectionCollector):
    """WIDER FACE easy / medium / hard AP of ``dataset_name``; see the module docstring."""

    def __init__(
        self,
        dataset_name: str,
        output_dir: Optional[str] = None,
        distributed: bool = True,
        iou_mode: str = "official",
        iou_threshold: float = 0.5,
        num_thresholds: int = 1000,
        write_submission: bool = True,
    ):
        if iou_mode not in wfp.IOU_MODES:
            raise ValueError(f"iou_mode must be one of {wfp.IOU_MODES}, got {iou_mode!r}")
        super().__init__(dataset_name, distributed=distributed)
        self._output_dir = output_dir
        self._iou_mode = iou_mode
        self._iou_threshold = float(iou_threshold)
        self._num_thresholds = int(num_thresholds)
        self._write_submission = write_submission
        self._metadata = MetadataCatalog.get(dataset_name)

    @classmethod
    def from_config(cls, cfg, dataset_name: str, output_dir: Optional[str] = None, distributed: bool = True):
        """Build from the ``TEST.WIDER`` keys of :func:`facelib.config.add_facelib_config`."""
        w = cfg.TEST.WIDER
        return cls(dataset_name, output_dir=output_dir, distributed=distributed, iou_mode=w.IOU_MODE,
                   iou_threshold=w.IOU_THRESHOLD, num_thresholds=w.NUM_THRESHOLDS,
                   write_submission=w.WRITE_SUBMISSION)

    # ------------------------------------------------------------------ ground truth
    def _ground_truth(self) -> wfp.WiderFaceGT:
        dicts = DatasetCatalog.get(self._dataset_name)
        image_ids = [str(d["image_id"]) for d in dicts]
        gt_mat_dir = self._metadata.get("gt_mat_dir", None)
        if gt_mat_dir:
            if self._metadata.get("gt_boxes_from_annotations", False):
                from .wider_face_annotations import load_wider_annotations

                full = load_wider_annotations(self._metadata.dataset_root, "val", gt_mat_dir).gt
                source = f"boxes of the annotation file of {self._dataset_name}, face lists of {gt_mat_dir}"
            else:
                full = wfp.load_wider_gt(gt_mat_dir)
                source = gt_mat_dir
            absent = full.missing(image_ids)
            if absent:
                self._logger.warning(
                    "%d of %d images of %s are not in the ground truth (%s) and are left out, e.g. %s",
                    len(absent), len(image_ids), self._dataset_name, source, ", ".join(absent[:3]))
            gt = full.subset(image_ids)
            self._logger.info("WIDER FACE ground truth: %s (%d images of %s)", source,
                              len(gt.image_ids), self._dataset_name)
        else:
            gt = wider_gt_from_dataset_dicts(dicts)
            self._logger.info(
                "WIDER FACE ground truth derived from the %d images of %s (no gt_mat_dir): non-ignored "
                "faces count in every setting, ignored faces are neither rewarded nor punished",
                len(gt.image_ids), self._dataset_name)
        return gt

    # ------------------------------------------------------------------ evaluation
    def evaluate_predictions(self, predictions):
        gt = self._ground_truth()
        known = set(gt.image_ids)
        preds = {k: v for k, v in predictions.items() if k in known}
        extra = len(predictions) - len(preds)
        if extra:
            self._logger.warning("%d predicted images are not in the ground truth of %s; ignored",
                                 extra, self._dataset_name)
        no_pred = [i for i in gt.image_ids if i not in preds]
        if no_pred:
            self._logger.warning("%d of %d images of %s have no predictions (counted as no detections), "
                                 "e.g. %s", len(no_pred), len(gt.image_ids), self._dataset_name,
                                 ", ".join(no_pred[:3]))

        if self._output_dir and self._write_submission:
            sub_dir = os.path.join(self._output_dir, "submission")
            n = wfp.write_submission(sub_dir, preds)
            self._logger.info("Wrote the WIDER FACE submission (%d files) to %s", n, sub_dir)

        results = wfp.evaluate_wider(gt, preds, iou_mode=self._iou_mode, iou_threshold=self._iou_threshold,
                                     num_thresholds=self._num_thresholds)
        aps = OrderedDict((s, float(r.ap * 100.0)) for s, r in results.items())
        self._logger.info(
            "WIDER FACE AP (%%) on %s (%s IoU, %d images):\n%s", self._dataset_name, self._iou_mode,
            len(gt.image_ids), create_small_table(aps))

        if self._output_dir:
            PathManager.mkdirs(self._output_dir)
            np.savez(os.path.join(self._output_dir, "wider_pr_curves.npz"),
                     thresholds=next(iter(results.values())).thresholds,
                     **{f"{k}_{s}": getattr(r, k) for s, r in results.items() for k in ("precision", "recall")})
            for s, r in results.items():
                try:
                    save_pr_curve(os.path.join(self._output_dir, f"wider_pr_curve_{s}.png"), r.recall,
                                  r.precision, label=f"AP {r.ap * 100:.2f}", title=f"{self._dataset_name} {s}")
                except Exception as e:  # a figure never fails an evaluation
                    self._logger.warning("WIDER FACE %s: PR-curve figure not written: %s", s, e)
            with PathManager.open(os.path.join(self._output_dir, "wider_face_results.json"), "w") as f:
                json.dump({"ap_percent": aps, "iou_mode": self._iou_mode, "iou_threshold": self._iou_threshold,
                           "num_images": len(gt.image_ids),
                           "num_faces": {s: r.num_faces for s, r in results.items()}}, f, indent=2)
        self._last_results = results
        return OrderedDict(wider_face=aps)
