#!/usr/bin/env python
"""The quick start (README's first command): on the embedded synthetic occluded-face data,
1. print dataset statistics, 2. draw ground truth before / after the training augmentations,
3. train the quick-start face RetinaNet (configs/quickstart_synthetic_mnet.yaml) on the CPU,
4. evaluate it on the held-out synthetic val split with the WIDER FACE protocol (AP, PR curves,
   the official submission layout), 5. run the demo on a few val images (PNG + JSON),
and fail unless the hard-setting AP reaches ``--min-ap``. Every step's output folder is printed.

    python tools/quickstart.py [--output-dir output/quickstart] [--min-ap 0.7] [--resume] [opts ...]
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import facelib  # noqa: E402,F401  (detectron2._C stand-in before detectron2 imports)
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402
CONFIG = os.path.join(REPO, "configs", "quickstart_synthetic_mnet.yaml")


def _imagenet_backbone(out):
    """Converted ImageNet MobileNetV1-0.25 checkpoint (from ../shared/weights or $FACELIB_MNET025),
    made once under ``out``; None when the source checkpoint is absent."""
    from facelib.paths import shared_root

    src = os.environ.get("FACELIB_MNET025") or os.path.join(
        shared_root(), "weights", "mobilenet_v1_0.25_imagenet.pth.tar")
    if not os.path.isfile(src):
        return None
    dst = os.path.join(out, "mnet025_imagenet_d2.pth")
    if not os.path.isfile(dst):
        _run("0/5 convert ImageNet backbone", ["tools/convert_weights.py", "--source", "mobilenet_v1",
                                               "--input", src, "--output", dst])
    return dst


def _run(step, args):
    print(f"\n=== {step}: {' '.join(args)}", flush=True)
    t0 = time.time()
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)
    print(f"=== {step} done in {time.time() - t0:.0f} s", flush=True)


def get_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=os.path.join("output", "quickstart"))
    parser.add_argument("--config-file", default=CONFIG)
    parser.add_argument("--min-ap", type=float, default=0.7,
                        help="fail unless the WIDER-protocol hard AP (0..1) on synthetic val reaches this")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted training run")
    add_overrides_argument(parser)
    return parser


def parse_args(argv=None):
    return parse_args_with_overrides(get_parser(), argv)


def main(argv=None):
    args = parse_args(argv)
    out = os.path.abspath(args.output_dir)
    os.makedirs(out, exist_ok=True)

    init = _imagenet_backbone(out)
    if init is None:
        print("WARNING: ImageNet MobileNetV1-0.25 checkpoint not found (../shared/weights or "
              "$FACELIB_MNET025): training from scratch, which does not learn in this schedule; "
              "the AP check is skipped.", file=sys.stderr)
    _run("1/5 dataset statistics", ["tools/dataset_stats.py", "--datasets", "synthetic_faces_train",
                                    "synthetic_faces_val", "--json", os.path.join(out, "dataset_stats.json")])
    _run("2/5 augmentations", ["tools/visualize_data.py", "--source", "dataloader", "--config-file",
                               args.config_file, "--output-dir", os.path.join(out, "augmentations"),
                               "--num-images", "4"])
    _run("3/5 training + 4/5 WIDER-protocol evaluation",
         ["tools/train_net.py", "--config-file", args.config_file, *(["--resume"] if args.resume else []),
          "OUTPUT_DIR", out, *(["MODEL.WEIGHTS", init] if init else []), *args.opts])
    weights = os.path.join(out, "model_final.pth")
    eval_dir = os.path.join(out, "inference", "synthetic_faces_val")
    with open(os.path.join(eval_dir, "wider_face_results.json")) as f:
        results = json.load(f)

    from detectron2.data import DatasetCatalog

    from facelib.data import register_all_facelib_datasets

    register_all_facelib_datasets()
    val_images = [d["file_name"] for d in DatasetCatalog.get("synthetic_faces_val")[:4]]
    _run("5/5 demo", ["tools/demo.py", "--config-file", args.config_file, "--input", *val_images,
                      "--output", os.path.join(out, "demo"), "--json-file", os.path.join(out, "demo", "detections.json"),
                      "--opts", "MODEL.WEIGHTS", weights])

    print("\nQuick start finished. WIDER-protocol AP on synthetic_faces_val (held out):")
    print(json.dumps(results, indent=None))
    print(f"  dataset statistics : {os.path.join(out, 'dataset_stats.json')}")
    print(f"  augmentations      : {os.path.join(out, 'augmentations')}")
    print(f"  training log       : {os.path.join(out, 'log.txt')} (TensorBoard: {out})")
    print(f"  model              : {weights}")
    print(f"  PR curves, submission: {eval_dir}")
    print(f"  demo images + JSON : {os.path.join(out, 'demo')}")
    hard = float(results["ap_percent"]["hard"]) / 100.0
    if init is None:
        print(f"hard AP {hard:.4f} (from scratch: no AP check)")
        return
    if hard < args.min_ap:
        sys.exit(f"quick start FAILED: hard AP {hard:.4f} < required {args.min_ap}")
    print(f"quick start OK: hard AP {hard:.4f} >= {args.min_ap}")


if __name__ == "__main__":
    main()
