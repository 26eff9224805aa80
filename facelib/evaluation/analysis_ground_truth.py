"""Ground truth of a registered dataset for the occlusion analysis, from the annotations alone.

:func:`load_analysis_ground_truth` returns an :class:`AnalysisGroundTruth`: per image a record in
:func:`~facelib.evaluation.box_matching.load_gt_faces`'s format plus ``settings``
(``{setting: (G,) bool}``, the faces that count in each setting), the name of the *base* setting
whose faces the per-attribute breakdown splits, and the dataset family
(:func:`~facelib.evaluation.breakdown_subsets.dataset_family`).

* WIDER FACE datasets (``evaluator_type`` ``wider_face`` with a ``wider_face_split`` folder):
  the annotation file through
  :func:`~facelib.evaluation.wider_face_annotations.load_wider_annotations` (images not needed:
  the full val set has none here); settings easy / medium / hard from the official ``gt_list``
  when ``gt_mat_dir`` is known, base ``hard``. A record's ``ignore`` is its ``invalid`` flag; a
  face outside the base setting is ignored by the analysis too (the official lists' mechanism).
* MAFA: ``load_mafa(..., require_images=False)``.
* Every other dataset: its registered loader (``DatasetCatalog.get``); one setting ``all``
  (the non-ignored faces), the base.
"""
import logging
import os
from dataclasses import dataclass
from typing import Dict

import numpy as np

from .box_matching import gt_faces_from_dicts
from .breakdown_subsets import dataset_family

__all__ = ["AnalysisGroundTruth", "load_analysis_ground_truth", "wider_records"]

logger = logging.getLogger(__name__)


@dataclass
class AnalysisGroundTruth:
    dataset_name: str
    records: Dict[str, dict]
    base_setting: str
    family: str

    @property
    def setting_names(self):
        rec = next(iter(self.records.values()), None)
        return list(rec["settings"]) if rec else [self.base_setting]

    def with_setting(self, setting: str) -> Dict[str, dict]:
        """Records whose ``ignore`` also covers the faces outside ``setting``."""
        out = {}
        for k, rec in self.records.items():
            r = dict(rec)
            r["ignore"] = np.asarray(rec["ignore"], bool) | ~rec["settings"][setting]
            out[k] = r
        return out


def wider_records(ann) -> Dict[str, dict]:
    """Records of a :class:`~facelib.evaluation.wider_face_annotations.WiderAnnotations`."""
    from facelib.data.datasets.wider_face import WIDER_ATTRIBUTES

    records = {}
    for i, image_id in enumerate(ann.gt.image_ids):
        boxes = np.asarray(ann.gt.boxes[i], dtype=np.float64).reshape(-1, 4)
        attrs = ann.attributes[i]
        settings = {}
        for s, keep in ann.gt.keep.items():
            flags = np.zeros(len(boxes), dtype=bool)
            flags[np.asarray(keep[i], dtype=np.int64)] = True
            settings[s] = flags
        records[image_id] = {
            "boxes": boxes,
            "ignore": attrs[:, WIDER_ATTRIBUTES.index("invalid")] != 0,
            "masked": np.zeros(len(boxes), dtype=bool),
            "attributes": [dict(zip(WIDER_ATTRIBUTES, (int(v) for v in row))) for row in attrs],
            "height": None, "width": None,
            "file_name": ann.file_names[i],
            "settings": settings,
        }
    return records


def load_analysis_ground_truth(dataset_name: str) -> AnalysisGroundTruth:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    if dataset_name not in DatasetCatalog.list():
        raise KeyError(f"dataset {dataset_name!r} is not registered (facelib registers its datasets with "
                       "facelib.data.datasets.register_all_facelib_datasets; $FACELIB_DATASETS is the root)")
    meta = MetadataCatalog.get(dataset_name)
    kind = meta.get("evaluator_type", None)
    root = meta.get("dataset_root", None)
    if kind == "wider_face" and root and os.path.isdir(os.path.join(root, "wider_face_split")):
        from .wider_face_annotations import load_wider_annotations

        split = meta.get("split", "val")
        if split == "test":
            raise ValueError(f"{dataset_name}: the WIDER FACE test split has no ground truth to analyse")
        ann = load_wider_annotations(root, split, meta.get("gt_mat_dir", None))  # registered for val only
        records = wider_records(ann)
        base = "hard"
    else:
        if kind == "mafa":
            from facelib.data.datasets.mafa import load_mafa

            dicts = load_mafa(root, meta.get("split", "test"), dataset_name=dataset_name, require_images=False)
        else:
            dicts = DatasetCatalog.get(dataset_name)
        records = gt_faces_from_dicts(dicts, dataset_name)
        for rec in records.values():
            rec["settings"] = {"all": ~np.asarray(rec["ignore"], bool)}
        base = "all"
    logger.info("Analysis ground truth of %s: %d images, %d faces", dataset_name, len(records),
                sum(len(r["boxes"]) for r in records.values()))
    return AnalysisGroundTruth(dataset_name, records, base, dataset_family(records))
