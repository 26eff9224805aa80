"""MAFA (Ge, Li, Ye & Luo, "Detecting Masked Faces in the Wild with LLE-CNNs", CVPR 2017) loader.

Layout parsed here (the official release archives, unpacked side by side)::

    <root>/mafa/LabelTrainAll.mat     or <root>/mafa/MAFA-Label-Train/LabelTrainAll.mat
    <root>/mafa/LabelTestAll.mat      or <root>/mafa/MAFA-Label-Test/LabelTestAll.mat
    <root>/mafa/train-images/images/<imgName>   or <root>/mafa/train-images/<imgName>
    <root>/mafa/test-images/images/<name>       or <root>/mafa/test-images/<name>

(the first existing candidate is used; the error for a missing one lists all of them).

``LabelTrainAll.mat``: variable ``label_train``, a 1 x M struct array (a cell array of the same
shape is accepted) whose entries are, by position, ``(orgImgName, imgName, label)``; the image file
is ``imgName`` (e.g. ``train_00000003.jpg``) and ``label`` is N x 21, one row per face::

    x y w h | eye1_x eye1_y eye2_x eye2_y | ox oy ow oh | occ_type occ_degree gender race
    orientation | gx gy gw gh

``LabelTestAll.mat``: variable ``LabelTest`` (``label_test`` is accepted too), entries
``(name, label)`` with ``label`` N x 18::

    x y w h | face_type | ox oy ow oh | occ_type occ_degree gender race orientation | gx gy gw gh

Meaning (official readme): ``(x, y, w, h)`` face box; ``face_type`` 1 masked, 2 unmasked,
3 invalid; ``(ox, oy, ow, oh)`` occluder box and ``(gx, gy, gw, gh)`` glasses box, both with
``(ox, oy)`` / ``(gx, gy)`` relative to the face's ``(x, y)``, glasses ``-1 -1 -1 -1`` when absent;
``occ_type`` 1 simple, 2 complex, 3 human body; ``occ_degree`` number of occluded face parts
(eyes, nose, mouth); ``gender``, ``race``; ``orientation`` 1 left, 2 left-frontal, 3 frontal,
4 right-frontal, 5 right.

Every field is kept in ``attributes`` (boxes as in the file, relative; ``occluder_box_abs`` adds the
absolute occluder box). ``masked``: test = ``face_type == 1``; train = True (every MAFA training
face is annotated as masked, with ``occ_type`` in 1..3). ``ignore = 1`` for ``face_type == 3``.
``image_id`` is the image name without extension; sizes come from the image headers.

Malformed input: an undecodable (e.g. truncated) ``.mat`` raises
:class:`~.common.UnreadableAnnotationError`; a non-numeric or non-finite label, a face box entirely
outside its image and a missing image file raise an error naming the ``.mat`` file and the 1-based
entry (and face). Zero- and negative-size face boxes are dropped and counted in one WARNING (the
``face_type == 3`` "invalid" faces of the test labels include such boxes).
"""
import logging
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from .common import (
    AnnotationSource,
    DatasetFormatError,
    UnreadableAnnotationError,
    attach_image_sizes,
    check_face_boxes,
    check_root,
    drop_degenerate_boxes,
    make_face_annotation,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MAFA_LAYOUT",
    "MAFA_TRAIN_COLUMNS",
    "MAFA_TEST_COLUMNS",
    "parse_mafa_mat",
    "load_mafa",
]

MAFA_LAYOUT = """\
  <root>/mafa/LabelTrainAll.mat  (or <root>/mafa/MAFA-Label-Train/LabelTrainAll.mat)
  <root>/mafa/LabelTestAll.mat   (or <root>/mafa/MAFA-Label-Test/LabelTestAll.mat)
  <root>/mafa/train-images/images/<imgName>  (or <root>/mafa/train-images/<imgName>)
  <root>/mafa/test-images/images/<name>      (or <root>/mafa/test-images/<name>)"""

MAFA_TRAIN_COLUMNS = 21
MAFA_TEST_COLUMNS = 18

_SPLITS = {
    "train": {
        "mat": ["LabelTrainAll.mat", os.path.join("MAFA-Label-Train", "LabelTrainAll.mat")],
        "vars": ["label_train", "LabelTrain"],
        "images": [os.path.join("train-images", "images"), "train-images"],
        "name_pos": 1,
        "label_pos": 2,
        "columns": MAFA_TRAIN_COLUMNS,
    },
    "test": {
        "mat": ["LabelTestAll.mat", os.path.join("MAFA-Label-Test", "LabelTestAll.mat")],
        "vars": ["LabelTest", "label_test"],
        "images": [os.path.join("test-images", "images"), "test-images"],
        "name_pos": 0,
        "label_pos": 1,
        "columns": MAFA_TEST_COLUMNS,
    },
}


def _str(cell) -> str:
    a = cell
    while isinstance(a, np.ndarray):
        if a.dtype.kind == "U":
            return "".join(a.ravel().tolist())
        if a.size != 1:
            raise ValueError(f"expected a string, got an array of shape {a.shape}")
        a = a.ravel()[0]
    return str(a)


def _entry_fields(entry) -> Sequence:
    """The fields of one struct (``np.void``) or cell-row entry, by position."""
    if isinstance(entry, np.void):
        return [entry[k] for k in entry.dtype.names]
    return list(np.asarray(entry, dtype=object).ravel())


def parse_mafa_mat(path: str, split: str) -> List[Dict]:
    """Parse ``LabelTrainAll.mat`` (``split="train"``) or ``LabelTestAll.mat`` (``"test"``) into
    ``[{"name", "labels"}]`` (``labels`` an ``(N, 21)`` / ``(N, 18)`` float array; train entries also
    carry ``org_name``). Errors name the file and the 1-based entry (non-numeric and non-finite
    labels included)."""
    import scipy.io

    spec = _SPLITS[split]
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for corrupt files
        raise UnreadableAnnotationError(f"cannot read the MAFA .mat file: {e}", file=path) from e
    var = next((v for v in spec["vars"] if v in mat), None)
    if var is None:
        found = [k for k in mat if not k.startswith("__")]
        raise DatasetFormatError(f"none of the variables {spec['vars']} found (has {found})", file=path)
    data = mat[var]
    if data.dtype.names is None and data.ndim == 2 and data.shape[1] == spec["label_pos"] + 1 \
            and data.shape[0] != 1:
        entries = [data[i] for i in range(data.shape[0])]  # M x K cell array, one row per image
    else:
        entries = list(data.ravel())
    out = []
    for i, entry in enumerate(entries):
        fields = _entry_fields(entry)
        if len(fields) <= spec["label_pos"]:
            raise DatasetFormatError(
                f"entry {i + 1} of '{var}' has {len(fields)} fields, expected {spec['label_pos'] + 1}",
                file=path,
            )
        try:
            name = _str(fields[spec["name_pos"]])
        except ValueError as e:
            raise DatasetFormatError(f"entry {i + 1} of '{var}': image name: {e}", file=path) from e
        try:
            labels = np.asarray(fields[spec["label_pos"]], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise DatasetFormatError(
                f"entry {i + 1} of '{var}' ({name}): label is not numeric: {e}", file=path
            ) from None
        if labels.size == 0:
            labels = labels.reshape(0, spec["columns"])
        if labels.ndim == 1:
            labels = labels.reshape(1, -1)
        if labels.ndim != 2 or labels.shape[1] != spec["columns"]:
            raise DatasetFormatError(
                f"entry {i + 1} of '{var}' ({name}): label has shape {labels.shape}, expected "
                f"N x {spec['columns']} (MAFA {split} layout)", file=path,
            )
        if not np.isfinite(labels).all():
            raise DatasetFormatError(f"entry {i + 1} of '{var}' ({name}): non-finite label value", file=path)
        rec = {"name": name, "labels": labels}
        if split == "train":
            rec["org_name"] = _str(fields[0])
        out.append(rec)
    return out


def _abs_box(face: Sequence[float], rel: Sequence[float]) -> List[float]:
    return [face[0] + rel[0], face[1] + rel[1], rel[2], rel[3]]


def _train_annotation(row: np.ndarray) -> Dict:
    v = [float(x) for x in row]
    face = v[0:4]
    attrs = {
        "eyes": v[4:8],
        "occluder_box": v[8:12],
        "occluder_box_abs": _abs_box(face, v[8:12]),
        "occluder_type": int(v[12]),
        "occlusion_degree": int(v[13]),
        "gender": int(v[14]),
        "race": int(v[15]),
        "orientation": int(v[16]),
        "glasses_box": v[17:21],
    }
    return make_face_annotation(face, ignore=0, masked=True, attributes=attrs)


def _test_annotation(row: np.ndarray) -> Dict:
    v = [float(x) for x in row]
    face = v[0:4]
    face_type = int(v[4])
    attrs = {
        "face_type": face_type,
        "occluder_box": v[5:9],
        "occluder_box_abs": _abs_box(face, v[5:9]),
        "occluder_type": int(v[9]),
        "occlusion_degree": int(v[10]),
        "gender": int(v[11]),
        "race": int(v[12]),
        "orientation": int(v[13]),
        "glasses_box": v[14:18],
    }
    return make_face_annotation(
        face, ignore=int(face_type == 3), masked=face_type == 1, attributes=attrs
    )


def _first_existing(base: str, candidates: List[str], isdir: bool) -> Optional[str]:
    for c in candidates:
        p = os.path.join(base, c)
        if (os.path.isdir(p) if isdir else os.path.isfile(p)):
            return p
    return None


def load_mafa(
    dataset_dir: str,
    split: str,
    dataset_name: Optional[str] = None,
    require_images: bool = True,
) -> List[Dict]:
    """Load MAFA ``split`` ("train" or "test") from ``dataset_dir`` (``<root>/mafa``; layout in the
    module docstring). Without the image folder this raises ``FileNotFoundError`` naming the
    layout, unless ``require_images=False`` (annotations only, no sizes). Malformed input: see the
    module docstring."""
    if split not in _SPLITS:
        raise ValueError(f"MAFA split must be 'train' or 'test', got {split!r}")
    name = dataset_name or f"mafa_{split}"
    spec = _SPLITS[split]
    check_root(dataset_dir, name, MAFA_LAYOUT)
    mat_path = _first_existing(dataset_dir, spec["mat"], isdir=False)
    if mat_path is None:
        raise FileNotFoundError(
            f"Dataset '{name}': none of {[os.path.join(dataset_dir, c) for c in spec['mat']]} exists. "
            f"Expected layout:\n{MAFA_LAYOUT}"
        )
    images_dir = _first_existing(dataset_dir, spec["images"], isdir=True)
    if images_dir is None:
        images_dir = os.path.join(dataset_dir, spec["images"][0])  # named in the error below

    make_ann = _train_annotation if split == "train" else _test_annotation
    dicts = []
    image_sources, face_sources = [], []
    for i, rec in enumerate(parse_mafa_mat(mat_path, split)):
        where = f"entry {i + 1} ({rec['name']})"
        image_sources.append(AnnotationSource(mat_path, item=where))
        face_sources.append(
            [AnnotationSource(mat_path, item=f"{where}, face {k + 1}") for k in range(len(rec["labels"]))]
        )
        d = {
            "file_name": os.path.join(images_dir, rec["name"]),
            "image_id": os.path.splitext(rec["name"])[0],
            "annotations": [make_ann(row) for row in rec["labels"]],
        }
        if "org_name" in rec:
            d["org_name"] = rec["org_name"]
        dicts.append(d)
    attach_image_sizes(dicts, images_dir, name, MAFA_LAYOUT, require_images, image_sources)
    check_face_boxes(dicts, face_sources)
    drop_degenerate_boxes(dicts, name, face_sources)
    logger.info("Loaded %d images of '%s' from %s", len(dicts), name, mat_path)
    return dicts
