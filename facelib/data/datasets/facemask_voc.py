"""The Kaggle "Face Mask Detection" set (andrewmvd, 853 images, PASCAL VOC XML) loader.

Layout::

    <root>/facemask/images/maksssksksss<N>.jpg
    <root>/facemask/annotations/maksssksksss<N>.xml       PASCAL VOC: size/{width,height},
                                                          object/{name, bndbox/{xmin,ymin,xmax,ymax}}

Classes (Spanish names in this copy of the set) all map to the single ``face`` class:

=========================  ============================  ==========
``object/name``            meaning                       ``masked``
=========================  ============================  ==========
``con_mascarilla``         with mask                     True
``mascarilla_mal_puesta``  mask worn incorrectly         True
``sin_mascarilla``         without mask                  False
=========================  ============================  ==========

A mask worn incorrectly still covers part of the face, which is what ``masked`` means in
``docs/data_format.md`` ("face covered by a mask / occluder"), hence True. The raw name is kept in
``attributes = {"label": name}``; any other name is an error naming the file.

Boxes: VOC corners are 1-based inclusive pixel indices (as in detectron2's ``pascal_voc`` loader),
so ``bbox = [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]``, clipped to the image size of
the XML ``size`` element (a few boxes of this set reach ``width + 1``).

Malformed input: an XML that does not parse (e.g. truncated) is an error naming the file and the
XML line; a missing or non-numeric field, a non-positive ``size`` and a box entirely outside the
image an error naming the file and the 1-based ``object`` index; a missing image an error naming
the image and the XML. Zero- and negative-size boxes (``xmax < xmin``) are dropped and counted in
one WARNING.

Deterministic split by the image number ``N``: ``N % 5 == 4`` is a withheld test split that no
loader here ever returns (those files are also absent on disk); ``facemask_train`` is
``N % 5 in {0, 1, 2}`` and ``facemask_val`` is ``N % 5 == 3``.
"""
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional

from .common import (
    AnnotationSource,
    DatasetFormatError,
    check_face_boxes,
    check_root,
    clip_xywh,
    drop_degenerate_boxes,
    make_face_annotation,
    read_image_size,
)

logger = logging.getLogger(__name__)

__all__ = [
    "FACEMASK_LAYOUT",
    "FACEMASK_CLASSES",
    "FACEMASK_SPLITS",
    "FACEMASK_WITHHELD_RESIDUE",
    "facemask_split_of",
    "parse_facemask_xml",
    "load_facemask",
]

FACEMASK_LAYOUT = """\
  <root>/facemask/images/maksssksksss<N>.jpg
  <root>/facemask/annotations/maksssksksss<N>.xml"""

# object/name -> masked
FACEMASK_CLASSES = {
    "con_mascarilla": True,
    "mascarilla_mal_puesta": True,
    "sin_mascarilla": False,
}

# N % 5 residues of each split; residue 4 is withheld (never loaded).
FACEMASK_SPLITS = {"train": (0, 1, 2), "val": (3,)}
FACEMASK_WITHHELD_RESIDUE = 4

_NAME_RE = re.compile(r"^maksssksksss(\d+)\.xml$")


def facemask_split_of(number: int) -> Optional[str]:
    """The split of image number ``N``: "train", "val", or None for the withheld test residue."""
    residue = number % 5
    for split, residues in FACEMASK_SPLITS.items():
        if residue in residues:
            return split
    return None


def _text(node, tag: str, path: str, where: str = "") -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise DatasetFormatError(f"{where}missing <{tag}>", file=path)
    return child.text.strip()


def _number(node, tag: str, path: str, where: str, convert=float):
    text = _text(node, tag, path, where)
    try:
        value = convert(text)
    except ValueError:
        kind = "an integer" if convert is int else "a number"
        raise DatasetFormatError(f"{where}<{tag}> is not {kind}: {text!r}", file=path) from None
    if not math.isfinite(value):
        raise DatasetFormatError(f"{where}<{tag}> is not finite: {text!r}", file=path)
    return value


def parse_facemask_xml(path: str) -> Dict:
    """Parse one VOC XML into ``{"height", "width", "objects": [(name, xmin, ymin, xmax, ymax)]}``.
    Raises :class:`DatasetFormatError` naming the file and the XML line (unparsable XML) or the
    1-based object index (missing / non-numeric fields)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise DatasetFormatError(f"invalid XML: {e}", file=path, line=e.position[0]) from e
    except OSError as e:
        raise OSError(f"Cannot read annotation file '{path}': {e}") from e
    width = _number(root, "size/width", path, "", int)
    height = _number(root, "size/height", path, "", int)
    if width <= 0 or height <= 0:
        raise DatasetFormatError(f"<size> must be positive, got {width}x{height}", file=path)
    objects = []
    for k, obj in enumerate(root.findall("object"), start=1):
        where = f"object {k}: "
        name = _text(obj, "name", path, where)
        if name not in FACEMASK_CLASSES:
            raise DatasetFormatError(
                f"{where}unknown class {name!r} (known: {sorted(FACEMASK_CLASSES)})", file=path
            )
        coords = [_number(obj, f"bndbox/{c}", path, where) for c in ("xmin", "ymin", "xmax", "ymax")]
        objects.append((name, *coords))
    return {"height": height, "width": width, "objects": objects}


def load_facemask(
    dataset_dir: str,
    split: str,
    dataset_name: Optional[str] = None,
    verify_image_size: bool = False,
) -> List[Dict]:
    """Load split "train" or "val" of the face-mask set from ``dataset_dir`` (``<root>/facemask``).

    Sizes come from the XML ``size`` element (fast); ``verify_image_size=True`` also reads every
    image header and raises if it disagrees (all 683 files of the shared copy agree). Malformed
    input: see the module docstring.
    """
    if split not in FACEMASK_SPLITS:
        raise ValueError(f"facemask split must be one of {sorted(FACEMASK_SPLITS)}, got {split!r}")
    name = dataset_name or f"facemask_{split}"
    check_root(dataset_dir, name, FACEMASK_LAYOUT)
    ann_dir = os.path.join(dataset_dir, "annotations")
    img_dir = os.path.join(dataset_dir, "images")
    check_root(ann_dir, name, FACEMASK_LAYOUT)
    check_root(img_dir, name, FACEMASK_LAYOUT)

    numbered = []
    for fname in os.listdir(ann_dir):
        m = _NAME_RE.match(fname)
        if m is None:
            if fname.endswith(".xml"):
                raise DatasetFormatError(
                    "annotation file name does not match 'maksssksksss<N>.xml'",
                    file=os.path.join(ann_dir, fname),
                )
            continue
        numbered.append((int(m.group(1)), fname))
    numbered.sort()

    dicts = []
    face_sources = []
    for number, fname in numbered:
        if facemask_split_of(number) != split:  # also excludes the withheld N % 5 == 4
            continue
        xml_path = os.path.join(ann_dir, fname)
        rec = parse_facemask_xml(xml_path)
        h, w = rec["height"], rec["width"]
        stem = fname[: -len(".xml")]
        file_name = os.path.join(img_dir, stem + ".jpg")
        if not os.path.isfile(file_name):
            raise FileNotFoundError(f"Dataset '{name}': image '{file_name}' of '{xml_path}' is missing")
        if verify_image_size:
            real = read_image_size(file_name)
            if real != (h, w):
                raise DatasetFormatError(
                    f"<size> says {w}x{h} but image '{file_name}' is {real[1]}x{real[0]}", file=xml_path
                )
        anns = []
        for label, x0, y0, x1, y1 in rec["objects"]:
            bbox = [x0 - 1.0, y0 - 1.0, x1 - x0 + 1.0, y1 - y0 + 1.0]  # clipped below
            anns.append(
                make_face_annotation(bbox, masked=FACEMASK_CLASSES[label], attributes={"label": label})
            )
        face_sources.append([AnnotationSource(xml_path, item=f"object {k + 1}") for k in range(len(anns))])
        dicts.append(
            {"file_name": file_name, "image_id": stem, "height": h, "width": w, "annotations": anns}
        )
    check_face_boxes(dicts, face_sources)
    for d in dicts:
        for a in d["annotations"]:
            a["bbox"] = clip_xywh(a["bbox"], d["height"], d["width"])
    drop_degenerate_boxes(dicts, name, face_sources)
    logger.info("Loaded %d images of '%s' from %s", len(dicts), name, ann_dir)
    return dicts
