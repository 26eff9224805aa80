#!/usr/bin/env python
"""How well a trained detector's scores separate faces from background at each scale (RefineFace
Sec. 3.3, Fig. 5, in numbers), for one or more checkpoints of one config.

    FACELIB_DATASETS=../shared/data python tools/score_separability.py \\
        --config-file configs/refineface_mnet025_facemask.yaml \\
        --weights output/a/model_final.pth --weights output/b/model_final.pth

Every checkpoint detects on ``--dataset`` (the config's test resize and score threshold; the
network's own meta-architecture comes from the config, so the checkpoints must fit it); each
detection is a face (VOC matching at ``--iou``, ``facelib.evaluation.box_matching.match_image``),
background, or left out (it matched an ignored face). Per bin of detection scale sqrt(w h) (in
original-image pixels, ``--edges``) the table gives the two counts, the AUC of face vs background
logits and the share of detections in the mixed region
(``facelib.evaluation.score_separability``).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import facelib  # noqa: E402,F401
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--weights", action="append", required=True, help="a checkpoint; repeat for several")
    p.add_argument("--dataset", default=None, help="registered dataset (default: the config's first DATASETS.TEST)")
    p.add_argument("--iou", type=float, default=0.5)
    p.add_argument("--edges", default="0,16,32,64,inf", help="scale-bin edges in px, comma-separated")
    add_overrides_argument(p)
    return p


def parse_args(argv=None):
    return parse_args_with_overrides(get_parser(), argv)


def collect(cfg, weights, dataset, iou):
    """(scales, logits, is_face) of every non-ignored detection of ``dataset``."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.evaluation import inference_on_dataset
    from detectron2.modeling import build_model

    from facelib.engine import FaceTrainer
    from facelib.evaluation.box_matching import align_predictions, load_gt_faces, match_image
    from facelib.evaluation.collect import FaceDetectionCollector
    from facelib.evaluation.score_separability import score_logits

    class Collector(FaceDetectionCollector):
        def evaluate_predictions(self, predictions):
            self.predictions = predictions
            return {}

    model = build_model(cfg)
    DetectionCheckpointer(model).load(weights)
    model.eval()
    collector = Collector(dataset, distributed=False)
    with torch.no_grad():
        inference_on_dataset(model, FaceTrainer.build_test_loader(cfg, dataset), collector)
    scales, logits, face = [], [], []
    for _, rec, boxes, scores in align_predictions(load_gt_faces(dataset), collector.predictions):
        m = match_image(boxes, scores, rec["boxes"], rec["ignore"], iou)
        keep = m.tp | m.fp
        scales.append(np.sqrt(np.clip(boxes[keep, 2] * boxes[keep, 3], 0, None)))
        logits.append(score_logits(scores[keep]))
        face.append(m.tp[keep])
    return np.concatenate(scales), np.concatenate(logits), np.concatenate(face)


def main(argv=None):
    args = parse_args(argv)
    from facelib.engine.console_logging import setup_facelib_logger
    from tabulate import tabulate

    from facelib.config import finalize_face_cfg, get_face_cfg
    from facelib.data import register_all_facelib_datasets
    from facelib.evaluation.score_separability import binned_separability

    setup_facelib_logger()
    register_all_facelib_datasets()
    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(list(args.opts))
    finalize_face_cfg(cfg)
    dataset = args.dataset or cfg.DATASETS.TEST[0]
    edges = [float(e) for e in args.edges.split(",")]
    table = []
    for w in args.weights:
        for row in binned_separability(*collect(cfg, w, dataset, args.iou), edges):
            lo, hi = row["bin"]
            table.append([w, f"[{lo:g}, {hi:g})", row["faces"], row["background"],
                          f"{row['auc']:.3f}", f"{row['mixed']:.3f}"])
    print(f"\n{dataset}, IoU {args.iou}, config {args.config_file}")
    print(tabulate(table, headers=["weights", "scale (px)", "faces", "background", "AUC", "mixed"],
                   tablefmt="github"))


if __name__ == "__main__":
    main()
