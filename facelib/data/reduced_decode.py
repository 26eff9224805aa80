"""Decode an image file no larger than needed: ``load_image_at_most(path, max_side)``.

A 12000 x 8000 photo decodes to 288 MB (3 W H bytes), and a model that sees it resized to 1024 px
gains nothing from the full resolution. For JPEG files, libjpeg's DCT scaling (PIL's
``Image.draft``) decodes directly at 1/2, 1/4 or 1/8 of the size, the largest reduction whose
result keeps the longer side >= ``max_side``; the result is then resized (PIL's box filter, before
the EXIF rotation) so the longer side is at most ``max_side``. Other formats are decoded whole and
resized the same way.

Peak memory: a JPEG never holds its full-size pixels (decoded at most 2 x the target per side: at
most 4 x 3 x max_side^2 bytes, plus the resized copies, each at most 3 x max_side^2 bytes); other
formats hold the decoded image (3 W H bytes) plus the same small copies. EXIF orientation is applied like detectron2's
``read_image``. Returns BGR ``uint8`` and the original (oriented) ``(height, width)``, so callers map
boxes back to original pixels (``x * width / bgr.shape[1]``).
"""
import os
from typing import Optional, Tuple

import numpy as np

__all__ = ["load_image_at_most"]

# EXIF orientations 5..8 swap width and height (detectron2.data.detection_utils._apply_exif_orientation)
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def load_image_at_most(path: str, max_side: Optional[int]) -> Tuple[np.ndarray, Tuple[int, int]]:
    """BGR ``uint8`` image of ``path`` with its longer side at most ``max_side`` (None or 0: full
    size), and the original ``(height, width)``. ``FileNotFoundError`` / ``ValueError`` name the
    path."""
    from PIL import Image, ImageOps

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Image file not found: {path}")
    if max_side is not None and max_side < 0:
        raise ValueError(f"max_side must be >= 0 or None, got {max_side}")
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
            if max_side and max(w, h) > max_side:
                if im.format == "JPEG":
                    f = max(w, h) / max_side
                    im.draft("RGB", (int(np.ceil(w / f)), int(np.ceil(h / f))))
                s = max_side / max(im.size)
                if s < 1:  # still larger after DCT scaling (or not a JPEG): area-resize, pre-orientation
                    size = (max(1, int(round(im.size[0] * s))), max(1, int(round(im.size[1] * s))))
                    im = im.convert("RGB").resize(size, Image.Resampling.BOX)
            im = ImageOps.exif_transpose(im)
            if im.mode != "RGB":
                im = im.convert("RGB")
            bgr = np.ascontiguousarray(np.asarray(im)[:, :, ::-1])
    except Exception as e:  # PIL.UnidentifiedImageError, truncated files, ...
        raise ValueError(f"Cannot read image {path}: {e}") from e
    orig = (w, h) if orientation in _TRANSPOSING_ORIENTATIONS else (h, w)
    return bgr, orig
