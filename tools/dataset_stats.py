#!/usr/bin/env python
"""Print statistics of registered face datasets: images, faces, ignored / masked / occluded faces,
face-height histogram, images without faces and occlusion-mask coverage.

    python tools/dataset_stats.py --datasets synthetic_faces_val facemask_val [--json out.json]

Set FACELIB_DATASETS to the datasets root (e.g. ../shared/data beside the checkout).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401
from facelib.data import register_all_facelib_datasets  # noqa: E402

HEIGHT_BINS = (0, 10, 20, 50, 100, 200, 400, float("inf"))


def dataset_statistics(dataset_dicts):
    """Counts over a list of facelib dataset dicts (see docs/data_format.md)."""
    heights, n_ignore, n_masked, n_occluded, n_empty, n_with_mask = [], 0, 0, 0, 0, 0
    for d in dataset_dicts:
        anns = d.get("annotations", [])
        n_empty += not anns
        n_with_mask += "occlusion_mask_file" in d
        for a in anns:
            heights.append(float(a["bbox"][3]))
            n_ignore += bool(a.get("ignore", 0))
            n_masked += bool(a.get("masked", False))
            n_occluded += bool(a.get("occluded", False))
    hist, _ = np.histogram(np.asarray(heights, dtype=np.float64), bins=np.asarray(HEIGHT_BINS))
    labels = [f"h {int(lo)}-{int(hi)}" if hi != float("inf") else f"h >={int(lo)}"
              for lo, hi in zip(HEIGHT_BINS[:-1], HEIGHT_BINS[1:])]
    return {
        "images": len(dataset_dicts),
        "faces": len(heights),
        "ignored_faces": n_ignore,
        "masked_faces": n_masked,
        "occluded_faces": n_occluded,
        "images_without_faces": n_empty,
        "images_with_occlusion_mask": n_with_mask,
        "face_height_median": float(np.median(heights)) if heights else 0.0,
        "face_height_histogram": dict(zip(labels, hist.tolist())),
    }


def get_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", required=True, help="registered dataset names")
    parser.add_argument("--json", help="also write the statistics to this JSON file")
    return parser


def parse_args(argv=None):
    return get_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    from detectron2.data import DatasetCatalog
    from tabulate import tabulate

    register_all_facelib_datasets()
    stats = {name: dataset_statistics(DatasetCatalog.get(name)) for name in args.datasets}
    rows = []
    for name, s in stats.items():
        flat = {k: v for k, v in s.items() if k != "face_height_histogram"}
        flat.update(s["face_height_histogram"])
        rows.append({"dataset": name, **flat})
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(stats, f, indent=2)
        print(f"statistics written to {args.json}")
    return stats


if __name__ == "__main__":
    main()
