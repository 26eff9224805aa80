#!/usr/bin/env python
"""Evaluate a WIDER FACE submission folder like the official Matlab kit (``wider_eval.m``).

    python tools/eval_widerface.py --pred <submission dir> --gt <eval_tools/ground_truth>

``--pred`` holds ``<event>/<name>.txt`` per validation image (line 1 the image name, line 2 the box
count, then ``x y w h score`` lines); ``--gt`` holds ``wider_face_val.mat`` and
``wider_{easy,medium,hard}_val.mat``. Prints ``easy: 0.xxxx medium: 0.xxxx hard: 0.xxxx`` (AP as a
fraction), or with ``--json`` one JSON line. A missing prediction file counts as no detections
(one warning on stderr names how many and the first few); so does a file the official reader
rejects. ``--iou-mode official`` (default) reproduces the kit's int32-rounded overlap, ``float`` the
double-precision overlap of the public Python ports; see facelib/evaluation/wider_face_protocol.py.
"""
import argparse
import json
import logging
import os
import sys

try:
    from facelib.evaluation import wider_face_protocol as wfp
except ImportError:  # run from a checkout without installing facelib
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from facelib.evaluation import wider_face_protocol as wfp

logger = logging.getLogger("eval_widerface")
_SHOW = 5


def _summary(kind, ids, total):
    shown = ", ".join(f"{i}.txt" for i in ids[:_SHOW])
    more = f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else ""
    return f"{len(ids)} of {total} prediction files {kind} (counted as no detections): {shown}{more}"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pred", required=True, help="submission folder: <event>/<name>.txt per image")
    p.add_argument("--gt", required=True, help="folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat")
    p.add_argument("--iou-mode", choices=wfp.IOU_MODES, default="official")
    p.add_argument("--iou-threshold", type=float, default=0.5)
    p.add_argument("--num-thresholds", type=int, default=1000)
    p.add_argument("--json", action="store_true", help="print one JSON line instead of the text line")
    p.add_argument("--plot-dir", default="", help="also write one PR-curve PNG per setting here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    if not os.path.isdir(args.pred):
        print(f"error: prediction folder {args.pred} not found", file=sys.stderr)
        return 2
    try:
        gt = wfp.load_wider_gt(args.gt)
    except (FileNotFoundError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    read = wfp.read_submission(args.pred, gt.image_ids)
    n = len(gt.image_ids)
    if read.missing:
        logger.warning(_summary("missing", read.missing, n))
    if read.invalid:
        logger.warning(_summary("in an invalid format", read.invalid, n))
    results = wfp.evaluate_wider(
        gt, read.predictions, iou_mode=args.iou_mode, iou_threshold=args.iou_threshold,
        num_thresholds=args.num_thresholds,
    )
    aps = {s: results[s].ap for s in wfp.SETTINGS}
    if args.plot_dir:
        from facelib.evaluation.plots import save_pr_curve

        for s in wfp.SETTINGS:
            r = results[s]
            save_pr_curve(os.path.join(args.plot_dir, f"wider_pr_curve_{s}.png"), r.recall, r.precision,
                          label=f"AP {r.ap:.4f}", title=f"WIDER FACE val {s} ({args.iou_mode} IoU)")
    if args.json:
        out = dict(aps)
        out.update(iou_mode=args.iou_mode, iou_threshold=args.iou_threshold,
                   num_images=n, num_faces={s: results[s].num_faces for s in wfp.SETTINGS},
                   missing=len(read.missing), invalid=len(read.invalid))
        print(json.dumps(out))
    else:
        print(wfp.format_results_line(aps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
