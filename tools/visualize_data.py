#!/usr/bin/env python
"""Visualize the ground truth of facelib datasets, before and after the training augmentation.

Like detectron2's ``tools/visualize_data.py``:

* ``--source annotation``: the dataset dicts of ``DATASETS.TRAIN`` as stored (boxes; ignored faces
  in grey; the occlusion mask, when the dataset has one, as a red overlay), one PNG per image;
* ``--source dataloader``: the output of detectron2's training data loader with
  :class:`facelib.data.mapper.FaceDatasetMapper` (``INPUT.FACE_AUG.TRAIN``), drawn *side by side*
  with the same image before augmentation, one PNG per image.

Examples::

    python tools/visualize_data.py --source dataloader --output-dir /tmp/vis --num-images 8 \\
        DATASETS.TRAIN "('synthetic_faces_tiny',)"
    FACELIB_DATASETS=../shared/data python tools/visualize_data.py --source annotation \\
        --output-dir /tmp/vis DATASETS.TRAIN "('facemask_train',)"

The PNGs are named after ``image_id`` (``/`` replaced by ``__``). The number of faces the mapper
dropped (left the crop / smaller than ``INPUT.FACE_AUG.MIN_FACE_SIZE``) is printed per image.
"""
import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401  (detectron2._C stand-in before detectron2.engine imports)
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402
from detectron2.config import get_cfg  # noqa: E402
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_train_loader  # noqa: E402
from detectron2.data import detection_utils as utils  # noqa: E402
from detectron2.structures import BoxMode  # noqa: E402
from detectron2.utils.env import seed_all_rng  # noqa: E402
from facelib.engine.console_logging import setup_facelib_logger  # noqa: E402
from detectron2.utils.visualizer import Visualizer  # noqa: E402

from facelib.config import add_facelib_config  # noqa: E402
from facelib.data.mapper import FaceDatasetMapper, read_occlusion_mask  # noqa: E402

FACE_COLOR = (0.0, 1.0, 0.0)
IGNORE_COLOR = (0.6, 0.6, 0.6)
MASK_COLOR = "red"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Visualize facelib ground truth before/after augmentation")
    parser.add_argument("--source", choices=["annotation", "dataloader"], required=True,
                        help="visualize the annotations or the data loader (with augmentation)")
    parser.add_argument("--config-file", metavar="FILE", default="", help="path to config file")
    parser.add_argument("--output-dir", default="./vis_data", help="folder for the PNGs")
    parser.add_argument("--num-images", type=int, default=16, help="number of images to draw")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the augmentation")
    parser.add_argument("--no-mask", action="store_true", help="do not load / draw occlusion masks")
    add_overrides_argument(parser)
    return parse_args_with_overrides(parser, argv)


def setup(args):
    cfg = get_cfg()
    add_facelib_config(cfg)
    if args.config_file:
        # method configs may carry keys of method subtrees this tool does not add
        cfg.set_new_allowed(True)
        cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts or [])
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.INPUT.FACE_AUG.LOAD_OCCLUSION_MASK = not args.no_mask
    cfg.freeze()
    return cfg


def _register(cfg):
    from facelib.data import register_all_facelib_datasets

    register_all_facelib_datasets(cfg.DATASETS.FACELIB.ROOT or None)


def _draw(img_rgb, boxes, ignore, mask, metadata, scale=1.0):
    """Boxes (XYXY, ignored faces grey) and the occlusion mask (red overlay) on an RGB image."""
    vis = Visualizer(img_rgb, metadata=metadata, scale=scale)
    if mask is not None and mask.any():
        vis.draw_binary_mask(mask.astype(np.uint8), color=MASK_COLOR, alpha=0.4)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes):
        colors = [IGNORE_COLOR if ig else FACE_COLOR for ig in ignore]
        labels = ["ignore" if ig else "" for ig in ignore]
        vis.overlay_instances(boxes=boxes, labels=labels if any(ignore) else None, assigned_colors=colors)
    return vis.get_output().get_image()


def draw_annotation(dic, metadata, load_mask=True, height=None):
    """The stored annotation; ``height``: draw at (about) this height (side-by-side panels)."""
    img = utils.read_image(dic["file_name"], "RGB")
    scale = 1.0 if height is None else float(np.clip(height / img.shape[0], 0.25, 4.0))
    annos = dic.get("annotations", [])
    boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annos]
    ignore = [bool(a.get("ignore", 0)) for a in annos]
    mask = None
    if load_mask and dic.get("occlusion_mask_file"):
        mask = read_occlusion_mask(dic["occlusion_mask_file"])
    return _draw(img, boxes, ignore, mask, metadata, scale)


def draw_mapped(per_image, image_format, metadata):
    img = per_image["image"].permute(1, 2, 0).cpu().numpy()
    img = utils.convert_image_to_rgb(img, image_format)
    inst = per_image.get("instances")
    boxes, ignore = np.zeros((0, 4)), []
    if inst is not None:
        boxes = inst.gt_boxes.tensor.numpy()
        ignore = inst.gt_ignore.tolist() if inst.has("gt_ignore") else [False] * len(boxes)
    mask = per_image.get("occlusion_mask")
    mask = mask.numpy() if mask is not None else None
    return _draw(img, boxes, ignore, mask, metadata)


def side_by_side(left, right, gap=8):
    h = max(left.shape[0], right.shape[0])
    canvas = np.full((h, left.shape[1] + gap + right.shape[1], 3), 255, np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1] + gap :] = right
    return canvas


def write_png(path, img_rgb):
    import cv2

    if not cv2.imwrite(path, np.ascontiguousarray(img_rgb[:, :, ::-1])):
        raise OSError(f"cannot write {path}")


def _png_name(output_dir, dic_or_output):
    image_id = str(dic_or_output.get("image_id", os.path.splitext(os.path.basename(dic_or_output["file_name"]))[0]))
    return os.path.join(output_dir, image_id.replace("/", "__").replace(os.sep, "__") + ".png")


def main(in_args=None):
    args = parse_args(in_args)
    logger = setup_facelib_logger()
    cfg = setup(args)
    _register(cfg)
    if not cfg.DATASETS.TRAIN:
        raise SystemExit("DATASETS.TRAIN is empty: pass e.g. DATASETS.TRAIN \"('synthetic_faces_tiny',)\"")
    os.makedirs(args.output_dir, exist_ok=True)
    metadata = MetadataCatalog.get(cfg.DATASETS.TRAIN[0])
    seed_all_rng(args.seed)
    dicts = list(itertools.chain.from_iterable(DatasetCatalog.get(k) for k in cfg.DATASETS.TRAIN))
    written = []
    if args.source == "annotation":
        for dic in dicts[: args.num_images]:
            path = _png_name(args.output_dir, dic)
            write_png(path, draw_annotation(dic, metadata, load_mask=not args.no_mask))
            written.append(path)
    else:
        by_file = {d["file_name"]: d for d in dicts}
        mapper = FaceDatasetMapper(cfg, True)
        loader = build_detection_train_loader(cfg, mapper=mapper)
        for batch in loader:
            for per_image in batch:
                original = by_file[per_image["file_name"]]
                after = draw_mapped(per_image, cfg.INPUT.FORMAT, metadata)
                before = draw_annotation(original, metadata, not args.no_mask, height=after.shape[0])
                path = _png_name(args.output_dir, per_image)
                write_png(path, side_by_side(before, after))
                written.append(path)
                n_in = len(original.get("annotations", []))
                n_out = len(per_image["instances"]) if "instances" in per_image else 0
                logger.info(
                    f"{path}: {n_in} faces before, {n_out} after, "
                    f"{per_image.get('num_dropped_faces', 0)} dropped by the augmentation"
                )
                if len(written) >= args.num_images:
                    break
            if len(written) >= args.num_images:
                break
    logger.info(f"Wrote {len(written)} images to {args.output_dir}")
    return written


if __name__ == "__main__":
    main()
