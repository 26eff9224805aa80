"""Saved face detections: facelib's predictions JSON and the reading of any supported source.

``face_predictions.json`` (:func:`write_face_predictions`)::

    {"format": "facelib-face-predictions", "version": 1, "dataset": "<name>",
     "box_mode": "XYWH_ABS", "images": {"<image_id>": [[x, y, w, h, score], ...], ...}}

Boxes are absolute pixels of the original image, written with Python's round-trip float
representation. :func:`read_predictions` accepts that file, a folder holding it, a WIDER FACE
submission folder (``<event>/<name>.txt``, :func:`~facelib.evaluation.wider_face_protocol.read_submission`)
or a folder whose ``submission/`` is one (the WIDER evaluator's output folder); given the dataset
name, also a run's ``OUTPUT_DIR`` (``inference/<dataset>/analysis/`` or ``.../submission/``).
"""
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np

from . import wider_face_protocol as wfp

__all__ = ["PREDICTIONS_FILE", "PredictionSource", "write_face_predictions", "read_predictions"]

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "face_predictions.json"
_FORMAT = "facelib-face-predictions"

Predictions = Dict[str, Tuple[np.ndarray, np.ndarray]]


@dataclass
class PredictionSource:
    """``predictions``: ``{image_id: (boxes_xywh (N, 4), scores (N,))}``; ``kind``: ``"json"`` or
    ``"wider_submission"``; ``missing`` / ``invalid``: image ids without a prediction / with a file
    the WIDER reader rejects (both count as images without detections)."""

    path: str
    kind: str
    predictions: Predictions
    missing: List[str] = field(default_factory=list)
    invalid: List[str] = field(default_factory=list)


def write_face_predictions(path: str, predictions: Mapping[str, Tuple[np.ndarray, np.ndarray]],
                           dataset_name: str = "") -> str:
    images = {str(k): wfp._as_pred_array(tuple(pred)).tolist() for k, pred in predictions.items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"format": _FORMAT, "version": 1, "dataset": dataset_name, "box_mode": "XYWH_ABS",
                   "images": images}, f)
    return path


def _read_json(path: str, image_ids: List[str]) -> PredictionSource:
    with open(path, "r", encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a {PREDICTIONS_FILE} (expected \"format\": \"{_FORMAT}\")")
    preds: Predictions = {}
    invalid = []
    for image_id, rows in data.get("images", {}).items():
        arr = np.asarray(rows, dtype=np.float64)
        if arr.size == 0:
            arr = np.zeros((0, 5))
        if arr.ndim != 2 or arr.shape[1] != 5 or not np.isfinite(arr).all():
            invalid.append(image_id)
            continue
        preds[image_id] = (arr[:, :4].copy(), arr[:, 4].copy())
    wanted = set(image_ids)
    missing = [k for k in image_ids if k not in preds and k not in invalid]
    extra = [k for k in preds if k not in wanted]
    if extra:
        logger.warning("%s: %d predicted images are not in the ground truth; left out, e.g. %s", path,
                       len(extra), ", ".join(extra[:3]))
    return PredictionSource(path, "json", {k: v for k, v in preds.items() if k in wanted}, missing,
                            [k for k in invalid if k in wanted])


def _read_submission(path: str, image_ids: List[str]) -> PredictionSource:
    res = wfp.read_submission(path, image_ids)
    preds: Predictions = {}
    invalid = list(res.invalid)
    for k, arr in res.predictions.items():
        if not np.isfinite(arr).all():
            invalid.append(k)
            continue
        preds[k] = (arr[:, :4].copy(), arr[:, 4].copy())
    return PredictionSource(path, "wider_submission", preds, list(res.missing), invalid)


def read_predictions(path: str, image_ids: Iterable[str], dataset_name: str = "") -> PredictionSource:
    """The predictions of ``path`` (see the module docstring) for ``image_ids``; missing and
    invalid images are counted in a WARNING, a path that is none of the supported sources is a
    ``ValueError`` saying what was expected. With ``dataset_name``, ``path`` may also be a
    training run's ``OUTPUT_DIR`` (its ``inference/<dataset_name>/analysis/`` or
    ``inference/<dataset_name>/submission/`` is read)."""
    image_ids = [str(k) for k in image_ids]
    if dataset_name and os.path.isdir(os.path.join(path, "inference", dataset_name)):
        run = os.path.join(path, "inference", dataset_name)
        path = os.path.join(run, "analysis") if os.path.isfile(os.path.join(run, "analysis", PREDICTIONS_FILE)) else run
    if os.path.isfile(path):
        src = _read_json(path, image_ids)
    elif os.path.isdir(path):
        if os.path.isfile(os.path.join(path, PREDICTIONS_FILE)):
            src = _read_json(os.path.join(path, PREDICTIONS_FILE), image_ids)
        else:
            sub = os.path.join(path, "submission")
            sub = sub if os.path.isdir(sub) else path
            src = _read_submission(sub, image_ids)
            if not src.predictions and not src.invalid:
                raise ValueError(
                    f"{path}: no prediction of the dataset's {len(image_ids)} images found: expected a "
                    f"{PREDICTIONS_FILE}, a folder holding one, or a WIDER FACE submission folder "
                    f"(<event>/<name>.txt, e.g. {wfp.prediction_path(sub, image_ids[0]) if image_ids else ''})")
    else:
        raise FileNotFoundError(f"predictions {path!r} not found")
    if src.missing or src.invalid:
        logger.warning("%s: %d of %d images have no predictions and %d an invalid one; both count as "
                       "images without detections", path, len(src.missing), len(image_ids), len(src.invalid))
    return src
