#!/usr/bin/env python
"""Occlusion analysis report of one or more sets of face predictions on one dataset.

    python tools/analyze.py --pred DIR_OR_JSON [--pred OTHER ...] --dataset NAME --output report/

``--pred`` (repeatable, ``LABEL=PATH`` to name it; default label: the file's or folder's name):
a ``face_predictions.json`` (written by ``tools/train_net.py --eval-only TEST.ANALYSIS.ENABLED
True`` or :func:`facelib.evaluation.prediction_files.write_face_predictions`), a folder holding
one, a WIDER FACE submission folder (``<event>/<name>.txt``; an evaluator output folder with
``submission/`` works too), or the ``OUTPUT_DIR`` of such an evaluation run (its
``inference/<dataset>/analysis/`` is read). ``--dataset``: a registered facelib dataset (``$FACELIB_DATASETS`` or
``--datasets-root`` is the root); its annotations are read, its images only for the gallery
(absent images are skipped and counted).

Writes ``report/index.html`` (self-contained: images in ``report/img/``), ``report/report.json``
and prints the AP per setting of each prediction set. The first ``--pred`` is the reference of the
differences. Example, FAN against the baseline on the face-mask val split::

    FACELIB_DATASETS=../shared/data python tools/analyze.py --dataset facemask_val \\
        --pred baseline=output/retinanet_eval --pred FAN=output/fan_eval --output report/
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401  (detectron2._C stand-in before detectron2 imports)

logger = logging.getLogger("analyze")


def parse_pred(spec: str):
    """``LABEL=PATH`` or ``PATH`` -> (label, path)."""
    if "=" in spec and not os.path.exists(spec):
        label, path = spec.split("=", 1)
        if not label or not path:
            raise argparse.ArgumentTypeError(f"--pred {spec!r}: expected LABEL=PATH or PATH")
        return label, path
    path = spec.rstrip("/")
    name = os.path.basename(path)
    if name.endswith(".json"):
        name = os.path.basename(os.path.dirname(os.path.abspath(path))) if name == "face_predictions.json" \
            else name[:-len(".json")]
    return name or path, spec


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pred", action="append", required=True, type=parse_pred,
                   help="LABEL=PATH or PATH: a face_predictions.json, a folder holding one, or a WIDER submission")
    p.add_argument("--dataset", required=True, help="registered dataset name, e.g. facemask_val, widerface_val200")
    p.add_argument("--output", required=True, help="report folder (created)")
    p.add_argument("--datasets-root", default="", help="datasets root (default: $FACELIB_DATASETS)")
    p.add_argument("--iou-threshold", type=float, default=0.5)
    p.add_argument("--precision", type=float, default=0.9,
                   help="operating point of the recall columns: the score where precision over all faces is this")
    p.add_argument("--gallery-size", type=int, default=8, help="misses and false positives per prediction set")
    p.add_argument("--no-gallery", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    from facelib.data import register_all_facelib_datasets
    from facelib.evaluation.analysis_ground_truth import load_analysis_ground_truth
    from facelib.evaluation.analysis_report import write_report
    from facelib.evaluation.occlusion_analysis import analyze
    from facelib.evaluation.prediction_files import read_predictions

    labels = [label for label, _ in args.pred]
    if len(set(labels)) != len(labels):
        print(f"error: --pred labels must be distinct, got {labels} (name them LABEL=PATH)", file=sys.stderr)
        return 2
    register_all_facelib_datasets(args.datasets_root or None)
    try:
        gt = load_analysis_ground_truth(args.dataset)
        sources = [read_predictions(path, list(gt.records), args.dataset) for _, path in args.pred]
    except (KeyError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = [analyze(gt, src.predictions, label=label, iou_threshold=args.iou_threshold,
                       precision=args.precision, gallery_size=args.gallery_size)
               for (label, _), src in zip(args.pred, sources)]
    index = write_report(args.output, gt, results, sources=[f"{s.path} ({s.kind})" for s in sources],
                         gallery=not args.no_gallery)
    for r in results:
        print(f"{r.label}: " + " ".join(f"{s}: {100 * v['ap']:.1f}" for s, v in r.settings.items()))
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
