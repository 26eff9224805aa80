"""WIDER FACE (Yang et al., "WIDER FACE: A Face Detection Benchmark", CVPR 2016) loader.

Layout (the official release; ``<dataset_dir>`` is ``<root>/widerface`` or ``<root>/widerface_val200``)::

    <dataset_dir>/WIDER_{train,val,test}/images/<event>/<name>.jpg
    <dataset_dir>/wider_face_split/wider_face_{train,val}_bbx_gt.txt   (preferred when present)
    <dataset_dir>/wider_face_split/wider_face_{train,val}.mat          (used otherwise)
    <dataset_dir>/wider_face_split/wider_face_test_filelist.txt        (test; else wider_face_test.mat)
    <dataset_dir>/eval_tools/ground_truth/wider_face_val.mat, wider_{easy,medium,hard}_val.mat

Official text format (``wider_face_split/readme.txt``), one block per image::

    <event>/<name>.jpg
    <number of faces N>
    x1 y1 w h blur expression illumination invalid occlusion pose      (N lines)

An image without faces is written as ``N = 0`` followed by one all-zero placeholder line, which is
consumed and yields no face (a count 0 directly followed by the next path is accepted too). Some
releases instead write ``N = 1`` and an all-zero face line (the val file has 4 such images); that
line is parsed as a face with ``w = h = 0`` and dropped, counted, with the degenerate boxes.

``.mat`` format: ``event_list`` (E x 1 cells of event names), ``file_list`` (per event, cells of
names without ``.jpg``), ``face_bbx_list`` (per event, per image an N x 4 ``[x1 y1 w h]`` array) and
``blur_label_list``, ``expression_label_list``, ``illumination_label_list``,
``invalid_label_list``, ``occlusion_label_list``, ``pose_label_list`` (per event, per image N x 1).
The ``.mat`` files write a face-less image as a single all-zero box with all-zero labels; like
every ``w <= 0`` / ``h <= 0`` box it is dropped and counted in the degenerate-box WARNING. The
test ``.mat`` holds only ``event_list`` / ``file_list``.

Each face keeps ``attributes = {blur, expression, illumination, invalid, occlusion, pose}``,
``ignore = invalid``, ``occluded = occlusion > 0``. ``image_id`` is ``"<event>/<name>"`` (the
official submission layout). The test split has no ground truth, so its dicts have no
``annotations`` key.

Malformed input: a truncated file, a non-numeric or non-finite value, a box entirely outside its
image (checked when the images are read) and a missing image file raise an error naming the
annotation file and line (``.mat``: the event / image / face index; an undecodable ``.mat`` raises
:class:`~.common.UnreadableAnnotationError`). Zero- and negative-size boxes are not errors: the
official annotations contain them (``w = 0`` / ``h = 0`` faces, most flagged ``invalid``) and the
official evaluation keeps going on them, so they are dropped and counted in one WARNING.
"""
import logging
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from .common import (
    AnnotationSource,
    DatasetFormatError,
    UnreadableAnnotationError,
    attach_image_sizes,
    check_face_boxes,
    check_root,
    drop_degenerate_boxes,
    iter_count_blocks,
    make_face_annotation,
    read_annotation_lines,
)

logger = logging.getLogger(__name__)

__all__ = [
    "WIDER_ATTRIBUTES",
    "WIDER_FACE_LAYOUT",
    "parse_wider_face_txt",
    "parse_wider_face_mat",
    "parse_wider_face_filelist",
    "load_wider_face",
    "wider_face_annotation_file",
]

# Column order of the official text file after the box (readme.txt of wider_face_split).
WIDER_ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")

WIDER_FACE_LAYOUT = """\
  <dataset_dir>/WIDER_{train,val,test}/images/<event>/<name>.jpg
  <dataset_dir>/wider_face_split/wider_face_{train,val}_bbx_gt.txt  (or wider_face_{train,val}.mat)
  <dataset_dir>/wider_face_split/wider_face_test_filelist.txt       (or wider_face_test.mat)
  <dataset_dir>/eval_tools/ground_truth/wider_{face,easy,medium,hard}_val.mat   (optional)"""

# One parsed image: (relative path "<event>/<name>.jpg", (N, 10) float array or None for test).
WiderRecord = Tuple[str, Optional[np.ndarray]]
# Where a record and each of its faces come from in the annotation file.
_Sources = Tuple[AnnotationSource, List[AnnotationSource]]


def parse_wider_face_txt(path: str) -> List[WiderRecord]:
    """Parse an official ``wider_face_*_bbx_gt.txt`` into ``[(rel_path, faces)]`` where ``faces`` is
    an ``(N, 10)`` array of ``x1 y1 w h blur expression illumination invalid occlusion pose``.
    Raises :class:`DatasetFormatError` (file and 1-based line) on malformed input."""
    return [rec for rec, _ in _parse_txt(path)]


def _parse_txt(path: str) -> List[Tuple[WiderRecord, _Sources]]:
    lines = read_annotation_lines(path, "WIDER FACE")
    blocks = iter_count_blocks(
        path,
        lines,
        row_width=10,
        row_description="x1 y1 w h blur expression illumination invalid occlusion pose",
        header_description="an image path '<event>/<name>.jpg'",
        header_check=lambda tokens: "/" in tokens[0],
        zero_count_placeholder=True,
    )
    records = []
    for block in blocks:
        faces = np.asarray([values for _, values in block.rows], dtype=np.float64).reshape(-1, 10)
        face_sources = [AnnotationSource(path, lineno) for lineno, _ in block.rows]
        records.append(((block.header[0], faces), (AnnotationSource(path, block.line), face_sources)))
    return records


def parse_wider_face_filelist(path: str) -> List[WiderRecord]:
    """Parse ``wider_face_test_filelist.txt`` (one ``<event>/<name>.jpg`` per line)."""
    return [rec for rec, _ in _parse_filelist(path)]


def _parse_filelist(path: str) -> List[Tuple[WiderRecord, _Sources]]:
    records: List[Tuple[WiderRecord, _Sources]] = []
    with open(path, "r") as f:
        for lineno, line in enumerate(f, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 1 or "/" not in tokens[0]:
                raise DatasetFormatError(
                    f"expected an image path '<event>/<name>.jpg', got {line.rstrip()!r}",
                    file=path, line=lineno,
                )
            records.append(((tokens[0], None), (AnnotationSource(path, lineno), [])))
    return records


def _mat_str(cell) -> str:
    """A MATLAB char cell as loaded by scipy (nested 1-element arrays) -> str."""
    a = cell
    while isinstance(a, np.ndarray):
        if a.size != 1:
            if a.dtype.kind == "U":
                return "".join(a.ravel().tolist())
            raise ValueError(f"expected a string cell, got an array of shape {a.shape}")
        a = a.ravel()[0]
    return str(a)


def parse_wider_face_mat(path: str) -> List[WiderRecord]:
    """Parse an official ``wider_face_{train,val,test}.mat`` into the same records as
    :func:`parse_wider_face_txt` (``faces`` is ``None`` for the test file, which has no boxes).
    Errors name the file and the event/image index (``.mat`` has no lines); a file scipy cannot
    decode (e.g. truncated) raises :class:`~.common.UnreadableAnnotationError`."""
    return [rec for rec, _ in _parse_mat(path)]


def _parse_mat(path: str) -> List[Tuple[WiderRecord, _Sources]]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for corrupt files
        raise UnreadableAnnotationError(f"cannot read the WIDER FACE .mat file: {e}", file=path) from e
    for key in ("event_list", "file_list"):
        if key not in mat:
            raise DatasetFormatError(f"missing variable '{key}'", file=path)
    has_boxes = "face_bbx_list" in mat
    label_keys = [f"{a}_label_list" for a in WIDER_ATTRIBUTES]
    if has_boxes:
        missing = [k for k in label_keys if k not in mat]
        if missing:
            raise DatasetFormatError(f"missing variables {missing}", file=path)

    events = mat["event_list"].ravel()
    file_lists = mat["file_list"].ravel()
    if len(file_lists) != len(events):
        raise DatasetFormatError(
            f"event_list has {len(events)} events but file_list has {len(file_lists)}", file=path
        )
    records: List[Tuple[WiderRecord, _Sources]] = []
    for e, event_cell in enumerate(events):
        event = _mat_str(event_cell)
        names = [_mat_str(c) for c in file_lists[e].ravel()]
        where = [f"event {e + 1} ({event}), image {j + 1} ({name})" for j, name in enumerate(names)]
        if not has_boxes:
            records.extend(
                ((f"{event}/{name}.jpg", None), (AnnotationSource(path, item=w), []))
                for name, w in zip(names, where)
            )
            continue
        boxes = mat["face_bbx_list"].ravel()[e].ravel()
        labels = [mat[k].ravel()[e].ravel() for k in label_keys]
        if len(boxes) != len(names) or any(len(lab) != len(names) for lab in labels):
            raise DatasetFormatError(
                f"event {e + 1} ({event}): file_list, face_bbx_list and the label lists differ in length",
                file=path,
            )
        for j, name in enumerate(names):
            try:
                b = np.asarray(boxes[j], dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise DatasetFormatError(
                    f"{where[j]}: face_bbx_list entry is not numeric: {err}", file=path
                ) from None
            if b.size == 0:
                b = b.reshape(0, 4)
            if b.ndim != 2 or b.shape[1] != 4:
                raise DatasetFormatError(
                    f"event {e + 1} ({event}), image {j + 1} ({name}): face_bbx_list entry has shape "
                    f"{b.shape}, expected N x 4", file=path,
                )
            cols = []
            for key, lab in zip(label_keys, labels):
                try:
                    v = np.asarray(lab[j], dtype=np.float64).reshape(-1)
                except (TypeError, ValueError) as err:
                    raise DatasetFormatError(f"{where[j]}: {key} is not numeric: {err}", file=path) from None
                if v.size != b.shape[0]:
                    raise DatasetFormatError(
                        f"event {e + 1} ({event}), image {j + 1} ({name}): {key} has {v.size} values "
                        f"for {b.shape[0]} boxes", file=path,
                    )
                cols.append(v[:, None])
            rows = np.concatenate([b] + cols, axis=1) if b.shape[0] else np.zeros((0, 10))
            if not np.isfinite(rows).all():
                raise DatasetFormatError(f"{where[j]}: non-finite box or label value", file=path)
            source = AnnotationSource(path, item=where[j])
            face_sources = [source._replace(item=f"{where[j]}, face {k + 1}") for k in range(len(rows))]
            records.append(((f"{event}/{name}.jpg", rows), (source, face_sources)))
    return records


def wider_face_annotation_file(dataset_dir: str, split: str) -> str:
    """The annotation file used for ``split``: the ``.txt`` when present, else the ``.mat``."""
    split_dir = os.path.join(dataset_dir, "wider_face_split")
    if split == "test":
        candidates = ["wider_face_test_filelist.txt", "wider_face_test.mat"]
    else:
        candidates = [f"wider_face_{split}_bbx_gt.txt", f"wider_face_{split}.mat"]
    for c in candidates:
        p = os.path.join(split_dir, c)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(
        f"WIDER FACE {split}: none of {candidates} found in '{split_dir}'. Expected layout:\n"
        f"{WIDER_FACE_LAYOUT}"
    )


def load_wider_face(
    dataset_dir: str,
    split: str,
    dataset_name: Optional[str] = None,
    require_images: bool = True,
) -> List[Dict]:
    """Load WIDER FACE ``split`` ("train", "val" or "test") from ``dataset_dir`` (layout in the
    module docstring) as detectron2 dataset dicts.

    ``height``/``width`` come from the image headers; if ``WIDER_<split>/images`` is missing this
    raises ``FileNotFoundError`` naming the layout, unless ``require_images=False`` (annotations
    only, no sizes). Degenerate boxes are dropped and counted in a WARNING; the other malformed
    input (module docstring) raises an error naming the annotation file and line.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"WIDER FACE split must be 'train', 'val' or 'test', got {split!r}")
    name = dataset_name or f"widerface_{split}"
    check_root(dataset_dir, name, WIDER_FACE_LAYOUT)
    ann_file = wider_face_annotation_file(dataset_dir, split)
    if ann_file.endswith(".mat"):
        records = _parse_mat(ann_file)
    elif split == "test":
        records = _parse_filelist(ann_file)
    else:
        records = _parse_txt(ann_file)

    images_dir = os.path.join(dataset_dir, f"WIDER_{split}", "images")
    dicts = []
    for (rel, faces), _ in records:
        event = rel.split("/")[0]
        stem = rel[: -len(".jpg")] if rel.lower().endswith(".jpg") else os.path.splitext(rel)[0]
        d = {
            "file_name": os.path.join(images_dir, rel),
            "image_id": stem,
            "event": event,
        }
        if faces is not None:
            anns = []
            for row in faces:
                attrs = {k: int(v) for k, v in zip(WIDER_ATTRIBUTES, row[4:])}
                anns.append(
                    make_face_annotation(
                        row[:4],
                        ignore=attrs["invalid"],
                        occluded=attrs["occlusion"] > 0,
                        attributes=attrs,
                    )
                )
            d["annotations"] = anns
        dicts.append(d)
    logger.info("Loaded %d images of '%s' from %s", len(dicts), name, ann_file)
    image_sources = [src for _, (src, _) in records]
    face_sources = [srcs for _, (_, srcs) in records]
    attach_image_sizes(dicts, images_dir, name, WIDER_FACE_LAYOUT, require_images, image_sources)
    check_face_boxes(dicts, face_sources)
    drop_degenerate_boxes(dicts, name, face_sources)
    return dicts
