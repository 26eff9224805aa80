#!/usr/bin/env python
"""Where a training iteration's time goes, for a dense (FaceRetinaNet-family) config: the data
loader, the network forward, label assignment, the losses, backward, the optimizer step, and what
is left (logging, hooks are not run here). Prints a table of median ms per iteration and shares.

    FACELIB_DATASETS=../shared/data python tools/profile_train_step.py \\
        --config-file configs/retinanet_mnet025_facemask.yaml --iters 30 --warmup 5

It builds the model, optimizer and training loader as ``FaceTrainer`` does (``SOLVER.*``,
``DATALOADER.NUM_WORKERS``, ``INPUT.FACE_AUG.TRAIN``) and times each stage of
``FaceRetinaNet.forward`` by wrapping its hooks (``preprocess_image`` + ``forward_features`` +
``head_outputs`` = forward; ``label_anchors`` = assignment; the rest of ``forward_training`` =
losses). ``--threads`` sets torch's intra-op threads of the main process.
"""
import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402

STAGES = ["data", "forward", "assignment", "losses", "backward", "optimizer"]


def get_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file", required=True, metavar="FILE")
    p.add_argument("--iters", type=int, default=30, help="timed iterations")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads of the main process")
    add_overrides_argument(p)
    return p


def parse_args(argv=None):
    args = parse_args_with_overrides(get_parser(), argv)
    if args.iters < 1 or args.warmup < 0:
        get_parser().error("--iters must be >= 1 and --warmup >= 0")
    return args


class _Timed:
    """Accumulates the wall time of wrapped calls per stage name (nested calls: inner excluded)."""

    def __init__(self):
        self.acc = defaultdict(float)
        self._stack = []

    def wrap(self, obj, method, stage):
        fn = getattr(obj, method)

        def timed(*a, **k):
            t = time.perf_counter()
            self._stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                inner = self._stack.pop()
                dt = time.perf_counter() - t
                self.acc[stage] += dt - inner
                if self._stack:
                    self._stack[-1] += dt

        setattr(obj, method, timed)


def main(argv=None):
    args = parse_args(argv)
    import torch

    from facelib.config import load_face_cfg
    from facelib.data import register_all_facelib_datasets
    from facelib.engine import FaceTrainer
    from facelib.modeling.face_retinanet import FaceRetinaNet
    from detectron2.utils.events import EventStorage

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_face_cfg(args.config_file, list(args.opts) + ["MODEL.DEVICE", "cpu"])
    cfg.freeze()
    register_all_facelib_datasets(cfg.DATASETS.FACELIB.ROOT or None)
    model = FaceTrainer.build_model(cfg)
    if not isinstance(model, FaceRetinaNet):
        sys.exit(f"profile_train_step.py profiles dense (FaceRetinaNet-family) models; got {type(model).__name__}")
    if cfg.MODEL.WEIGHTS:
        from facelib.engine.checkpoint import FaceCheckpointer

        FaceCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    model.train()
    optimizer = FaceTrainer.build_optimizer(cfg, model)
    loader = iter(FaceTrainer.build_train_loader(cfg))
    timer = _Timed()
    for method in ("preprocess_image", "forward_features", "head_outputs"):
        timer.wrap(model, method, "forward")
    timer.wrap(model, "label_anchors", "assignment")
    timer.wrap(model, "forward_training", "losses")  # minus the assignment inside it

    per_iter = defaultdict(list)
    with EventStorage(0):
        for it in range(args.warmup + args.iters):
            timer.acc.clear()
            t0 = time.perf_counter()
            batch = next(loader)
            t1 = time.perf_counter()
            losses = model(batch)
            loss = sum(losses.values())
            t2 = time.perf_counter()
            optimizer.zero_grad()
            loss.backward()
            t3 = time.perf_counter()
            optimizer.step()
            t4 = time.perf_counter()
            if it < args.warmup:
                continue
            stages = {"data": t1 - t0, "forward": timer.acc["forward"], "assignment": timer.acc["assignment"],
                      "losses": timer.acc["losses"], "backward": t3 - t2, "optimizer": t4 - t3}
            stages["other (model call overhead)"] = max(0.0, (t2 - t1) - sum(timer.acc.values()))
            stages["total"] = t4 - t0
            for k, v in stages.items():
                per_iter[k].append(1000 * v)
    total = statistics.median(per_iter["total"])
    print(f"config: {args.config_file}; batch {cfg.SOLVER.IMS_PER_BATCH}, workers {cfg.DATALOADER.NUM_WORKERS}, "
          f"threads {torch.get_num_threads()}; {args.warmup} warm-up + {args.iters} timed iterations")
    print("| stage | median ms | share of the median total |")
    print("| --- | --- | --- |")
    for k in STAGES + ["other (model call overhead)", "total"]:
        med = statistics.median(per_iter[k])
        print(f"| {k} | {med:.1f} | {100 * med / total:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
