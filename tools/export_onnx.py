#!/usr/bin/env python
"""Export a facelib dense detector (baseline, FAN, RefineFace, MogFace, DF2S2) to ONNX.

    python tools/export_onnx.py --config-file configs/retinanet_mnet025_facemask.yaml --output model.onnx \\
        MODEL.WEIGHTS facelib-zoo://retinanet_mnet025_facemask_3000it

The graph is the network (dynamic image size, one image per call); decoding and NMS run in
numpy (facelib/export/dense_postprocess.py), with their settings in the file's metadata. Use it
with ``FaceDetector(cfg, backend="onnxruntime", onnx_path="model.onnx")`` or
``tools/demo.py --backend onnxruntime --onnx model.onnx``. After writing, the export is checked
against the PyTorch model on a test image (score threshold 0): the largest box and score
differences are printed, and the command fails if they exceed 1e-2 px / 1e-4.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402


def get_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file", required=True, metavar="FILE")
    p.add_argument("--output", required=True, help="the .onnx file to write")
    p.add_argument("--example-size", default="480x640", help="HxW traced with (any size works after)")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the PyTorch model")
    add_overrides_argument(p)
    return p


def parse_args(argv=None):
    return parse_args_with_overrides(get_parser(), argv)


def check_parity(cfg, onnx_path, size=(240, 320), seed=0):
    """Largest |box| and |score| differences between the PyTorch and onnxruntime backends on one
    seeded image, score threshold 0; and the number of detections."""
    from facelib.api import FaceDetector

    img = np.random.RandomState(seed).randint(0, 256, size + (3,), dtype=np.uint8)
    torch_det = FaceDetector(cfg, confidence_threshold=None).detect(img)
    onnx_det = FaceDetector(cfg, confidence_threshold=None, backend="onnxruntime", onnx_path=onnx_path).detect(img)
    if len(torch_det) != len(onnx_det):
        return float("inf"), float("inf"), len(torch_det), len(onnx_det)
    if len(torch_det) == 0:
        return 0.0, 0.0, 0, 0
    return (float(np.abs(torch_det.boxes - onnx_det.boxes).max()), float(np.abs(torch_det.scores - onnx_det.scores).max()),
            len(torch_det), len(onnx_det))


def main(argv=None):
    args = parse_args(argv)
    from detectron2.modeling import build_model

    from facelib.config import load_face_cfg
    from facelib.engine.checkpoint import FaceCheckpointer
    from facelib.export.onnx_export import export_onnx

    cfg = load_face_cfg(args.config_file, list(args.opts) + ["MODEL.DEVICE", "cpu"])
    cfg.freeze()
    model = build_model(cfg)
    if cfg.MODEL.WEIGHTS:
        FaceCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    else:
        print("warning: no MODEL.WEIGHTS: exporting random weights", file=sys.stderr)
    try:
        h, w = (int(v) for v in args.example_size.lower().split("x"))
    except ValueError:
        sys.exit(f"--example-size must be HxW, got {args.example_size!r}")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    try:
        meta = export_onnx(model, cfg, args.output, example_size=(h, w))
    except NotImplementedError as e:
        sys.exit(f"export_onnx.py: {e}")
    print(f"wrote {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB): {meta['meta_architecture']}, "
          f"{meta['num_levels']} levels, per-image anchors: {meta['per_image_anchors']}")
    if not args.no_check:
        test_cfg = cfg.clone()
        test_cfg.defrost()
        test_cfg.MODEL.RETINANET.SCORE_THRESH_TEST = 0.0
        box_d, score_d, n_t, n_o = check_parity(test_cfg, args.output)
        print(f"check vs PyTorch (score threshold 0): {n_t} / {n_o} detections, max |box| diff {box_d:.2e} px, "
              f"max |score| diff {score_d:.2e}")
        if not (box_d <= 1e-2 and score_d <= 1e-4):
            sys.exit("export_onnx.py: the exported model does not match the PyTorch model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
