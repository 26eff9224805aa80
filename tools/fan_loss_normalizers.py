#!/usr/bin/env python
"""FAN's focal-loss normalisers compared on real training batches at the start of training:
``loss_cls`` of the same forward pass divided as Eq. 1 literally ("anchors": per level by its
participating anchors, levels summed) and by the positive anchors ("positives").

    FACELIB_DATASETS=../shared/data python tools/fan_loss_normalizers.py \\
        --config-file configs/fan_mnet025_facemask.yaml --batches 4
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import facelib  # noqa: E402,F401
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--batches", type=int, default=4)
    add_overrides_argument(p)
    return p


def parse_args(argv=None):
    return parse_args_with_overrides(get_parser(), argv)


def main(argv=None):
    args = parse_args(argv)

    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from facelib.config import finalize_face_cfg, get_face_cfg
    from facelib.data import register_all_facelib_datasets
    from facelib.engine import FaceTrainer

    register_all_facelib_datasets()
    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(list(args.opts) + ["DATALOADER.NUM_WORKERS", 0, "MODEL.DEVICE", "cpu"])
    finalize_face_cfg(cfg)
    torch.manual_seed(cfg.SEED)
    model = build_model(cfg)
    DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    model.train()
    loader = iter(FaceTrainer.build_train_loader(cfg))
    print("| batch | participating anchors | positive anchors | loss_cls, anchors | loss_cls, positives | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for b in range(args.batches):
        batch = next(loader)
        with torch.no_grad(), EventStorage():
            images = model.preprocess_image(batch)
            feats = model.forward_features(images)
            ctx = model.loss_context(images, feats, model.head_outputs(feats), [x["instances"] for x in batch])
            out = {}
            for norm in ("anchors", "positives"):
                model.cls_loss_normalizer = norm
                out[norm] = float(model.losses(ctx)["loss_cls"])
        labels = torch.stack(ctx.gt_labels)
        valid = int((labels >= 0).sum())
        pos = int(((labels >= 0) & (labels != model.num_classes)).sum())
        print(f"| {b} | {valid} | {pos} | {out['anchors']:.4f} | {out['positives']:.4f} | "
              f"{out['positives'] / out['anchors']:.0f} |")


if __name__ == "__main__":
    main()
