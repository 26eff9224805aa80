#!/usr/bin/env python
"""Detect faces on every image of a registered dataset with :class:`facelib.FaceDetector` (PyTorch
or onnxruntime backend) and write a ``face_predictions.json`` that ``tools/analyze.py`` reads (its
AP per setting, per attribute, errors; e.g. to check an ONNX export's AP against the PyTorch model's).

    FACELIB_DATASETS=../shared/data python tools/predict_dataset.py --config-file CFG --dataset facemask_val \\
        --output out/onnx/face_predictions.json --backend onnxruntime --onnx model.onnx
    FACELIB_DATASETS=../shared/data python tools/analyze.py --dataset facemask_val --pred onnx=out/onnx --output report/

Scores: the config's ``MODEL.RETINANET.SCORE_THRESH_TEST`` and ``TEST.DETECTIONS_PER_IMAGE``, as the
evaluators see them (no ``--confidence-threshold`` filter). Image ids and coordinates are the
dataset's (original pixels).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402


def get_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file", required=True, metavar="FILE")
    p.add_argument("--dataset", required=True, help="registered dataset, e.g. facemask_val")
    p.add_argument("--output", required=True, help="the face_predictions.json to write")
    p.add_argument("--backend", choices=("pytorch", "onnxruntime"), default="pytorch")
    p.add_argument("--onnx", metavar="FILE", help="the exported model, for --backend onnxruntime")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime / torch intra-op threads")
    p.add_argument("--batch-size", type=int, default=4)
    add_overrides_argument(p)
    return p


def parse_args(argv=None):
    args = parse_args_with_overrides(get_parser(), argv)
    if args.backend == "onnxruntime" and not args.onnx:
        get_parser().error("--backend onnxruntime needs --onnx FILE")
    return args


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    import torch
    from detectron2.data import DatasetCatalog

    from facelib.api import FaceDetector
    from facelib.config import load_face_cfg
    from facelib.data import register_all_facelib_datasets
    from facelib.evaluation.prediction_files import write_face_predictions
    from facelib.utils.progress import logged_progress

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_face_cfg(args.config_file, args.opts)
    register_all_facelib_datasets(cfg.DATASETS.FACELIB.ROOT or None)
    dicts = DatasetCatalog.get(args.dataset)
    det = FaceDetector(cfg, confidence_threshold=None, batch_size=args.batch_size, backend=args.backend,
                       onnx_path=args.onnx, num_threads=args.threads)
    preds = {}
    chunk = max(1, args.batch_size)
    for start in logged_progress(range(0, len(dicts), chunk), desc=f"Detecting on {args.dataset}", unit="batches"):
        part = dicts[start:start + chunk]
        for d, r in zip(part, det.detect([d["file_name"] for d in part])):
            boxes = r.boxes.astype(np.float64).copy()
            boxes[:, 2:] -= boxes[:, :2]
            preds[d.get("image_id", d["file_name"])] = (boxes, r.scores.astype(np.float64))
    write_face_predictions(args.output, preds, args.dataset)
    print(f"wrote {args.output}: {len(preds)} images, {sum(len(s) for _, s in preds.values())} detections "
          f"({args.backend})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
