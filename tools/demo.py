#!/usr/bin/env python
"""Face-detection demo on images or a video (like detectron2's ``demo/demo.py``), using
:class:`facelib.api.FaceDetector`.

Examples::

    # a folder (or globs, or files) -> annotated images in out/ + one JSON with every detection
    python tools/demo.py --config-file configs/Base-FaceRetinaNet.yaml --input photos/ "more/*.jpg" \\
        --output out/ --json MODEL.WEIGHTS output/model_final.pth
    # one image -> one file
    python tools/demo.py --config-file cfg.yaml --input a.jpg --output a_faces.jpg MODEL.WEIGHTS w.pth
    # a video -> an annotated .mp4 (cv2.VideoWriter, fourcc mp4v)
    python tools/demo.py --config-file cfg.yaml --video-input clip.mp4 --output out/ MODEL.DEVICE cuda

Config overrides are ``KEY VALUE`` pairs at the end (``--opts`` before them is accepted too).
An ``--input`` file that cannot be read (not an image, truncated) is skipped with one warning line
naming it and the reason; the others are processed and written, the JSON lists the skipped files,
and the exit status is 1. Images larger than ``--max-size`` (2048 px) are detected on and drawn at
that size (JPEGs decoded at reduced size, never whole: a 12000 x 8000 photo needs ~100 MB, not GBs);
JSON boxes are in original pixels, occlusion masks at the reduced size (their RLE ``size``).

Faces are drawn with detectron2's ``Visualizer`` (a box and ``face 0.97`` per detection); when the
model predicts occlusion masks (AOFD-style ``pred_occlusion_masks`` per face, or a per-image
``occlusion_mask``) they are drawn as translucent overlays.

``--json`` writes ``{"config_file", "weights", "confidence_threshold", "box_mode": "XYXY_ABS",
"results": [{"file", "height", "width", "boxes", "scores"[, "occlusion_masks", "occlusion_mask"]},
...], "skipped": [{"file", "reason"}, ...]}`` (``"frame"`` instead of ``"file"`` for a video); masks are COCO RLE (pycocotools,
``counts`` as a string) of the masks binarised at 0.5. The file is ``--json-file FILE`` (which
implies ``--json``), else ``<output folder>/detections.json`` (or ``<output file stem>.json``;
``./detections.json`` without ``--output``).
"""
import argparse
import glob
import json
import logging
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401  (detectron2._C stand-in before detectron2 imports)
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402
from facelib.engine.console_logging import setup_facelib_logger  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
FACE_COLOR = (0.0, 1.0, 0.0)
MASK_COLOR = (1.0, 0.0, 0.0)
logger = logging.getLogger("facelib.demo")


def get_parser():
    parser = argparse.ArgumentParser(description="facelib face-detection demo")
    parser.add_argument("--config-file", metavar="FILE", required=True, help="path to config file")
    parser.add_argument("--input", nargs="+", help="image files, globs ('imgs/*.jpg') or folders")
    parser.add_argument("--video-input", help="path to a video file")
    parser.add_argument("--output", help="output folder, or output file for a single image / video; "
                                         "without it nothing is drawn (use --json for the detections)")
    parser.add_argument("--confidence-threshold", type=float, default=0.5,
                        help="minimum score of the faces kept and drawn")
    parser.add_argument("--occlusion-threshold", type=float, default=0.5,
                        help="occlusion probability above which a pixel is drawn / written as "
                             "occluded (models with occlusion masks, e.g. AOFD)")
    parser.add_argument("--json", action="store_true",
                        help="write the detections as JSON (file: see --json-file)")
    parser.add_argument("--json-file", metavar="FILE", default=None,
                        help="JSON file of --json (implies --json); default <output folder>/detections.json, "
                             "<output file stem>.json, or ./detections.json without --output")
    parser.add_argument("--batch-size", type=int, default=4, help="images (frames) per forward pass")
    parser.add_argument("--max-size", type=int, default=2048,
                        help="longest side (px) of the copy of each input image the demo detects on and draws "
                             "(larger JPEGs are decoded at 1/2..1/8 size, then resized; boxes in the JSON stay "
                             "in original pixels); 0: full resolution")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--backend", choices=("pytorch", "onnxruntime"), default="pytorch",
                        help="onnxruntime: run the --onnx file (tools/export_onnx.py) instead of the PyTorch model")
    parser.add_argument("--onnx", metavar="FILE", help="the exported model, for --backend onnxruntime")
    add_overrides_argument(parser)
    return parser


def parse_args(argv=None):
    """The demo's arguments; config overrides ``KEY VALUE`` at the end (``--opts`` optional)."""
    return parse_args_with_overrides(get_parser(), argv)


def setup_cfg(args):
    from facelib.config import get_face_cfg

    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts or [])
    cfg.freeze()
    return cfg


# ---------------------------------------------------------------------------------------- inputs
def expand_inputs(patterns):
    """Files of ``--input``: each entry is a file, a folder (its images, sorted, not recursive)
    or a glob. Returns ``(files, any_folder)``; raises ``FileNotFoundError`` for an entry that
    matches nothing."""
    files, any_folder = [], False
    for p in patterns:
        p = os.path.expanduser(p)
        if os.path.isdir(p):
            any_folder = True
            found = sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                logger.warning("No images (%s) in folder %s", ", ".join(IMAGE_EXTENSIONS), p)
            files.extend(found)
        elif os.path.isfile(p):
            files.append(p)
        else:
            found = sorted(f for f in glob.glob(p) if os.path.isfile(f))
            if not found:
                raise FileNotFoundError(f"--input {p!r}: no such file, folder or matching glob")
            files.extend(found)
    return files, any_folder


def _is_file_target(output, n_inputs, extensions):
    return n_inputs == 1 and not os.path.isdir(output) and os.path.splitext(output)[1].lower() in extensions


def output_paths(files, output):
    """Output file per input: ``output`` itself for one input and an image-file ``output``,
    else ``output/<basename>`` (``_1``, ``_2``... added to repeated names)."""
    if _is_file_target(output, len(files), IMAGE_EXTENSIONS):
        return [output]
    seen, out = {}, []
    for f in files:
        name = os.path.basename(f)
        if name in seen:
            seen[name] += 1
            stem, ext = os.path.splitext(name)
            name = f"{stem}_{seen[name]}{ext}"
        else:
            seen[name] = 0
        out.append(os.path.join(output, name))
    return out


def default_json_path(output):
    if not output:
        return "detections.json"
    stem, ext = os.path.splitext(output)
    if ext and not os.path.isdir(output):
        return stem + ".json"
    return os.path.join(output, "detections.json")


# ---------------------------------------------------------------------------------------- drawing
def draw_detections(bgr, det, occlusion_threshold: float = 0.5):
    """Annotated copy (BGR uint8) of ``bgr``: boxes with ``face <score>`` labels and the
    occlusion masks (when present) with detectron2's ``Visualizer``."""
    from detectron2.utils.visualizer import Visualizer

    vis = Visualizer(bgr[:, :, ::-1], metadata=None, scale=1.0)
    # occluded regions (red, translucent) first, then boxes + labels (green) on top
    masks = det.binary_occlusion_masks(occlusion_threshold)
    for m in masks if masks is not None else []:
        if m.any():
            vis.draw_binary_mask(m.astype(np.uint8), color=MASK_COLOR, alpha=0.4)
    mask = det.binary_occlusion_mask(occlusion_threshold)
    if mask is not None and mask.any():
        vis.draw_binary_mask(mask.astype(np.uint8), color=MASK_COLOR, alpha=0.3)
    if len(det):
        vis.overlay_instances(
            boxes=det.boxes,
            labels=[f"face {s:.2f}" for s in det.scores],
            assigned_colors=[FACE_COLOR] * len(det),
        )
    return np.ascontiguousarray(vis.get_output().get_image()[:, :, ::-1])


# ---------------------------------------------------------------------------------------- JSON
def mask_to_rle(mask):
    from pycocotools import mask as mask_util

    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def detections_to_json(det, occlusion_threshold: float = 0.5, original_size=None, **extra):
    """One JSON record; ``original_size`` ``(height, width)``: the file's size when ``det`` is of a
    reduced copy (boxes are scaled to it; masks stay at the copy's size, their RLE ``size``)."""
    rec = dict(extra)
    h, w = (int(v) for v in (original_size or det.image_size))
    sy, sx = h / det.image_size[0], w / det.image_size[1]
    boxes = np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4) * np.array([sx, sy, sx, sy])
    rec.update({
        "height": h,
        "width": w,
        "boxes": [[round(float(v), 2) for v in b] for b in boxes],
        "scores": [round(float(s), 5) for s in det.scores],
    })
    masks = det.binary_occlusion_masks(occlusion_threshold)
    if masks is not None:
        rec["occlusion_masks"] = [mask_to_rle(m) for m in masks]
    mask = det.binary_occlusion_mask(occlusion_threshold)
    if mask is not None:
        rec["occlusion_mask"] = mask_to_rle(mask)
    return rec


def write_json(path, args, detector, records, skipped=()):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    payload = {
        "config_file": args.config_file,
        "weights": detector.weights,
        "confidence_threshold": detector.confidence_threshold,
        "occlusion_threshold": args.occlusion_threshold,
        "box_mode": "XYXY_ABS",
        "results": records,
        "skipped": list(skipped),
    }
    with open(path, "w") as f:
        json.dump(payload, f)
    logger.info("Wrote %d result(s) to %s", len(records), path)


# ---------------------------------------------------------------------------------------- runs
def _progress_bar(enable, **kw):
    """A tqdm bar (``update`` / ``close``), or None when disabled."""
    if not enable:
        return None
    from tqdm import tqdm

    return tqdm(**kw)


def _load_or_skip(path, skipped, max_size=0):
    """``(image, original (height, width))`` of ``path`` with the longer side at most ``max_size``
    (0: full size; :func:`facelib.data.reduced_decode.load_image_at_most`), or None after one
    warning line (and an entry in ``skipped``) when it cannot be read (not an image, truncated)."""
    from facelib.data.reduced_decode import load_image_at_most

    try:
        return load_image_at_most(path, max_size or None)
    except (OSError, ValueError) as e:  # FileNotFoundError, PermissionError, decode errors
        cause = e.__cause__ or e
        reason = ("not an image (PIL cannot identify its format)" if type(cause).__name__ == "UnidentifiedImageError"
                  else f"{type(cause).__name__}: {cause}")
        logger.warning("Skipped %s: %s", path, reason)
        skipped.append({"file": path, "reason": reason})
        return None


def run_images(args, detector, skipped=None):
    """Detect, draw and collect the records of every ``--input`` image; unreadable files are
    skipped (one warning each) and appended to ``skipped`` as ``{"file", "reason"}``."""
    import cv2

    skipped = [] if skipped is None else skipped

    files, any_folder = expand_inputs(args.input)
    outs = output_paths(files, args.output) if args.output else [None] * len(files)
    if args.output and not _is_file_target(args.output, len(files), IMAGE_EXTENSIONS):
        os.makedirs(args.output, exist_ok=True)
    show_bar = not args.no_progress and (any_folder or len(files) > 1)
    records = []
    bs = max(1, args.batch_size)
    chunks = [list(range(s, min(s + bs, len(files)))) for s in range(0, len(files), bs)]
    bar = _progress_bar(show_bar, total=len(files), desc="images", unit="img")
    for chunk in chunks:
        t0 = time.perf_counter()
        loaded = [(i, _load_or_skip(files[i], skipped, args.max_size)) for i in chunk]
        loaded = [(i, r) for i, r in loaded if r is not None]
        chunk_ok = [i for i, _ in loaded]
        images = [img for _, (img, _) in loaded]
        dets = detector.detect(images) if images else []
        dt = (time.perf_counter() - t0) / max(1, len(chunk_ok))
        origs = [orig for _, (_, orig) in loaded]
        for i, img, det, orig in zip(chunk_ok, images, dets, origs):
            if not show_bar:
                logger.info("%s: %d face(s) in %.3fs", files[i], len(det), dt)
            if outs[i]:
                out_dir = os.path.dirname(outs[i])
                if out_dir:
                    os.makedirs(out_dir, exist_ok=True)
                if not cv2.imwrite(outs[i], draw_detections(img, det, args.occlusion_threshold)):
                    raise OSError(f"cv2.imwrite failed for {outs[i]}")
            records.append(detections_to_json(det, args.occlusion_threshold, original_size=orig, file=files[i]))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return records


def run_video(args, detector):
    import cv2

    if not os.path.isfile(args.video_input):
        raise FileNotFoundError(f"--video-input not found: {args.video_input}")
    cap = cv2.VideoCapture(args.video_input)
    if not cap.isOpened():
        raise ValueError(f"cv2.VideoCapture cannot open {args.video_input}")
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer, out_file = None, None
    if args.output:
        if _is_file_target(args.output, 1, (".mp4", ".avi", ".mkv", ".mov")):
            out_file = args.output
        else:
            os.makedirs(args.output, exist_ok=True)
            out_file = os.path.join(args.output, os.path.splitext(os.path.basename(args.video_input))[0] + ".mp4")
        d = os.path.dirname(out_file)
        if d:
            os.makedirs(d, exist_ok=True)
        writer = cv2.VideoWriter(out_file, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height), True)
        if not writer.isOpened():
            raise OSError(f"cv2.VideoWriter cannot write {out_file}")
    records, frame_idx, bs = [], 0, max(1, args.batch_size)
    bar = _progress_bar(not args.no_progress, total=total, desc="frames", unit="frame")
    try:
        while True:
            frames = []
            while len(frames) < bs:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(frame)
            if not frames:
                break
            for frame, det in zip(frames, detector.detect(frames)):
                if writer is not None:
                    writer.write(draw_detections(frame, det, args.occlusion_threshold))
                records.append(detections_to_json(det, args.occlusion_threshold, frame=frame_idx))
                frame_idx += 1
            if bar is not None:
                bar.update(len(frames))
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if bar is not None:
            bar.close()
    logger.info("%d frame(s) processed%s", frame_idx, f", video written to {out_file}" if out_file else "")
    return records


def run(in_args=None):
    """Run the demo; returns ``(records, skipped)`` (``skipped``: the ``--input`` files that could
    not be read, ``{"file", "reason"}``; also in the JSON)."""
    args = parse_args(in_args)
    setup_facelib_logger()
    if args.max_size != 0 and args.max_size < 64:
        raise SystemExit(f"demo.py: --max-size must be 0 (full resolution) or >= 64, got {args.max_size}")
    if bool(args.input) == bool(args.video_input):
        raise SystemExit("demo.py: give exactly one of --input and --video-input")
    cfg = setup_cfg(args)

    from facelib.api import FaceDetector

    if args.backend == "onnxruntime" and not args.onnx:
        raise SystemExit("demo.py: --backend onnxruntime needs --onnx FILE (write one with tools/export_onnx.py)")
    detector = FaceDetector(cfg, confidence_threshold=args.confidence_threshold, batch_size=args.batch_size,
                            backend=args.backend, onnx_path=args.onnx)
    skipped = []
    records = run_video(args, detector) if args.video_input else run_images(args, detector, skipped)
    if args.json or args.json_file:
        write_json(args.json_file or default_json_path(args.output), args, detector, records, skipped)
    if skipped:
        logger.warning("%d of %d input image(s) skipped (unreadable); the others were processed",
                       len(skipped), len(skipped) + len(records))
    return records, skipped


def main(in_args=None):
    """:func:`run`'s records."""
    return run(in_args)[0]


if __name__ == "__main__":
    # exit status 1 when an input was skipped, so scripts notice
    sys.exit(1 if run()[1] else 0)
