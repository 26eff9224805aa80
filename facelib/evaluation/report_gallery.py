"""The occlusion report's gallery: crops around the worst misses and the most confident false
positives of an :class:`~facelib.evaluation.occlusion_analysis.AnalysisResult`, drawn with
detectron2's :class:`~detectron2.utils.visualizer.Visualizer`.

Each crop is the pick's box enlarged ``context`` times about its centre (at least ``min_crop``
pixels a side, clipped to the image), resized so its longer side is ``size`` pixels. Drawn: every
annotated face in the crop (green; ignored faces grey), the pick (red: the missed face, or the
false positive with its score and type) and, for a false positive, the face it overlaps most
(dashed yellow). Picks whose image file is absent (the analysis needs only the annotations: e.g.
the full WIDER val set, whose images are not here) are skipped and counted.
"""
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

__all__ = ["GalleryTile", "Gallery", "draw_gallery"]

_GREEN, _GREY, _RED, _YELLOW = (0.1, 0.8, 0.1), (0.6, 0.6, 0.6), (0.9, 0.1, 0.1), (1.0, 0.85, 0.0)


@dataclass
class GalleryTile:
    kind: str  # "miss" or "false_positive"
    image_id: str
    file: str  # path relative to the gallery's ``relative_to`` folder
    caption: str


@dataclass
class Gallery:
    tiles: Dict[str, List[GalleryTile]] = field(default_factory=lambda: {"misses": [], "false_positives": []})
    skipped_absent: int = 0


def _crop_window(box, width, height, context, min_crop):
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    half = max(max(w, h) * context, min_crop) / 2
    x0, y0 = int(max(0, np.floor(cx - half))), int(max(0, np.floor(cy - half)))
    x1, y1 = int(min(width, np.ceil(cx + half))), int(min(height, np.ceil(cy + half)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {list(box)} lies outside its {width}x{height} image")
    return x0, y0, x1, y1


def _xyxy(box, x0, y0):
    x, y, w, h = box
    return (x - x0, y - y0, x + w - x0, y + h - y0)


def _draw_tile(image, rec, pick, kind, path, context, min_crop, size):
    from detectron2.utils.visualizer import Visualizer

    height, width = image.shape[:2]
    x0, y0, x1, y1 = _crop_window(pick["box"], width, height, context, min_crop)
    crop = image[y0:y1, x0:x1]
    scale = size / max(crop.shape[:2])
    vis = Visualizer(crop, scale=scale)
    boxes = np.asarray(rec["boxes"], dtype=np.float64).reshape(-1, 4)
    ignore = np.asarray(rec["ignore"], dtype=bool)
    for g, box in enumerate(boxes):
        if kind == "miss" and g == pick["face"]:
            continue
        vis.draw_box(_xyxy(box, x0, y0), edge_color=_GREY if ignore[g] else _GREEN, alpha=0.9)
    if kind == "miss":
        vis.draw_box(_xyxy(pick["box"], x0, y0), edge_color=_RED, alpha=1.0)
    else:
        if pick["face"] >= 0:
            vis.draw_box(_xyxy(boxes[pick["face"]], x0, y0), edge_color=_YELLOW, alpha=1.0, line_style="--")
        bx = _xyxy(pick["box"], x0, y0)
        vis.draw_box(bx, edge_color=_RED, alpha=1.0)
        vis.draw_text(f"{pick['score']:.2f}", (bx[0], bx[1]), horizontal_alignment="left", color=_RED)
    vis.get_output().save(path)


def _caption(kind, pick):
    x, y, w, h = pick["box"]
    if kind == "miss":
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(pick.get("attributes", {}).items()))
        return f"{pick['image_id']}: missed {w:.0f}x{h:.0f} face" + (f" ({attrs})" if attrs else "")
    return f"{pick['image_id']}: {pick['type']} false positive, score {pick['score']:.3f}, {w:.0f}x{h:.0f}"


def draw_gallery(result, gt, out_dir: str, prefix: str, relative_to: Optional[str] = None,
                 context: float = 3.0, min_crop: int = 64, size: int = 192) -> Gallery:
    """Draw ``result.gallery``'s picks into ``out_dir`` as ``<prefix>_miss_<i>.png`` /
    ``<prefix>_fp_<i>.png``; ``file`` of each tile is relative to ``relative_to`` (default
    ``out_dir``)."""
    from detectron2.data.detection_utils import read_image

    if context < 1 or min_crop < 1 or size < 16:
        raise ValueError(f"need context >= 1, min_crop >= 1, size >= 16; got {context}, {min_crop}, {size}")
    os.makedirs(out_dir, exist_ok=True)
    relative_to = relative_to or out_dir
    gallery = Gallery()
    images = {}
    for key, kind, tag in (("misses", "miss", "miss"), ("false_positives", "false_positive", "fp")):
        for i, pick in enumerate(result.gallery.get(key, [])):
            rec = gt.records[pick["image_id"]]
            file_name = rec.get("file_name")
            if not file_name or not os.path.isfile(file_name):
                gallery.skipped_absent += 1
                continue
            if file_name not in images:
                images[file_name] = read_image(file_name, format="RGB")
            path = os.path.join(out_dir, f"{prefix}_{tag}_{i}.png")
            _draw_tile(images[file_name], rec, pick, kind, path, context, min_crop, size)
            gallery.tiles[key].append(GalleryTile(kind, pick["image_id"], os.path.relpath(path, relative_to),
                                                  _caption(kind, pick)))
    return gallery
