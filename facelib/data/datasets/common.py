"""Helpers shared by the facelib dataset loaders (see ``docs/data_format.md``).

- :class:`DatasetFormatError`: a malformed annotation file, carrying the file and line;
  :class:`UnreadableAnnotationError` (also an ``OSError``): a binary file that cannot be decoded.
- :class:`AnnotationSource`: where an image / face comes from (file and line, or ``.mat`` / XML item).
- :func:`check_face_boxes`: non-finite boxes and boxes entirely outside their image are errors.
- :func:`make_face_annotation`: one face annotation dict in the detectron2 / facelib layout.
- :func:`drop_degenerate_boxes`: remove boxes with ``w <= 0`` or ``h <= 0`` and log how many.
- :func:`check_root` / :func:`check_file`: clear errors naming the expected layout.
- :func:`read_image_size`: ``(height, width)`` from the image header, without decoding pixels;
  :func:`read_listed_image_size` also names the annotation that lists a missing image.
- :func:`attach_image_sizes`: fill ``height`` / ``width`` of the dataset dicts from the headers.
- :func:`clip_xywh`: clip a box to the image.
- :func:`read_annotation_lines` / :func:`iter_count_blocks`: the block-structured text format
  shared by WIDER FACE, FDDB and SFS (header line, count line ``N``, ``N`` value lines).

Malformed input, for every loader: a truncated or non-numeric annotation, a non-finite box, a box
entirely outside its image and a missing image file are errors naming the annotation file and the
line (``.mat`` / XML: the entry / object); zero- or negative-size boxes are dropped and counted in
one WARNING per dataset (``docs/data_format.md``: nothing is dropped silently).
"""
import logging
import math
import os
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from detectron2.structures import BoxMode

from facelib.utils.progress import logged_progress

logger = logging.getLogger(__name__)

__all__ = [
    "DatasetFormatError",
    "UnreadableAnnotationError",
    "AnnotationSource",
    "make_face_annotation",
    "drop_degenerate_boxes",
    "check_root",
    "check_file",
    "read_image_size",
    "read_listed_image_size",
    "clip_xywh",
    "attach_image_sizes",
    "check_face_boxes",
    "CountBlock",
    "read_annotation_lines",
    "parse_finite_floats",
    "iter_count_blocks",
]


class DatasetFormatError(ValueError):
    """A malformed annotation file. ``file`` and ``line`` (1-based, or ``None`` for binary files
    such as ``.mat``) locate the problem; ``str(err)`` reads ``"<file>:<line>: <message>"``."""

    def __init__(self, message: str, file: Optional[str] = None, line: Optional[int] = None):
        self.file = file
        self.line = line
        self.message = message
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(where + message)


class UnreadableAnnotationError(DatasetFormatError, OSError):
    """A binary annotation file (``.mat``) that cannot be decoded at all, e.g. truncated. Both a
    :class:`DatasetFormatError` (a ``ValueError``) and an ``OSError``; ``str(err)`` names the file."""


class AnnotationSource(NamedTuple):
    """Where an image or a face comes from: ``file`` and its 1-based ``line`` for text files, or an
    ``item`` such as ``"entry 3 (a.jpg), face 2"`` / ``"object 2"`` for ``.mat`` / XML files."""

    file: str
    line: Optional[int] = None
    item: Optional[str] = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} ({self.item})" if self.item else where

    def error(self, message: str) -> DatasetFormatError:
        """A :class:`DatasetFormatError` at this place."""
        return DatasetFormatError(f"{self.item}: {message}" if self.item else message, self.file, self.line)


def make_face_annotation(
    bbox: Sequence[float],
    ignore: int = 0,
    masked: Optional[bool] = None,
    occluded: Optional[bool] = None,
    attributes: Optional[Dict] = None,
) -> Dict:
    """One face in the layout of ``docs/data_format.md``: ``bbox`` is ``[x, y, w, h]`` absolute
    pixels (``BoxMode.XYWH_ABS``), ``category_id`` 0, ``iscrowd`` 0. ``masked`` / ``occluded`` /
    ``attributes`` are only written when given."""
    if len(bbox) != 4:
        raise ValueError(f"bbox must have 4 numbers [x, y, w, h], got {list(bbox)}")
    ann = {
        "bbox": [float(v) for v in bbox],
        "bbox_mode": BoxMode.XYWH_ABS,
        "category_id": 0,
        "iscrowd": 0,
        "ignore": int(bool(ignore)),
    }
    if masked is not None:
        ann["masked"] = bool(masked)
    if occluded is not None:
        ann["occluded"] = bool(occluded)
    if attributes is not None:
        ann["attributes"] = attributes
    return ann


def drop_degenerate_boxes(
    dataset_dicts: List[Dict],
    dataset_name: str,
    sources: Optional[Sequence[Sequence[AnnotationSource]]] = None,
) -> int:
    """Remove, in place, every annotation whose box has ``w <= 0`` or ``h <= 0``; log the number
    removed at WARNING level with ``dataset_name`` (the contract: nothing is dropped silently).
    ``sources`` (per dict, one :class:`AnnotationSource` per annotation) names the first dropped
    box in that WARNING. Returns the number removed."""
    dropped = 0
    total = 0
    first = None
    for i, d in enumerate(dataset_dicts):
        if "annotations" not in d:  # unlabeled split (e.g. WIDER test)
            continue
        anns = d["annotations"]
        total += len(anns)
        keep = [a["bbox"][2] > 0 and a["bbox"][3] > 0 for a in anns]
        if first is None and sources is not None and not all(keep):
            first = sources[i][keep.index(False)]
        dropped += len(anns) - sum(keep)
        d["annotations"] = [a for a, k in zip(anns, keep) if k]
    if dropped:
        logger.warning(
            "Dataset '%s': dropped %d of %d face boxes with w <= 0 or h <= 0 (degenerate)%s.",
            dataset_name, dropped, total, "" if first is None else f"; the first at {first}",
        )
    return dropped


def check_face_boxes(dataset_dicts: List[Dict], sources: Sequence[Sequence[AnnotationSource]]) -> None:
    """Raise :class:`DatasetFormatError` at ``sources[i][j]`` (the place of annotation ``j`` of dict
    ``i``) for a box with a non-finite value, or, when the dict has ``height`` / ``width``, a box of
    positive size lying entirely outside the image (no overlap with ``[0, width] x [0, height]``).
    Boxes only partly outside are left to the loader (kept or clipped); degenerate ones to
    :func:`drop_degenerate_boxes`. Run it before clipping and before dropping."""
    for d, srcs in zip(dataset_dicts, sources):
        height, width = d.get("height"), d.get("width")
        for a, src in zip(d.get("annotations", ()), srcs):
            x, y, w, h = a["bbox"]
            if not all(math.isfinite(v) for v in (x, y, w, h)):
                raise src.error(f"face box [x, y, w, h] = {a['bbox']} has a non-finite value")
            if height is None or w <= 0 or h <= 0:
                continue
            if x >= width or y >= height or x + w <= 0 or y + h <= 0:
                raise src.error(
                    f"face box [x, y, w, h] = {a['bbox']} lies entirely outside the {width}x{height} "
                    f"image '{d['file_name']}'"
                )


def check_root(path: str, dataset_name: str, layout: str) -> None:
    """Raise ``FileNotFoundError`` naming the expected ``layout`` if the folder ``path`` is missing."""
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"Dataset '{dataset_name}': folder '{path}' does not exist. Expected layout:\n{layout}\n"
            "(set FACELIB_DATASETS or DATASETS.FACELIB.ROOT to the folder holding the datasets)."
        )


def check_file(path: str, dataset_name: str, layout: str) -> None:
    """Raise ``FileNotFoundError`` naming the expected ``layout`` if the file ``path`` is missing."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Dataset '{dataset_name}': file '{path}' does not exist. Expected layout:\n{layout}"
        )


def read_image_size(path: str) -> Tuple[int, int]:
    """``(height, width)`` of the image at ``path`` read from its header only (PIL opens lazily and
    does not decode pixels); falls back to OpenCV for formats PIL cannot identify."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
        return int(height), int(width)
    except FileNotFoundError:
        raise FileNotFoundError(f"Image file not found: '{path}'") from None
    except (UnidentifiedImageError, OSError) as e:
        import cv2

        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise OSError(f"Cannot read image file '{path}': {e}") from e
        return int(img.shape[0]), int(img.shape[1])


def clip_xywh(bbox: Sequence[float], height: int, width: int) -> List[float]:
    """Clip an ``[x, y, w, h]`` box to the image ``[0, width] x [0, height]``; the result may have
    ``w <= 0`` / ``h <= 0`` if the box lies outside (then it is dropped as degenerate, and counted)."""
    x0 = min(max(bbox[0], 0.0), width)
    y0 = min(max(bbox[1], 0.0), height)
    x1 = min(max(bbox[0] + bbox[2], 0.0), width)
    y1 = min(max(bbox[1] + bbox[3], 0.0), height)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def read_listed_image_size(path: str, dataset_name: str, source: AnnotationSource) -> Tuple[int, int]:
    """:func:`read_image_size` of an image listed at ``source``; a missing or unreadable image is an
    error (``FileNotFoundError`` / ``OSError``) naming the image and ``source``."""
    try:
        return read_image_size(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Dataset '{dataset_name}': image '{path}' (listed at {source}) does not exist"
        ) from None
    except OSError as e:
        raise OSError(f"Dataset '{dataset_name}': {e} (listed at {source})") from e


def attach_image_sizes(
    dataset_dicts: List[Dict],
    images_dir: str,
    dataset_name: str,
    layout: str,
    require_images: bool,
    sources: Optional[Sequence[AnnotationSource]] = None,
) -> bool:
    """Fill ``height`` / ``width`` of every dict from its image header.

    If the folder ``images_dir`` is missing: with ``require_images`` raise ``FileNotFoundError``
    naming the expected ``layout``; without it, log that the sizes are left out and return False
    (annotation-only parsing, e.g. for statistics). A single missing image file is always an error
    naming its path, and, with ``sources`` (one :class:`AnnotationSource` per dict), the annotation
    file and line that list it. Returns True when the sizes were filled.
    """
    if not os.path.isdir(images_dir):
        if require_images:
            raise FileNotFoundError(
                f"Dataset '{dataset_name}': image folder '{images_dir}' does not exist. "
                f"Expected layout:\n{layout}"
            )
        logger.warning(
            "Dataset '%s': image folder '%s' is missing; loading annotations only "
            "(no 'height'/'width' in the dataset dicts).", dataset_name, images_dir,
        )
        return False
    for i, d in enumerate(logged_progress(dataset_dicts, desc=f"Reading the image sizes of '{dataset_name}'",
                                          logger=logger, unit="images")):
        if sources is None:
            d["height"], d["width"] = read_image_size(d["file_name"])
        else:
            d["height"], d["width"] = read_listed_image_size(d["file_name"], dataset_name, sources[i])
    return True


def read_annotation_lines(path: str, dataset_title: str) -> List[str]:
    """The lines of the text annotation file ``path``; an ``OSError`` naming ``dataset_title``
    (e.g. ``"WIDER FACE"``) and the file if it cannot be read."""
    try:
        with open(path, "r") as f:
            return f.read().splitlines()
    except OSError as e:
        raise OSError(f"Cannot read {dataset_title} annotation file '{path}': {e}") from e


class CountBlock(NamedTuple):
    """One block of :func:`iter_count_blocks`: the header tokens, the header's 1-based line number
    and the parsed value rows as ``(line number, values)``."""

    header: List[str]
    line: int
    rows: List[Tuple[int, Sequence]]


def parse_finite_floats(tokens: Sequence[str]) -> List[float]:
    """Every token as a finite float; ``ValueError`` for anything else (``nan`` and ``inf`` too)."""
    values = [float(t) for t in tokens]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"non-finite value in {list(tokens)}")
    return values


def iter_count_blocks(
    path: str,
    lines: Sequence[str],
    row_width: int,
    row_description: str,
    *,
    header_width: int = 1,
    header_description: str = "an image path",
    header_check: Optional[Callable[[List[str]], bool]] = None,
    row_name: str = "face",
    parse_row: Callable[[List[str]], Sequence] = parse_finite_floats,
    comment_prefix: Optional[str] = None,
    zero_count_placeholder: bool = False,
) -> Iterator[CountBlock]:
    """Read the block-structured annotation text shared by WIDER FACE, FDDB and SFS::

        <header: header_width tokens, e.g. an image path>
        <count N>
        <row_width values>        (N lines, described by row_description, e.g. 'x y w h')

    ``lines`` are the file's lines (``path`` is only used in errors). Blank lines between blocks are
    skipped; with ``comment_prefix`` blank lines and lines starting with it are skipped everywhere
    (and the other lines are stripped). ``header_check(tokens)`` may reject a header of the right
    width. ``parse_row(tokens)`` turns a row into values (default: every token as a finite float);
    a ``ValueError`` is reported as "expected numbers", and a :class:`DatasetFormatError` without a
    file gets this file and the row's line. With ``zero_count_placeholder`` a count 0 may be followed
    by one all-zero row (WIDER's placeholder for a face-less image), which is consumed; a non-zero
    one is an error.

    Every problem raises :class:`DatasetFormatError` with ``path`` and the 1-based line number
    (the line after the last one when the file ends too early).
    """
    if comment_prefix is None:
        entries = [(i + 1, s) for i, s in enumerate(lines)]
    else:
        entries = [
            (i + 1, s.strip())
            for i, s in enumerate(lines)
            if s.strip() and not s.lstrip().startswith(comment_prefix)
        ]
    end_line = len(lines) + 1

    def parse(tokens: List[str], lineno: int, text: str) -> Sequence:
        try:
            return parse_row(tokens)
        except DatasetFormatError as e:
            if e.file is not None:
                raise
            raise DatasetFormatError(e.message, file=path, line=lineno) from None
        except ValueError:
            raise DatasetFormatError(
                f"expected numbers, got {text!r} (a non-numeric or non-finite value)", file=path, line=lineno
            ) from None

    k, n = 0, len(entries)
    while k < n:
        header_line, text = entries[k]
        header = text.split()
        if not header:
            k += 1
            continue
        if len(header) != header_width or (header_check is not None and not header_check(header)):
            raise DatasetFormatError(f"expected {header_description}, got {text!r}", file=path, line=header_line)
        name = header[0]
        if k + 1 >= n:
            raise DatasetFormatError(
                f"missing face count after {' '.join(header)!r}", file=path, line=header_line + 1
            )
        count_line, count_text = entries[k + 1]
        if not count_text.strip().isdigit():
            raise DatasetFormatError(
                f"expected the number of faces of {name!r}, got {count_text!r}", file=path, line=count_line
            )
        count = int(count_text)
        k += 2
        rows = []
        for _ in range(count):
            if k >= n:
                raise DatasetFormatError(
                    f"file ends inside the {count} {row_name} lines of {name!r}", file=path, line=end_line
                )
            lineno, text = entries[k]
            tokens = text.split()
            if len(tokens) != row_width:
                raise DatasetFormatError(
                    f"expected {row_width} values {row_description!r} for a face of {name!r}, "
                    f"got {len(tokens)}: {text!r}",
                    file=path, line=lineno,
                )
            rows.append((lineno, parse(tokens, lineno, text)))
            k += 1
        if zero_count_placeholder and count == 0 and k < n:
            lineno, text = entries[k]
            tokens = text.split()
            if len(tokens) == row_width:
                if any(parse(tokens, lineno, text)):
                    raise DatasetFormatError(
                        f"image {name!r} has 0 {row_name}s but is followed by a non-zero {row_name} line",
                        file=path, line=lineno,
                    )
                k += 1
        yield CountBlock(header, header_line, rows)
