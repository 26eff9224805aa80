"""The face subsets of the occlusion analysis, per dataset family, as ``{group: {value: selector}}``.

A selector maps a ground-truth record (:func:`facelib.evaluation.box_matching.load_gt_faces`'s
format: ``boxes`` XYWH, ``attributes`` one dict per face) to a ``(G,)`` bool array.

Families (:func:`dataset_family` tells them apart by the attribute keys the faces carry):

* ``wider``: the WIDER FACE attributes of ``wider_face_split/readme.txt`` (``blur`` clear /
  normal / heavy, ``expression`` typical / exaggerate, ``illumination`` normal / extreme,
  ``occlusion`` none / partial / heavy, ``pose`` typical / atypical; ``invalid`` faces are always
  ignored, never a subset);
* ``facemask``: the face-mask set's labels, ``mask`` = with mask (``con_mascarilla``) / without
  (``sin_mascarilla``) / worn incorrectly (``mascarilla_mal_puesta``);
* ``mafa``: MAFA's ``occlusion_degree`` (number of occluded face parts: eyes, nose, mouth: 1 / 2
  / 3) and ``occluder_type`` (1 simple, 2 complex, 3 human body);
* ``synthetic``: the embedded synthetic set's exact occluded fraction of each face, bins 0,
  (0, 0.3], (0.3, 0.6], > 0.6, and the occluder (``none``, ``mask``, ``sunglasses``, ``hand``,
  ``face``);
* ``generic``: none of the above.

Every family also gets ``height``: the face-height bins < 16, 16-32, 32-64, 64-128, >= 128 px
(of the boxes as annotated).
"""
from typing import Callable, Dict, Sequence, Tuple

import numpy as np

from .attribute_ap import attribute_value, height_bin
from .wider_face_annotations import WIDER_ATTRIBUTE_VALUES

__all__ = [
    "HEIGHT_BINS",
    "OCCLUDED_FRACTION_BINS",
    "FACEMASK_LABELS",
    "MAFA_VALUES",
    "SYNTHETIC_OCCLUDERS",
    "dataset_family",
    "height_subsets",
    "family_subsets",
    "flatten_subsets",
]

Selector = Callable[[dict], np.ndarray]
Subsets = Dict[str, Dict[str, Selector]]

HEIGHT_BINS: Sequence[Tuple[str, float, float]] = (
    ("<16", 0.0, 16.0), ("16-32", 16.0, 32.0), ("32-64", 32.0, 64.0), ("64-128", 64.0, 128.0),
    (">=128", 128.0, float("inf")),
)
# (name, low, high): low < fraction <= high; the first bin is exactly 0.
OCCLUDED_FRACTION_BINS: Sequence[Tuple[str, float, float]] = (
    ("0", -1.0, 0.0), ("(0,0.3]", 0.0, 0.3), ("(0.3,0.6]", 0.3, 0.6), (">0.6", 0.6, float("inf")),
)
FACEMASK_LABELS = {"with": "con_mascarilla", "without": "sin_mascarilla", "incorrect": "mascarilla_mal_puesta"}
MAFA_VALUES = {
    "occlusion_degree": {1: "1 part", 2: "2 parts", 3: "3 parts"},
    "occluder_type": {1: "simple", 2: "complex", 3: "human body"},
}
SYNTHETIC_OCCLUDERS = ("none", "mask", "sunglasses", "hand", "face")


def dataset_family(records: Dict[str, dict]) -> str:
    """``wider`` / ``facemask`` / ``mafa`` / ``synthetic`` / ``generic`` from the attribute keys
    of the faces (the first face that has attributes decides)."""
    for rec in records.values():
        for a in rec["attributes"]:
            if not a:
                continue
            if "occlusion" in a and "blur" in a:
                return "wider"
            if "label" in a:
                return "facemask"
            if "occlusion_degree" in a:
                return "mafa"
            if "occluded_fraction" in a:
                return "synthetic"
            return "generic"
    return "generic"


def height_subsets() -> Dict[str, Selector]:
    return {name: height_bin(lo, hi) for name, lo, hi in HEIGHT_BINS}


def _fraction_bin(lo: float, hi: float) -> Selector:
    def select(rec):
        f = np.array([float(a.get("occluded_fraction", np.nan)) for a in rec["attributes"]], dtype=np.float64)
        return (f > lo) & (f <= hi)

    return select


def family_subsets(family: str) -> Subsets:
    """The groups of the module docstring for ``family`` (``height`` last)."""
    groups: Subsets = {}
    if family == "wider":
        for attr, values in WIDER_ATTRIBUTE_VALUES.items():
            groups[attr] = {name: attribute_value(attr, v) for v, name in values.items()}
    elif family == "facemask":
        groups["mask"] = {name: attribute_value("label", label) for name, label in FACEMASK_LABELS.items()}
    elif family == "mafa":
        for attr, values in MAFA_VALUES.items():
            groups[attr] = {name: attribute_value(attr, v) for v, name in values.items()}
    elif family == "synthetic":
        groups["occluded_fraction"] = {name: _fraction_bin(lo, hi) for name, lo, hi in OCCLUDED_FRACTION_BINS}
        groups["occluder"] = {k: attribute_value("occluder", k) for k in SYNTHETIC_OCCLUDERS}
    elif family != "generic":
        raise ValueError(f"unknown dataset family {family!r}; known: wider, facemask, mafa, synthetic, generic")
    groups["height"] = height_subsets()
    return groups


def flatten_subsets(groups: Subsets) -> Dict[str, Selector]:
    """``{"group=value": selector}``."""
    return {f"{g}={v}": sel for g, values in groups.items() for v, sel in values.items()}

