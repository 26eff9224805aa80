"""WIDER FACE ground truth read from a dataset's annotation file, with every face's attributes,
and the official settings' face lists from the ``.mat`` files: no image needed.

The evaluation ``.mat`` files hold the boxes of the full-resolution val images. A copy of the val
set whose images were resized (``widerface_val200``: 200 images squashed to 416 x 416, their boxes
rescaled in its own ``wider_face_val_bbx_gt.txt``, the face order kept) must be evaluated with the
boxes of its own annotation file and the official ``gt_list`` indices, which still apply because
the face order is the official one. :func:`load_wider_annotations` builds exactly that; a face
count that differs from the ``.mat``'s for an image is an error naming the image (the indices
would point at other faces).

Unlike the detectron2 dataset dicts, every face of the file is kept, degenerate (``w`` or ``h``
<= 0) ones included, so face ``i`` here is face ``i`` of the official lists.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from . import wider_face_protocol as wfp

__all__ = ["WIDER_ATTRIBUTE_VALUES", "WiderAnnotations", "load_wider_annotations"]

logger = logging.getLogger(__name__)

# The value names of ``wider_face_split/readme.txt`` (``invalid`` is a flag, always ignored).
WIDER_ATTRIBUTE_VALUES = {
    "blur": {0: "clear", 1: "normal", 2: "heavy"},
    "expression": {0: "typical", 1: "exaggerate"},
    "illumination": {0: "normal", 1: "extreme"},
    "occlusion": {0: "none", 1: "partial", 2: "heavy"},
    "pose": {0: "typical", 1: "atypical"},
}


@dataclass
class WiderAnnotations:
    """``gt``: a :class:`~facelib.evaluation.wider_face_protocol.WiderFaceGT` (boxes of the
    annotation file, float; ``keep`` from the ``.mat`` lists, or every valid face in every setting
    without them); ``attributes``: per image an ``(N, 6)`` int array in the order of
    ``facelib.data.datasets.wider_face.WIDER_ATTRIBUTES``; ``file_names``: per image the path the
    image would have (it may not exist)."""

    gt: wfp.WiderFaceGT
    attributes: List[np.ndarray]
    file_names: List[str]


def load_wider_annotations(dataset_dir: str, split: str = "val", gt_mat_dir: Optional[str] = None,
                           settings=wfp.SETTINGS) -> WiderAnnotations:
    """Read ``<dataset_dir>/wider_face_split``'s annotation file of ``split`` (``.txt`` or
    ``.mat``, see :mod:`facelib.data.datasets.wider_face`) and, when ``gt_mat_dir`` is given, the
    settings' ``gt_list`` of ``wider_{easy,medium,hard}_val.mat``. Images of the file absent from
    the ``.mat`` are left out with a WARNING."""
    from facelib.data.datasets.wider_face import (
        parse_wider_face_mat,
        parse_wider_face_txt,
        wider_face_annotation_file,
    )

    if split not in ("train", "val"):
        raise ValueError(f"WIDER FACE annotations exist for 'train' and 'val', got {split!r}")
    ann_file = wider_face_annotation_file(dataset_dir, split)
    records = parse_wider_face_mat(ann_file) if ann_file.endswith(".mat") else parse_wider_face_txt(ann_file)
    images_dir = os.path.join(dataset_dir, f"WIDER_{split}", "images")
    ids, boxes, attrs, files = [], [], [], []
    for rel, faces in records:
        stem = rel[: -len(".jpg")] if rel.lower().endswith(".jpg") else os.path.splitext(rel)[0]
        ids.append(stem)
        boxes.append(np.asarray(faces[:, :4], dtype=np.float64).reshape(-1, 4))
        attrs.append(np.asarray(faces[:, 4:10], dtype=np.int64).reshape(-1, 6))
        files.append(os.path.join(images_dir, rel))
    invalid = [a[:, 3] != 0 for a in attrs]

    if gt_mat_dir is None:
        keep = [np.nonzero(~inv)[0].astype(np.int64) for inv in invalid]
        gt = wfp.WiderFaceGT(image_ids=ids, boxes=boxes, keep={s: list(keep) for s in settings})
        return WiderAnnotations(gt, attrs, files)

    official = wfp.load_wider_gt(gt_mat_dir, settings)
    absent = official.missing(ids)
    if absent:
        logger.warning("%d of %d images of %s are not in the ground truth of %s and are left out, e.g. %s",
                       len(absent), len(ids), ann_file, gt_mat_dir, ", ".join(absent[:3]))
    where = {k: i for i, k in enumerate(official.image_ids)}
    rows = [i for i, k in enumerate(ids) if k in where]
    keep = {s: [] for s in settings}
    for i in rows:
        j = where[ids[i]]
        if len(official.boxes[j]) != len(boxes[i]):
            raise ValueError(
                f"{ann_file}: image {ids[i]} has {len(boxes[i])} faces, the official ground truth in "
                f"{gt_mat_dir} {len(official.boxes[j])}: the settings' face lists would not apply")
        for s in settings:
            keep[s].append(official.keep[s][j])
    gt = wfp.WiderFaceGT(image_ids=[ids[i] for i in rows], boxes=[boxes[i] for i in rows], keep=keep)
    return WiderAnnotations(gt, [attrs[i] for i in rows], [files[i] for i in rows])
