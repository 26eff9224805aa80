#!/usr/bin/env python
"""Write a training checkpoint as a model-zoo file: the weights only (``{"model": state_dict}``,
no optimizer / scheduler / iteration), and print its size and sha256 for ``facelib/model_zoo.py``
and ``model_zoo/README.md``.

    python tools/zoo_checkpoint.py output/rf_all/model_final.pth model_zoo/refineface_mnet025_facemask_3000.pth
    python tools/zoo_checkpoint.py --half --drop roi_heads.mask_generator output/aofd/model_final.pth model_zoo/aofd_mnet025_facemask.pth
"""
import argparse
import hashlib
import os
import sys

import torch

MAX_BYTES = 5 * 1024 * 1024


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="a detectron2 checkpoint (model_final.pth, model_0000999.pth, ...)")
    p.add_argument("output", help="the model-zoo file to write")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="refuse larger files (default 5 MiB)")
    p.add_argument("--drop", action="append", default=[], metavar="PREFIX",
                   help="leave out the tensors under this prefix (repeatable): a training-only module, "
                        "e.g. AOFD's roi_heads.mask_generator, for an inference checkpoint")
    p.add_argument("--half", action="store_true",
                   help="store floating-point tensors as float16 (half the size; loading casts them back to "
                        "the model's float32: evaluate the written file, its AP can differ in the last digit)")
    return p


def parse_args(argv=None):
    return get_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    ckpt = torch.load(args.input, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        sys.exit(f"{args.input}: not a detectron2 checkpoint (no 'model' entry)")
    model = ckpt["model"]
    if args.drop:
        dropped = {k for k in model if k.startswith(tuple(args.drop))}
        if not dropped:
            sys.exit(f"--drop {args.drop}: no tensor has these prefixes")
        model = {k: v for k, v in model.items() if k not in dropped}
        print(f"dropped {len(dropped)} tensors under {', '.join(args.drop)}")
    if args.half:
        model = {k: (v.half() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in model.items()}
    torch.save({"model": model}, args.output)
    size = os.path.getsize(args.output)
    if size > args.max_bytes:
        os.remove(args.output)
        sys.exit(f"{args.output}: {size} bytes is over the limit of {args.max_bytes}; not written")
    with open(args.output, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{args.output}: {size / 1e6:.1f} MB, {len(ckpt['model'])} tensors, sha256 {digest}")


if __name__ == "__main__":
    main()
