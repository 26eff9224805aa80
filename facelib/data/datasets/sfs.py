"""SFS-format loader: the occlusion-segmentation face set of AOFD (Chen et al., "Adversarial
Occlusion-aware Face Detection", BTAS 2018). The set is not public; facelib defines its on-disk
format in ``docs/data_format.md`` ("SFS format"), and this module parses exactly that::

    <split_dir>/images/<name>.jpg     any image format OpenCV reads
    <split_dir>/masks/<name>.png      uint8, one channel, same size as the image:
                                      0 = not occluded, non-zero = occluded face pixel
    <split_dir>/faces.txt             one block per image:
        <image path relative to split_dir> <mask path relative to split_dir>
        <number of faces N>
        x y w h occluded              (N lines; pixels; occluded is 0 or 1)

Lines starting with ``#`` (and blank lines) are skipped. ``<split_dir>`` is
``<root>/sfs/<split>`` for the registered ``sfs_train`` / ``sfs_val``; the embedded synthetic set
writes the same layout into its cache folder.

Dataset dicts carry ``occlusion_mask_file`` (absolute path of the mask); each face has
``occluded`` and ``attributes = {"occluded": 0 or 1}``. ``image_id`` is the image path relative to
``split_dir/images`` (or to ``split_dir`` for images elsewhere) without extension;
``height``/``width`` come from the image headers.

Malformed input: a truncated ``faces.txt``, a non-numeric or non-finite value, a box entirely
outside its image and a missing image or mask file raise an error naming ``faces.txt`` and the
line. Zero- and negative-size boxes are dropped and counted in one WARNING.
"""
import logging
import os
from typing import Dict, List, Optional, Tuple

from .common import (
    AnnotationSource,
    CountBlock,
    DatasetFormatError,
    check_face_boxes,
    check_file,
    check_root,
    drop_degenerate_boxes,
    iter_count_blocks,
    make_face_annotation,
    parse_finite_floats,
    read_annotation_lines,
    read_listed_image_size,
)

logger = logging.getLogger(__name__)

__all__ = ["SFS_LAYOUT", "parse_sfs_faces_txt", "load_sfs"]

SFS_LAYOUT = """\
  <root>/sfs/<split>/images/<name>.jpg
  <root>/sfs/<split>/masks/<name>.png
  <root>/sfs/<split>/faces.txt   (blocks: '<image> <mask>', 'N', N x 'x y w h occluded'; '#' comments)"""

SfsRecord = Tuple[str, str, List[Tuple[float, float, float, float, int]]]


def _parse_face_row(tokens: List[str]) -> Tuple[float, float, float, float, int]:
    """``x y w h occluded`` -> ``(x, y, w, h, occluded)``; ``occluded`` must be the integer 0 or 1."""
    x, y, w, h = parse_finite_floats(tokens[:4])
    occ = int(tokens[4])
    if occ not in (0, 1):
        raise DatasetFormatError(f"'occluded' must be 0 or 1, got {occ}")
    return (x, y, w, h, occ)


def parse_sfs_faces_txt(path: str) -> List[SfsRecord]:
    """Parse ``faces.txt`` into ``[(image_rel, mask_rel, [(x, y, w, h, occluded), ...])]``.
    Raises :class:`DatasetFormatError` (file and 1-based line) on malformed input."""
    return [
        (block.header[0], block.header[1], [face for _, face in block.rows]) for block in _parse_blocks(path)
    ]


def _parse_blocks(path: str) -> List[CountBlock]:
    lines = read_annotation_lines(path, "SFS")
    return list(
        iter_count_blocks(
            path,
            lines,
            row_width=5,
            row_description="x y w h occluded",
            header_width=2,
            header_description="'<image path> <mask path>'",
            parse_row=_parse_face_row,
            comment_prefix="#",
        )
    )


def _image_id(image_rel: str) -> str:
    rel = image_rel.replace(os.sep, "/")
    if rel.startswith("images/"):
        rel = rel[len("images/"):]
    return os.path.splitext(rel)[0]


def load_sfs(split_dir: str, dataset_name: Optional[str] = None, check_masks: bool = True) -> List[Dict]:
    """Load an SFS-format split folder (``<root>/sfs/<split>`` or the synthetic cache folder).
    Every image must exist (its header gives ``height``/``width``); with ``check_masks`` every mask
    file must exist too. Missing files are errors naming the path and the ``faces.txt`` line; other
    malformed input: see the module docstring."""
    name = dataset_name or f"sfs_{os.path.basename(os.path.normpath(split_dir))}"
    check_root(split_dir, name, SFS_LAYOUT)
    ann_path = os.path.join(split_dir, "faces.txt")
    check_file(ann_path, name, SFS_LAYOUT)
    dicts = []
    face_sources = []
    for block in _parse_blocks(ann_path):
        image_rel, mask_rel = block.header
        source = AnnotationSource(ann_path, block.line)
        file_name = os.path.join(split_dir, image_rel)
        mask_file = os.path.join(split_dir, mask_rel)
        if check_masks and not os.path.isfile(mask_file):
            raise FileNotFoundError(
                f"Dataset '{name}': occlusion mask '{mask_file}' of image '{image_rel}' "
                f"(listed at {source}) is missing"
            )
        height, width = read_listed_image_size(file_name, name, source)
        face_sources.append([AnnotationSource(ann_path, lineno) for lineno, _ in block.rows])
        anns = [
            make_face_annotation([x, y, w, h], occluded=bool(occ), attributes={"occluded": occ})
            for _, (x, y, w, h, occ) in block.rows
        ]
        dicts.append(
            {
                "file_name": file_name,
                "image_id": _image_id(image_rel),
                "height": height,
                "width": width,
                "occlusion_mask_file": mask_file,
                "annotations": anns,
            }
        )
    check_face_boxes(dicts, face_sources)
    drop_degenerate_boxes(dicts, name, face_sources)
    logger.info("Loaded %d images of '%s' from %s", len(dicts), name, ann_path)
    return dicts
