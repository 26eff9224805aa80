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
"""
import logging
import os
from typing import Dict, List, Optional, Tuple

from .common import (
    DatasetFormatError,
    check_file,
    check_root,
    drop_degenerate_boxes,
    make_face_annotation,
    read_image_size,
)

logger = logging.getLogger(__name__)

__all__ = ["SFS_LAYOUT", "parse_sfs_faces_txt", "load_sfs"]

SFS_LAYOUT = """\
  <root>/sfs/<split>/images/<name>.jpg
  <root>/sfs/<split>/masks/<name>.png
  <root>/sfs/<split>/faces.txt   (blocks: '<image> <mask>', 'N', N x 'x y w h occluded'; '#' comments)"""

SfsRecord = Tuple[str, str, List[Tuple[float, float, float, float, int]]]


def parse_sfs_faces_txt(path: str) -> List[SfsRecord]:
    """Parse ``faces.txt`` into ``[(image_rel, mask_rel, [(x, y, w, h, occluded), ...])]``.
    Raises :class:`DatasetFormatError` (file and 1-based line) on malformed input."""
    try:
        with open(path, "r") as f:
            raw = f.read().splitlines()
    except OSError as e:
        raise OSError(f"Cannot read SFS annotation file '{path}': {e}") from e
    # (line number, content) of the meaningful lines
    lines = [(i + 1, s.strip()) for i, s in enumerate(raw) if s.strip() and not s.lstrip().startswith("#")]
    records: List[SfsRecord] = []
    k = 0
    while k < len(lines):
        lineno, text = lines[k]
        tokens = text.split()
        if len(tokens) != 2:
            raise DatasetFormatError(
                f"expected '<image path> <mask path>', got {text!r}", file=path, line=lineno
            )
        image_rel, mask_rel = tokens
        if k + 1 >= len(lines):
            raise DatasetFormatError(f"missing face count after {text!r}", file=path, line=lineno + 1)
        cnt_line, cnt_text = lines[k + 1]
        if not cnt_text.isdigit():
            raise DatasetFormatError(
                f"expected the number of faces of {image_rel!r}, got {cnt_text!r}", file=path, line=cnt_line
            )
        count = int(cnt_text)
        k += 2
        faces = []
        for _ in range(count):
            if k >= len(lines):
                raise DatasetFormatError(
                    f"file ends inside the {count} face lines of {image_rel!r}",
                    file=path, line=len(raw) + 1,
                )
            lineno, text = lines[k]
            tokens = text.split()
            if len(tokens) != 5:
                raise DatasetFormatError(
                    f"expected 'x y w h occluded' for a face of {image_rel!r}, got {text!r}",
                    file=path, line=lineno,
                )
            try:
                x, y, w, h = (float(t) for t in tokens[:4])
                occ = int(tokens[4])
            except ValueError:
                raise DatasetFormatError(f"expected numbers, got {text!r}", file=path, line=lineno) from None
            if occ not in (0, 1):
                raise DatasetFormatError(f"'occluded' must be 0 or 1, got {occ}", file=path, line=lineno)
            faces.append((x, y, w, h, occ))
            k += 1
        records.append((image_rel, mask_rel, faces))
    return records


def _image_id(image_rel: str) -> str:
    rel = image_rel.replace(os.sep, "/")
    if rel.startswith("images/"):
        rel = rel[len("images/"):]
    return os.path.splitext(rel)[0]


def load_sfs(split_dir: str, dataset_name: Optional[str] = None, check_masks: bool = True) -> List[Dict]:
    """Load an SFS-format split folder (``<root>/sfs/<split>`` or the synthetic cache folder).
    Every image must exist (its header gives ``height``/``width``); with ``check_masks`` every mask
    file must exist too. Missing files are errors naming the path."""
    name = dataset_name or f"sfs_{os.path.basename(os.path.normpath(split_dir))}"
    check_root(split_dir, name, SFS_LAYOUT)
    ann_path = os.path.join(split_dir, "faces.txt")
    check_file(ann_path, name, SFS_LAYOUT)
    dicts = []
    for image_rel, mask_rel, faces in parse_sfs_faces_txt(ann_path):
        file_name = os.path.join(split_dir, image_rel)
        mask_file = os.path.join(split_dir, mask_rel)
        if check_masks and not os.path.isfile(mask_file):
            raise FileNotFoundError(
                f"Dataset '{name}': occlusion mask '{mask_file}' of image '{image_rel}' "
                f"(listed in '{ann_path}') is missing"
            )
        height, width = read_image_size(file_name)
        anns = [
            make_face_annotation([x, y, w, h], occluded=bool(occ), attributes={"occluded": occ})
            for x, y, w, h, occ in faces
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
    drop_degenerate_boxes(dicts, name)
    logger.info("Loaded %d images of '%s' from %s", len(dicts), name, ann_path)
    return dicts
