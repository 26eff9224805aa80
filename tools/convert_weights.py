#!/usr/bin/env python
"""Convert an ImageNet checkpoint into a detectron2 checkpoint of a facelib backbone.

    python tools/convert_weights.py --source torchvision_resnet --input resnet50.pth --output R-50-tv.pth
    python tools/convert_weights.py --source torchvision_vgg16 --input vgg16.pth --output vgg16-d2.pth \\
        [--vgg-fc-to-box-head]
    python tools/convert_weights.py --source mobilenet_v1 \\
        --input ../shared/weights/mobilenet_v1_0.25_imagenet.pth.tar --output mnet025-d2.pth

The output is ``{"model": {...}, "__author__": ..., "matching_heuristics": False}``; set
``MODEL.WEIGHTS`` to it. Names are prefixed with ``--prefix`` (default: ``backbone.bottom_up.`` for
ResNet/MobileNet, i.e. the FPN backbones, and ``backbone.`` for VGG16). torchvision weights expect
RGB input with ImageNet mean/std (see facelib/modeling/config.py); torchvision ResNets need
``MODEL.RESNETS.STRIDE_IN_1X1 False``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401
from facelib.modeling.weight_conversion import DEFAULT_PREFIX, SOURCES, convert_checkpoint_file  # noqa: E402


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, choices=sorted(SOURCES))
    p.add_argument("--input", required=True, help="source checkpoint (state dict, or dict with "
                   "'state_dict'/'model')")
    p.add_argument("--output", required=True, help="output .pth")
    p.add_argument("--prefix", default=None,
                   help=f"prefix of the converted names (default per source: {DEFAULT_PREFIX})")
    p.add_argument("--vgg-fc-to-box-head", action="store_true",
                   help="torchvision_vgg16: keep fc6/fc7 as roi_heads.box_head.fc1/fc2 "
                        "(FastRCNNConvFCHead, NUM_FC 2, FC_DIM 4096, POOLER_RESOLUTION 7)")
    return p


def parse_args(argv=None):
    p = get_parser()
    args = p.parse_args(argv)
    if args.vgg_fc_to_box_head and args.source != "torchvision_vgg16":
        p.error("--vgg-fc-to-box-head only applies to --source torchvision_vgg16")
    return args


def main(argv=None):
    args = parse_args(argv)
    kwargs = {}
    if args.vgg_fc_to_box_head:
        kwargs["box_head_prefix"] = "roi_heads.box_head."
    model = convert_checkpoint_file(args.source, args.input, args.output, args.prefix, **kwargs)
    n = sum(v.numel() for v in model.values())
    print(f"wrote {len(model)} tensors ({n / 1e6:.2f} M values) to {args.output}")
    for k in list(model)[:3] + ["..."] + list(model)[-2:]:
        print("  ", k, tuple(model[k].shape) if k in model else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
