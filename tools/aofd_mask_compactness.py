#!/usr/bin/env python
"""How compact AOFD's generated RoI masks are, and how much the compact constraint (Eq. 2-3)
weighs in the generator's gradient, for one or more checkpoints.

    FACELIB_DATASETS=../shared/data python tools/aofd_mask_compactness.py \\
        --config-file configs/aofd_mnet025_facemask.yaml \\
        --weights output/a/model_stage_generator.pth output/b/model_final.pth

For the first ``--num-images`` images of ``--dataset``: every face box is pooled as a RoI (the
positives the generator is trained on are proposals at IoU >= 0.5 to a face; the face box itself
is their centre), the generator's hard mask at ``MODEL.AOFD.GENERATOR_DROP_FRACTION_TRAIN_G``
(a quarter of the 7x7 cells) is taken, and the table gives the mean number of connected dropped
regions per mask (4-neighbourhood; a compact occluder is 1), the share of one-region masks and the
mean L_com (Eq. 3). ``--gradients`` adds, on the same RoIs, the norm of the gradient on the
generator's scores of GAMMA * L_com under each ``COMPACT_LOSS_REDUCTION`` and of ETA * L_c (the
detector's classification loss on the masked RoIs).
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
    p.add_argument("--weights", nargs="+", required=True)
    p.add_argument("--dataset", default="facemask_val")
    p.add_argument("--num-images", type=int, default=100)
    p.add_argument("--gradients", action="store_true")
    add_overrides_argument(p)
    return p


def parse_args(argv=None):
    return parse_args_with_overrides(get_parser(), argv)


def _rois(model, records, mapper):
    """Pooled face RoIs (N, C, 7, 7) of the records (every face box as a RoI)."""
    pooled = []
    heads = model.roi_heads
    with torch.no_grad():
        for r in records:
            d = mapper(r)
            if len(d["instances"]) == 0:
                continue
            images = model.preprocess_image([d])
            feats = model.backbone(images.tensor)
            boxes = d["instances"].gt_boxes.to(model.device)
            pooled.append(heads.box_pooler([feats[f] for f in heads.box_in_features], [boxes]))
    return torch.cat(pooled) if pooled else torch.empty(0)


def measure(cfg, weights, records, mapper, gradients):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from facelib.projects.aofd.compact_loss import compact_loss
    from facelib.projects.aofd.config import COMPACT_LOSS_REDUCTIONS
    from facelib.projects.aofd.mask_generator import binarize
    from facelib.projects.aofd.mask_stats import mask_compactness

    model = build_model(cfg)
    DetectionCheckpointer(model).load(weights)
    model.eval()
    heads = model.roi_heads
    if heads.mask_generator is None:
        raise SystemExit("the config has no mask generator (MODEL.AOFD.GENERATOR_ON False)")
    fp = _rois(model, records, mapper)
    frac = cfg.MODEL.AOFD.GENERATOR_DROP_FRACTION_TRAIN_G
    with torch.no_grad():
        masks = binarize(heads.mask_generator(fp), frac, straight_through=False)
    row = {"weights": weights, **mask_compactness(masks)}
    if gradients and len(fp):
        scores = heads.mask_generator(fp).detach().requires_grad_(True)
        mask = binarize(scores, frac, straight_through=True)
        cls, _ = heads.box_predictor(heads.box_head(fp * mask))
        l_c = torch.nn.functional.cross_entropy(cls, torch.zeros(len(fp), dtype=torch.long))
        (g_c,) = torch.autograd.grad(cfg.MODEL.AOFD.ETA * l_c, scores, retain_graph=True)
        row["grad_eta_lc"] = float(g_c.norm())
        for red in COMPACT_LOSS_REDUCTIONS:
            l_com = compact_loss(mask, red, num_channels=fp.shape[1])
            (g,) = torch.autograd.grad(cfg.MODEL.AOFD.GAMMA * l_com, scores, retain_graph=True)
            row[f"grad_gamma_lcom_{red}"] = float(g.norm())
    return row


def main(argv=None):
    args = parse_args(argv)
    from detectron2.data import DatasetCatalog

    from facelib.data import register_all_facelib_datasets
    from facelib.config import finalize_face_cfg, get_face_cfg
    from facelib.data.mapper import FaceDatasetMapper

    register_all_facelib_datasets()
    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(list(args.opts) + ["MODEL.DEVICE", "cpu"])
    finalize_face_cfg(cfg)
    records = DatasetCatalog.get(args.dataset)[: args.num_images]
    mapper = FaceDatasetMapper(cfg, is_train=False, keep_annotations_in_test=True)
    rows = [measure(cfg, w, records, mapper, args.gradients) for w in args.weights]
    keys = [k for k in rows[0] if k != "weights"]
    print("| weights | " + " | ".join(keys) + " |")
    print("|" + " --- |" * (len(keys) + 1))
    for r in rows:
        print(f"| {r['weights']} | " + " | ".join(
            f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
