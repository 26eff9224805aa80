"""The occlusion analysis of one set of predictions on one dataset: AP per setting, AP and recall
per attribute value and per face-height bin, the TIDE-style error breakdown, and the gallery's
picks. All from the predictions and the annotations (:mod:`.analysis_ground_truth`).

* Settings: AP of every setting of the ground truth (WIDER: easy / medium / hard with the
  official face lists; otherwise ``all``), greedy VOC matching on float IoU at ``iou_threshold``
  (:func:`~facelib.evaluation.box_matching.match_image`; the official WIDER kit rounds its IoU,
  :mod:`.wider_face_protocol`, so WIDER APs here differ slightly from ``tools/eval_widerface.py``'s).
* Breakdown (:mod:`.attribute_ap`): within the base setting (WIDER: hard), for each group of
  :func:`~facelib.evaluation.breakdown_subsets.family_subsets` and each value, AP over the faces
  with that value, the others ignored, and the recall at the operating point where the precision
  over all the base setting's faces is ``precision`` (0.9).
* Errors (:mod:`.error_breakdown`): counts and AP cost of localisation / duplicate / background
  false positives and missed faces, on the base setting; missed faces also counted per value.
* Gallery picks: the ``gallery_size`` largest missed faces (a missed big face is the worst miss)
  and the ``gallery_size`` highest-scored false positives, with their type.

:func:`analyze` returns an :class:`AnalysisResult`; ``to_json()`` gives the numbers (AP and
recall as fractions in [0, 1], NaN written as ``null``).
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import numpy as np

from .analysis_ground_truth import AnalysisGroundTruth
from .attribute_ap import precision_operating_point, recall_at_score, subset_matches
from .box_matching import average_precision, match_image, pairwise_iou
from .breakdown_subsets import family_subsets, flatten_subsets
from .error_breakdown import classify_images, error_breakdown

__all__ = ["AnalysisResult", "analyze", "json_safe"]

Curve = Tuple[np.ndarray, np.ndarray]


def json_safe(x):
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass
class AnalysisResult:
    """See the module docstring. ``curves``: ``{"setting/<s>" or "<group>=<value>": (recall,
    precision)}``, for the figures (not in the JSON)."""

    label: str
    dataset: str
    family: str
    base_setting: str
    iou_threshold: float
    precision: float
    settings: Dict[str, dict]
    breakdown: Dict
    errors: Dict
    gallery: Dict[str, List[dict]]
    num_images: int
    images_without_predictions: int
    curves: Dict[str, Curve] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        return json_safe({
            "label": self.label, "dataset": self.dataset, "family": self.family,
            "base_setting": self.base_setting, "iou_threshold": self.iou_threshold,
            "operating_point_precision": self.precision, "num_images": self.num_images,
            "images_without_predictions": self.images_without_predictions,
            "settings": self.settings, "breakdown": self.breakdown, "errors": self.errors,
            "gallery": self.gallery,
        })


def _row(matches, threshold) -> dict:
    ap, recall, precision = average_precision(matches)
    return {"faces": int(sum(m.num_pos for m in matches)), "ap": ap,
            "recall": recall_at_score(matches, threshold)}, (recall, precision)


def _gallery(ids, classified, size) -> Dict[str, List[dict]]:
    misses, fps = [], []
    for image_id, (rec, boxes, scores, (_, kinds, best, missed)) in zip(ids, classified):
        for g in np.nonzero(missed)[0]:
            misses.append({"image_id": image_id, "face": int(g), "box": rec["boxes"][g].tolist(),
                           "height": float(rec["boxes"][g][3]), "attributes": rec["attributes"][g]})
        for d in np.nonzero(kinds != "")[0]:
            fps.append({"image_id": image_id, "detection": int(d), "box": boxes[d].tolist(),
                        "score": float(scores[d]), "type": str(kinds[d]),
                        "face": int(best[d])})
    misses.sort(key=lambda m: -m["height"])
    fps.sort(key=lambda f: -f["score"])
    return {"misses": misses[:size], "false_positives": fps[:size]}


def analyze(gt: AnalysisGroundTruth, predictions: Mapping[str, Tuple[np.ndarray, np.ndarray]],
            label: str = "", iou_threshold: float = 0.5, precision: float = 0.9,
            gallery_size: int = 8) -> AnalysisResult:
    """Analyse ``predictions`` (``{image_id: (boxes_xywh, scores)}``; images of ``gt`` without
    one count as images without detections; others are left out) on ``gt``."""
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    empty = (np.zeros((0, 4)), np.zeros(0))
    ids = list(gt.records)
    dets = [predictions.get(k, empty) for k in ids]
    dets = [(np.asarray(b, np.float64).reshape(-1, 4), np.asarray(s, np.float64).reshape(-1)) for b, s in dets]
    ious = [pairwise_iou(b, gt.records[k]["boxes"]) for k, (b, _) in zip(ids, dets)]

    curves: Dict[str, Curve] = {}
    settings = {}
    setting_matches = {}
    for s in gt.setting_names:
        recs = gt.with_setting(s)
        setting_matches[s] = matches = [
            match_image(b, sc, recs[k]["boxes"], recs[k]["ignore"], iou_threshold, iou=iou)
            for k, (b, sc), iou in zip(ids, dets, ious)]
        ap, recall, prec = average_precision(matches)
        settings[s] = {"faces": int(sum(m.num_pos for m in matches)), "ap": ap}
        curves[f"setting/{s}"] = (recall, prec)

    base = gt.with_setting(gt.base_setting)
    images = [(base[k], b, sc) for k, (b, sc) in zip(ids, dets)]
    everything = setting_matches[gt.base_setting]
    threshold = precision_operating_point(everything, precision)
    all_row, _ = _row(everything, threshold)
    groups = family_subsets(gt.family)
    rows: Dict[str, Dict[str, dict]] = {}
    for g, values in groups.items():
        rows[g] = {}
        for v, sel in values.items():
            rows[g][v], curves[f"{g}={v}"] = _row(subset_matches(images, sel, iou_threshold, ious), threshold)

    classified = classify_images(images, iou_threshold, ious)
    errors = error_breakdown(images, flatten_subsets(groups), iou_threshold, classified=classified)
    missed_by: Dict[str, Dict[str, int]] = {g: {} for g in groups}
    for key, n in errors.pop("missed_by").items():
        g, v = key.split("=", 1)
        missed_by[g][v] = n
    errors["missed_by"] = missed_by

    gallery = _gallery(ids, classified, gallery_size)
    return AnalysisResult(
        label=label, dataset=gt.dataset_name, family=gt.family, base_setting=gt.base_setting,
        iou_threshold=float(iou_threshold), precision=float(precision), settings=settings,
        breakdown={"threshold": threshold, "all": all_row, "groups": rows}, errors=errors, gallery=gallery,
        num_images=len(ids), images_without_predictions=sum(k not in predictions for k in ids), curves=curves)
