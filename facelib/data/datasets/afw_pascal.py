"""AFW (Zhu & Ramanan, CVPR 2012) and PASCAL Face (Yan et al., IVC 2014) with the re-annotations
of the face-eval kit of Mathias, Benenson, Pedersoli & Van Gool, "Face detection without bells and
whistles", ECCV 2014.

Layout::

    <root>/afw/new_annotations_AFW.mat          (face-eval re-annotation; preferred)
    <root>/afw/anno2.mat                        (original Zhu & Ramanan annotation; fallback)
    <root>/afw/images/<imgname>
    <root>/pascal_face/Annotations_Face_PASCALLayout_large_fixed.mat
    <root>/pascal_face/images/<imgname>

face-eval ``.mat`` files (``new_annotations_AFW.mat``, ``Annotations_Face_PASCALLayout_large_fixed.mat``):
variable ``Annotations``, an M x 1 struct array with fields ``imgname`` (e.g. ``'2008_003880.jpg'``),
``imgsize`` (``[width; height; channels]``: every box fits in it read this way), ``objects`` (N x 6:
``x1 y1 x2 y2 c5 ignore``, where the face-eval kit reads columns 1-4 as the box and column 6 as the
ignore flag, and always writes column 5 as 0; it is kept as ``attributes["col5"]``) and ``flags``.
Boxes become ``[x1, y1, x2 - x1, y2 - y1]`` as in the kit's overlap, not clipped (one PASCAL box
starts at y = -1; the kit evaluates raw boxes).

``anno2.mat`` (variable ``anno``, 205 x 4 cells: name, boxes as 2 x 2 ``[x1 y1; x2 y2]`` per face,
pose, landmarks) has no ignore flags; it is used only when the face-eval file is absent.

``image_id`` is the image name without extension; ``height``/``width`` come from ``imgsize`` (for
``anno2.mat`` from the image headers).

Malformed input: an undecodable (e.g. truncated) ``.mat`` raises
:class:`~.common.UnreadableAnnotationError`; a non-numeric or non-finite ``imgsize`` / box, a
non-positive ``imgsize`` and a box entirely outside its image raise an error naming the ``.mat``
file and the 1-based entry (and object). With ``anno2.mat`` a missing image file is an error naming
the entry; with the face-eval files the individual image files are not opened (sizes come from
``imgsize``); when the image folder exists, listed images absent from it are counted in one
WARNING naming the first and its entry (they fail only when read). Zero- and negative-size boxes
are dropped and counted in one WARNING (the kit evaluates raw boxes and keeps going on them).
"""
import logging
import os
from typing import Dict, List, Tuple

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
    "AFW_LAYOUT",
    "PASCAL_FACE_LAYOUT",
    "parse_face_eval_mat",
    "parse_afw_anno2_mat",
    "load_afw",
    "load_pascal_face",
]

AFW_LAYOUT = """\
  <root>/afw/new_annotations_AFW.mat   (or anno2.mat)
  <root>/afw/images/<name>.jpg"""

PASCAL_FACE_LAYOUT = """\
  <root>/pascal_face/Annotations_Face_PASCALLayout_large_fixed.mat
  <root>/pascal_face/images/<name>.jpg"""


def _loadmat(path: str) -> Dict:
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for corrupt files
        raise UnreadableAnnotationError(f"cannot read the .mat file: {e}", file=path) from e


def _str(cell) -> str:
    a = cell
    while isinstance(a, np.ndarray):
        if a.dtype.kind == "U":
            return "".join(a.ravel().tolist())
        if a.size != 1:
            raise ValueError(f"expected a string, got an array of shape {a.shape}")
        a = a.ravel()[0]
    return str(a)


def parse_face_eval_mat(path: str) -> List[Dict]:
    """Parse a face-eval ``Annotations`` file into ``[{"imgname", "width", "height", "objects"}]``
    with ``objects`` an ``(N, 6)`` float array ``x1 y1 x2 y2 col5 ignore``. Errors name the file and
    the 1-based entry."""
    mat = _loadmat(path)
    if "Annotations" not in mat:
        raise DatasetFormatError("missing variable 'Annotations' (face-eval layout)", file=path)
    ann = mat["Annotations"].ravel()
    names = ann.dtype.names or ()
    for field in ("imgname", "imgsize", "objects"):
        if field not in names:
            raise DatasetFormatError(f"'Annotations' has no field '{field}' (fields: {names})", file=path)
    out = []
    for i, a in enumerate(ann):
        try:
            imgname = _str(a["imgname"])
            size = np.asarray(a["imgsize"], dtype=np.float64).ravel()
            objects = np.asarray(a["objects"], dtype=np.float64)
            if objects.size == 0:
                objects = np.zeros((0, 6))
            if objects.ndim != 2 or objects.shape[1] not in (4, 6) or size.size < 2:
                raise ValueError(f"objects shape {objects.shape}, imgsize {size.tolist()}")
            if not (np.isfinite(objects).all() and np.isfinite(size[:2]).all() and (size[:2] > 0).all()):
                raise ValueError(f"non-finite or non-positive value in objects / imgsize {size.tolist()}")
        except (TypeError, ValueError) as e:
            raise DatasetFormatError(f"entry {i + 1}: {e}", file=path) from e
        if objects.shape[1] == 4:  # the old, flag-less layout: no ignore column
            objects = np.concatenate([objects, np.zeros((objects.shape[0], 2))], axis=1)
        out.append(
            {
                "imgname": imgname,
                "width": int(size[0]),
                "height": int(size[1]),
                "objects": objects.astype(np.float64),
            }
        )
    return out


def parse_afw_anno2_mat(path: str) -> List[Dict]:
    """Parse Zhu & Ramanan's ``anno2.mat`` into ``[{"imgname", "boxes", "poses", "landmarks"}]``
    (``boxes`` an ``(N, 4)`` array ``x1 y1 x2 y2``)."""
    mat = _loadmat(path)
    if "anno" not in mat:
        raise DatasetFormatError("missing variable 'anno' (Zhu & Ramanan layout)", file=path)
    anno = mat["anno"]
    if anno.ndim != 2 or anno.shape[1] < 2:
        raise DatasetFormatError(f"'anno' has shape {anno.shape}, expected M x 4 cells", file=path)
    out = []
    for i in range(anno.shape[0]):
        try:
            boxes = [np.asarray(b, dtype=np.float64).reshape(2, 2).ravel() for b in anno[i, 1].ravel()]
            if not all(np.isfinite(b).all() for b in boxes):
                raise ValueError("non-finite box value")
            poses = [np.asarray(p).ravel().tolist() for p in anno[i, 2].ravel()] if anno.shape[1] > 2 else []
            lmks = [np.asarray(p).tolist() for p in anno[i, 3].ravel()] if anno.shape[1] > 3 else []
            out.append(
                {
                    "imgname": _str(anno[i, 0]),
                    "boxes": np.asarray(boxes).reshape(-1, 4),
                    "poses": poses,
                    "landmarks": lmks,
                }
            )
        except (TypeError, ValueError) as e:
            raise DatasetFormatError(f"entry {i + 1}: {e}", file=path) from e
    return out


def _sources(
    path: str, records: List[Dict], key: str
) -> Tuple[List[AnnotationSource], List[List[AnnotationSource]]]:
    """Per record and per object, where it is in the ``.mat`` file ``path`` (1-based entry / object)."""
    images, faces = [], []
    for i, r in enumerate(records):
        where = f"entry {i + 1} ({r['imgname']})"
        images.append(AnnotationSource(path, item=where))
        faces.append([AnnotationSource(path, item=f"{where}, object {k + 1}") for k in range(len(r[key]))])
    return images, faces


def _face_eval_dicts(records: List[Dict], images_dir: str) -> List[Dict]:
    dicts = []
    for r in records:
        anns = []
        for x1, y1, x2, y2, col5, ignore in r["objects"]:
            anns.append(
                make_face_annotation(
                    [x1, y1, x2 - x1, y2 - y1],
                    ignore=int(ignore != 0),
                    attributes={"ignore": int(ignore), "col5": int(col5)},
                )
            )
        dicts.append(
            {
                "file_name": os.path.join(images_dir, r["imgname"]),
                "image_id": os.path.splitext(r["imgname"])[0],
                "height": r["height"],
                "width": r["width"],
                "annotations": anns,
            }
        )
    return dicts


def _require_images(images_dir: str, name: str, layout: str, require_images: bool) -> None:
    if require_images and not os.path.isdir(images_dir):
        raise FileNotFoundError(
            f"Dataset '{name}': image folder '{images_dir}' does not exist. Expected layout:\n{layout}"
        )


def _warn_missing_images(dicts, images_dir: str, dataset_name: str, image_sources) -> int:
    """Face-eval files give the sizes, so the images are not opened; when the image folder exists,
    count the listed images absent from it in one WARNING naming the first and its entry (they
    fail when read, e.g. by an evaluation; analysing saved predictions needs no image)."""
    if not os.path.isdir(images_dir):
        return 0
    missing = [i for i, d in enumerate(dicts) if not os.path.isfile(d["file_name"])]
    if missing:
        i = missing[0]
        logger.warning("Dataset '%s': %d of %d listed images are absent from %s, e.g. %s (%s)", dataset_name,
                       len(missing), len(dicts), images_dir, os.path.basename(dicts[i]["file_name"]),
                       image_sources[i])
    return len(missing)


def load_afw(dataset_dir: str, dataset_name: str = "afw", require_images: bool = True) -> List[Dict]:
    """Load AFW from ``dataset_dir`` (``<root>/afw``): ``new_annotations_AFW.mat`` when present
    (with ignore flags), else ``anno2.mat``. ``require_images=False`` parses the annotations
    without the ``images`` folder (``anno2.mat`` then gives no sizes)."""
    check_root(dataset_dir, dataset_name, AFW_LAYOUT)
    images_dir = os.path.join(dataset_dir, "images")
    new = os.path.join(dataset_dir, "new_annotations_AFW.mat")
    old = os.path.join(dataset_dir, "anno2.mat")
    if os.path.isfile(new):
        _require_images(images_dir, dataset_name, AFW_LAYOUT, require_images)
        records = parse_face_eval_mat(new)
        image_sources, face_sources = _sources(new, records, "objects")
        dicts = _face_eval_dicts(records, images_dir)
        _warn_missing_images(dicts, images_dir, dataset_name, image_sources)
    elif os.path.isfile(old):
        dicts = []
        records = parse_afw_anno2_mat(old)
        image_sources, face_sources = _sources(old, records, "boxes")
        for r in records:
            anns = []
            for k, (x1, y1, x2, y2) in enumerate(r["boxes"]):
                attrs = {}
                if k < len(r["poses"]):
                    attrs["pose"] = r["poses"][k]
                if k < len(r["landmarks"]):
                    attrs["landmarks"] = r["landmarks"][k]
                anns.append(make_face_annotation([x1, y1, x2 - x1, y2 - y1], attributes=attrs))
            dicts.append(
                {
                    "file_name": os.path.join(images_dir, r["imgname"]),
                    "image_id": os.path.splitext(r["imgname"])[0],
                    "annotations": anns,
                }
            )
        attach_image_sizes(dicts, images_dir, dataset_name, AFW_LAYOUT, require_images, image_sources)
    else:
        raise FileNotFoundError(
            f"Dataset '{dataset_name}': neither '{new}' nor '{old}' exists. Expected layout:\n{AFW_LAYOUT}"
        )
    check_face_boxes(dicts, face_sources)
    drop_degenerate_boxes(dicts, dataset_name, face_sources)
    logger.info("Loaded %d images of '%s'", len(dicts), dataset_name)
    return dicts


def load_pascal_face(
    dataset_dir: str, dataset_name: str = "pascal_face", require_images: bool = True
) -> List[Dict]:
    """Load PASCAL Face from ``dataset_dir`` (``<root>/pascal_face``), face-eval ``_fixed`` file.
    Malformed input: see the module docstring."""
    check_root(dataset_dir, dataset_name, PASCAL_FACE_LAYOUT)
    ann = os.path.join(dataset_dir, "Annotations_Face_PASCALLayout_large_fixed.mat")
    if not os.path.isfile(ann):
        raise FileNotFoundError(
            f"Dataset '{dataset_name}': '{ann}' does not exist. Expected layout:\n{PASCAL_FACE_LAYOUT}"
        )
    images_dir = os.path.join(dataset_dir, "images")
    _require_images(images_dir, dataset_name, PASCAL_FACE_LAYOUT, require_images)
    records = parse_face_eval_mat(ann)
    image_sources, face_sources = _sources(ann, records, "objects")
    dicts = _face_eval_dicts(records, images_dir)
    _warn_missing_images(dicts, images_dir, dataset_name, image_sources)
    check_face_boxes(dicts, face_sources)
    drop_degenerate_boxes(dicts, dataset_name, face_sources)
    logger.info("Loaded %d images of '%s'", len(dicts), dataset_name)
    return dicts
