#!/usr/bin/env python
"""Wall time of ``tools/eval_widerface.py`` as a user runs it (a fresh interpreter each time,
start-up and imports included), and whether torch / detectron2 got imported. Prints a table.

    python tools/benchmark_eval_widerface.py --pred SUBMISSION_DIR --gt GT_DIR [--runs 5]
    python tools/benchmark_eval_widerface.py --make-submission /tmp/sub --gt GT_DIR   # a test submission

``--make-submission DIR`` first writes a submission for every image of ``GT_DIR``'s
``wider_face_val.mat`` (80 % of the faces, jittered by 1 px, plus 20 random boxes per image,
seeded), so the benchmark needs no trained model.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def get_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pred", help="submission folder (<event>/<name>.txt)")
    p.add_argument("--gt", required=True, help="folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--make-submission", metavar="DIR", help="write a seeded test submission here and benchmark it")
    return p


def parse_args(argv=None):
    args = get_parser().parse_args(argv)
    if not args.pred and not args.make_submission:
        get_parser().error("give --pred or --make-submission")
    if args.runs < 1:
        get_parser().error(f"--runs must be >= 1, got {args.runs}")
    return args


def make_submission(out_dir, gt_dir, seed=0):
    import numpy as np

    from facelib.evaluation import wider_face_protocol as W

    gt = W.load_wider_gt(gt_dir)
    rng = np.random.RandomState(seed)
    preds = {}
    for img, b in zip(gt.image_ids, gt.boxes):
        b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
        keep = rng.rand(len(b)) < 0.8
        boxes = np.vstack([b[keep] + rng.randn(int(keep.sum()), 4), rng.rand(20, 4) * 300])
        scores = np.concatenate([rng.rand(int(keep.sum())) * 0.5 + 0.5, rng.rand(20) * 0.7])
        preds[img] = np.hstack([boxes, scores[:, None]])
    W.write_submission(out_dir, preds)
    return len(preds)


_PROBE = ("import runpy, sys; sys.argv = ['tools/eval_widerface.py'] + sys.argv[1:]\n"
          "try:\n    runpy.run_path('tools/eval_widerface.py', run_name='__main__')\n"
          "except SystemExit:\n    pass\n"
          "print('IMPORTED', 'torch' in sys.modules, 'detectron2' in sys.modules)\n")


def main(argv=None):
    args = parse_args(argv)
    pred = args.pred
    if args.make_submission:
        n = make_submission(args.make_submission, args.gt)
        print(f"wrote a test submission of {n} images to {args.make_submission}")
        pred = pred or args.make_submission
    cmd = [sys.executable, os.path.join(REPO, "tools", "eval_widerface.py"), "--pred", pred, "--gt", args.gt]
    times, line = [], ""
    for _ in range(args.runs):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        times.append(time.perf_counter() - t)
        if out.returncode != 0:
            sys.exit(f"eval_widerface.py failed: {out.stderr[-2000:]}")
        line = out.stdout.strip()
    probe = subprocess.run([sys.executable, "-c", _PROBE, "--pred", pred, "--gt", args.gt], capture_output=True,
                           text=True, cwd=REPO)
    imported = [ln for ln in probe.stdout.splitlines() if ln.startswith("IMPORTED")]
    torch_in, d2_in = imported[0].split()[1:] if imported else ("?", "?")
    print(f"result: {line}")
    print("| runs | median s | min s | max s | torch imported | detectron2 imported |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| {args.runs} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | {torch_in} | {d2_in} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
