#!/usr/bin/env python
"""Inference time of a dense facelib detector split into backbone, head and what follows the
head's convolutions (decode, score threshold, top-k, NMS, rescale), on real photos.

    # one checkout (this one), 2 threads, batch 1 and 8, 640x480 face-mask val photos
    FACELIB_DATASETS=../shared/data python tools/benchmark_split.py \\
        --config-file configs/retinanet_mnet025_facemask.yaml --weights retinanet_mnet025_facemask_3000it \\
        --threads 2 --batch-sizes 1 8
    # before / after: this checkout and another (e.g. the parent commit in a git worktree),
    # alternated round by round in fresh processes, 1 and 2 threads
    FACELIB_DATASETS=../shared/data python tools/benchmark_split.py --compare ../parent \\
        --config-file configs/retinanet_mnet025_facemask.yaml --weights retinanet_mnet025_facemask_3000it

The split is measured inside one ``model(inputs)`` call with forward hooks on ``model.backbone``
and ``model.head`` (so it needs nothing but those two attributes and works on any version of the
code): ``pre`` = call start -> backbone start (normalisation, padding), ``backbone``, ``head``,
``post`` = head end -> call return, ``release`` = freeing the batch's large tensors (the
normalised, padded input, the backbone's features and the head's raw outputs), which the hooks
hold until the call has returned: glibc's allocator may give their pages back to the system
there (0 to 2 ms per call, varying from process to process), a cost of the allocator, not of
post-processing, and this keeps it out of ``post``. Median over ``--iters`` timed calls after
``--warmup``.
Images: the first ``max(batch)`` images of ``--dataset`` resized to ``--size`` (real photos, so a
trained model's detections reach NMS). ``--weights`` is a checkpoint path or a model-zoo name.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PARTS = ("pre", "backbone", "head", "post", "release")


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--weights", required=True, help="checkpoint path or model-zoo name")
    p.add_argument("--dataset", default="facemask_val")
    p.add_argument("--size", default="640x480", help="WxH the photos are resized to")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3, help="--compare: alternations of the two checkouts")
    p.add_argument("--compare", default=None, metavar="ROOT", help="another checkout to time against this one")
    p.add_argument("--code-root", default=None, help=argparse.SUPPRESS)  # child process: code to time
    p.add_argument("--json", default=None, help="write the results as JSON")
    return p


def parse_args(argv=None):
    return get_parser().parse_args(argv)


# ------------------------------------------------------------------------------ one measurement
def _load_images(dataset, n, size):
    import cv2
    import torch
    from detectron2.data import DatasetCatalog

    from facelib.data import register_all_facelib_datasets

    register_all_facelib_datasets()
    records = DatasetCatalog.get(dataset)[:n]
    if len(records) < n:
        raise SystemExit(f"{dataset} has {len(records)} images, {n} needed")
    w, h = size
    out = []
    for r in records:
        img = cv2.imread(r["file_name"])  # BGR, the configs' INPUT.FORMAT
        if img is None:
            raise SystemExit(f"cannot read {r['file_name']}")
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        out.append({"image": torch.as_tensor(img.transpose(2, 0, 1).copy()), "height": h, "width": w})
    return out


def _resolve_weights(name):
    """A path as given, else this checkout's model-zoo name (children get the resolved path)."""
    if os.path.isfile(name):
        return name
    from facelib.model_zoo import get_checkpoint_path

    return get_checkpoint_path(name)


def measure(args):
    """Median seconds of each part, per (threads, batch), in this process."""
    import torch

    import facelib  # noqa: F401
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from facelib.config import get_face_cfg

    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    DetectionCheckpointer(model).load(args.weights)
    model.eval()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    images = _load_images(args.dataset, max(args.batch_sizes), size)

    marks = {}
    held = []  # the batch's input, features and head outputs: released after the call, timed apart

    def mark(name):
        def hook(*_):
            marks[name] = time.perf_counter()
        return hook

    def hold_input(_module, args):
        held.append(args)
        marks["backbone_start"] = time.perf_counter()

    def hold_output(name):
        def hook(_module, _args, output):
            held.append(output)
            marks[name] = time.perf_counter()
        return hook

    model.backbone.register_forward_pre_hook(hold_input)
    model.backbone.register_forward_hook(hold_output("backbone_end"))
    model.head.register_forward_pre_hook(mark("head_start"))
    model.head.register_forward_hook(hold_output("head_end"))
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch_sizes:
            inputs = images[:batch]
            parts = {p: [] for p in PARTS}
            dets = 0
            with torch.no_grad():
                for it in range(args.warmup + args.iters):
                    t0 = time.perf_counter()
                    out = model(inputs)
                    t1 = time.perf_counter()
                    held.clear()
                    t2 = time.perf_counter()
                    if it < args.warmup:
                        continue
                    parts["pre"].append(marks["backbone_start"] - t0)
                    parts["backbone"].append(marks["backbone_end"] - marks["backbone_start"])
                    parts["head"].append(marks["head_end"] - marks["head_start"])
                    parts["post"].append(t1 - marks["head_end"])
                    parts["release"].append(t2 - t1)
                    dets = sum(len(o["instances"]) for o in out) / batch
            row = {"threads": threads, "batch": batch, "dets_per_image": dets}
            row.update({p: statistics.median(v) for p, v in parts.items()})
            row["total"] = sum(row[p] for p in PARTS)
            results.append(row)
    return results


# ------------------------------------------------------------------------------ before / after
def _child(root, args, out_json):
    cmd = [sys.executable, os.path.abspath(__file__), "--code-root", root, "--config-file", args.config_file,
           "--weights", args.weights, "--dataset", args.dataset, "--size", args.size,
           "--batch-sizes", *map(str, args.batch_sizes), "--threads", *map(str, args.threads),
           "--warmup", str(args.warmup), "--iters", str(args.iters), "--json", out_json]
    env = dict(os.environ, PYTHONPATH=root)
    subprocess.run(cmd, check=True, env=env, cwd=root)
    with open(out_json) as f:
        return json.load(f)


def compare(args):
    import tempfile

    sys.path.insert(0, os.path.dirname(HERE))
    args.weights = _resolve_weights(args.weights)  # once; the children get the path

    roots = {"this": os.path.dirname(HERE), "other": os.path.abspath(args.compare)}
    runs = {k: [] for k in roots}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ("other", "this") if r % 2 == 0 else ("this", "other")
            for name in order:
                runs[name].append(_child(roots[name], args, os.path.join(tmp, f"{name}{r}.json")))
    table = []
    for i, row in enumerate(runs["this"][0]):
        out = {"threads": row["threads"], "batch": row["batch"]}
        for name in roots:
            for p in PARTS + ("total",):
                out[f"{name}_{p}"] = statistics.median(run[i][p] for run in runs[name])
            out[f"{name}_dets"] = runs[name][0][i]["dets_per_image"]
        table.append(out)
    return {"roots": roots, "rounds": args.rounds, "rows": table}


def format_compare(res):
    head = ("| threads | batch | code | pre ms | backbone ms | head ms | post ms | post % of model | "
            "post ms / image | release ms | total ms | dets / image |")
    lines = [head, "|" + " --- |" * 12]
    for row in res["rows"]:
        for name in ("other", "this"):
            g = lambda p: row[f"{name}_{p}"]  # noqa: E731
            lines.append(
                f"| {row['threads']} | {row['batch']} | {name} | {1e3 * g('pre'):.2f} | {1e3 * g('backbone'):.2f} "
                f"| {1e3 * g('head'):.2f} | {1e3 * g('post'):.2f} | {100 * g('post') / g('total'):.1f} "
                f"| {1e3 * g('post') / row['batch']:.2f} | {1e3 * g('release'):.2f} | {1e3 * g('total'):.2f} "
                f"| {g('dets'):.1f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.code_root:
        sys.path.insert(0, args.code_root)
        res = measure(args)
    elif args.compare:
        res = compare(args)
        print(f"other = {res['roots']['other']}, this = {res['roots']['this']}, "
              f"medians of {res['rounds']} alternated rounds")
        print(format_compare(res))
    else:
        sys.path.insert(0, os.path.dirname(HERE))
        args.weights = _resolve_weights(args.weights)
        res = measure(args)
        for row in res:
            print({k: (round(v * 1e3, 2) if k in PARTS + ("total",) else v) for k, v in row.items()})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
