"""FDDB (Jain & Learned-Miller, "FDDB: A Benchmark for Face Detection in Unconstrained Settings",
UMass tech. report UM-CS-2010-009) loader.

Layout (the official release)::

    <root>/fddb/originalPics/<path>.jpg                      e.g. 2002/08/11/big/img_591.jpg
    <root>/fddb/FDDB-folds/FDDB-fold-XX.txt                  XX = 01..10, one <path> per line
    <root>/fddb/FDDB-folds/FDDB-fold-XX-ellipseList.txt      one block per image:
        <path>
        <number of faces N>
        <major_axis_radius> <minor_axis_radius> <angle> <center_x> <center_y> 1     (N lines)

The ellipse is kept in ``attributes = {major_axis_radius, minor_axis_radius, angle, center_x,
center_y}``. ``angle`` (radians) is the direction of the major axis from the image x axis, so
the ellipse is ``(a cos t cos A - b sin t sin A + cx, a cos t sin A + b sin t cos A + cy)`` with
``a`` / ``b`` the major / minor radius and ``A`` the angle. Its axis-aligned bounding box has
half-extents (maximising each coordinate over ``t``)::

    half_w = sqrt((a cos A)^2 + (b sin A)^2)
    half_h = sqrt((a sin A)^2 + (b cos A)^2)
    bbox   = [cx - half_w, cy - half_h, 2 half_w, 2 half_h]

clipped to the image when its size is known. ``image_id`` is ``<path>``; ``fold`` is 1..10.
When ``FDDB-fold-XX.txt`` exists, its image list must equal the ellipse file's (same order).

Malformed input: a truncated file, a non-numeric or non-finite value, an ellipse whose box lies
entirely outside the image (checked when the images are read, before clipping) and a missing image
file raise an error naming the ellipse file and line; so does a negative radius (its box would look
valid). An ellipse with a zero radius (a zero-size box; none in the official folds) is dropped and
counted in one WARNING.
"""
import logging
import math
import os
from typing import Dict, Iterable, List, Optional, Tuple

from .common import (
    AnnotationSource,
    CountBlock,
    DatasetFormatError,
    attach_image_sizes,
    check_face_boxes,
    check_file,
    check_root,
    clip_xywh,
    drop_degenerate_boxes,
    iter_count_blocks,
    make_face_annotation,
    parse_finite_floats,
    read_annotation_lines,
)

logger = logging.getLogger(__name__)

__all__ = [
    "FDDB_LAYOUT",
    "FDDB_ELLIPSE_KEYS",
    "ellipse_to_xywh",
    "parse_fddb_ellipse_list",
    "load_fddb",
]

FDDB_LAYOUT = """\
  <root>/fddb/originalPics/<path>.jpg
  <root>/fddb/FDDB-folds/FDDB-fold-XX.txt               (XX = 01..10)
  <root>/fddb/FDDB-folds/FDDB-fold-XX-ellipseList.txt"""

FDDB_ELLIPSE_KEYS = ("major_axis_radius", "minor_axis_radius", "angle", "center_x", "center_y")


def ellipse_to_xywh(major: float, minor: float, angle: float, cx: float, cy: float) -> List[float]:
    """Exact axis-aligned bounding box ``[x, y, w, h]`` of the rotated ellipse (formula in the
    module docstring)."""
    c, s = math.cos(angle), math.sin(angle)
    half_w = math.sqrt((major * c) ** 2 + (minor * s) ** 2)
    half_h = math.sqrt((major * s) ** 2 + (minor * c) ** 2)
    return [cx - half_w, cy - half_h, 2.0 * half_w, 2.0 * half_h]


def parse_fddb_ellipse_list(path: str) -> List[Tuple[str, List[Tuple[float, ...]]]]:
    """Parse one ``FDDB-fold-XX-ellipseList.txt`` into ``[(image_path, [(major, minor, angle, cx,
    cy), ...])]``. Raises :class:`DatasetFormatError` (file and 1-based line) on malformed input."""
    return [(block.header[0], [values for _, values in block.rows]) for block in _parse_blocks(path)]


def _parse_ellipse_row(tokens: List[str]) -> Tuple[float, ...]:
    """``major minor angle cx cy 1`` -> the first five values; the radii must not be negative."""
    values = tuple(parse_finite_floats(tokens[:5]))
    if values[0] < 0 or values[1] < 0:
        raise DatasetFormatError(f"negative ellipse radius in {' '.join(tokens)!r}")
    return values


def _parse_blocks(path: str) -> List[CountBlock]:
    lines = read_annotation_lines(path, "FDDB")
    return list(
        iter_count_blocks(
            path,
            lines,
            row_width=6,
            row_description="major_axis_radius minor_axis_radius angle center_x center_y 1",
            row_name="ellipse",
            parse_row=_parse_ellipse_row,
        )
    )


def _read_fold_list(path: str) -> List[Tuple[int, str]]:
    with open(path, "r") as f:
        return [(lineno, line.strip()) for lineno, line in enumerate(f, start=1) if line.strip()]


def load_fddb(
    dataset_dir: str,
    folds: Optional[Iterable[int]] = None,
    dataset_name: str = "fddb",
    require_images: bool = True,
) -> List[Dict]:
    """Load FDDB ``folds`` (ints in 1..10; default all ten) from ``dataset_dir`` (``<root>/fddb``).

    ``height``/``width`` come from the image headers and boxes are clipped to the image; if
    ``originalPics`` is missing this raises ``FileNotFoundError`` naming the layout, unless
    ``require_images=False`` (annotations only: no sizes, boxes unclipped). Malformed input: see
    the module docstring.
    """
    folds = list(range(1, 11)) if folds is None else [int(f) for f in folds]
    bad = [f for f in folds if not 1 <= f <= 10]
    if bad:
        raise ValueError(f"FDDB folds are 1..10, got {bad}")
    check_root(dataset_dir, dataset_name, FDDB_LAYOUT)
    folds_dir = os.path.join(dataset_dir, "FDDB-folds")
    images_dir = os.path.join(dataset_dir, "originalPics")
    dicts = []
    image_sources, face_sources = [], []
    for fold in folds:
        ell_path = os.path.join(folds_dir, f"FDDB-fold-{fold:02d}-ellipseList.txt")
        check_file(ell_path, dataset_name, FDDB_LAYOUT)
        blocks = _parse_blocks(ell_path)
        list_path = os.path.join(folds_dir, f"FDDB-fold-{fold:02d}.txt")
        if os.path.isfile(list_path):
            listed = _read_fold_list(list_path)
            if [name for _, name in listed] != [b.header[0] for b in blocks]:
                diff = next(
                    (k for k, (entry, b) in enumerate(zip(listed, blocks)) if entry[1] != b.header[0]),
                    min(len(listed), len(blocks)),
                )
                raise DatasetFormatError(
                    f"the image list differs from the one of {ell_path} "
                    f"({len(listed)} vs {len(blocks)} images; first difference at image {diff + 1})",
                    file=list_path,
                    line=listed[diff][0] if diff < len(listed) else None,
                )
        for block in blocks:
            img = block.header[0]
            image_sources.append(AnnotationSource(ell_path, block.line))
            face_sources.append([AnnotationSource(ell_path, lineno) for lineno, _ in block.rows])
            anns = [
                make_face_annotation(
                    ellipse_to_xywh(*f), attributes=dict(zip(FDDB_ELLIPSE_KEYS, f))
                )
                for _, f in block.rows
            ]
            dicts.append(
                {
                    "file_name": os.path.join(images_dir, img + ".jpg"),
                    "image_id": img,
                    "fold": fold,
                    "annotations": anns,
                }
            )
    has_sizes = attach_image_sizes(
        dicts, images_dir, dataset_name, FDDB_LAYOUT, require_images, image_sources
    )
    check_face_boxes(dicts, face_sources)
    if has_sizes:
        for d in dicts:
            for a in d["annotations"]:
                a["bbox"] = clip_xywh(a["bbox"], d["height"], d["width"])
    drop_degenerate_boxes(dicts, dataset_name, face_sources)
    logger.info("Loaded %d images of '%s' (folds %s)", len(dicts), dataset_name, folds)
    return dicts
