#!/usr/bin/env python
"""Speed of a facelib detector: inference latency, data-loader throughput, training iterations/s.

Examples::

    # R50 RetinaNet baseline, VGA, batch 1 and 8, fp32 + autocast, CPU (random weights)
    python tools/benchmark.py --config-file configs/Base-FaceRetinaNet.yaml --amp
    # GPU, 1024x768, a trained checkpoint, plus the train loader of a dataset, JSON copy
    python tools/benchmark.py --config-file cfg.yaml --size 1024x768 --dataset synthetic_faces_train \\
        --json bench.json MODEL.DEVICE cuda MODEL.WEIGHTS output/model_final.pth

Rows of the table (``tabulate``, github format):

* ``inference`` (model only): ``model(batch)`` on random ``W x H`` images already on the device,
  *without* the config's test resize (the network sees exactly ``--size``); includes the model's
  normalisation, padding, decoding, NMS and ``detector_postprocess``.
* ``inference e2e`` (``--end-to-end``): :meth:`facelib.api.FaceDetector.detect` on random BGR
  numpy images of ``--size``: colour conversion, the config's test resize
  (``INPUT.FACE_AUG.TEST``), host->device copy, the model, and the numpy results.
* ``data loader`` (``--dataset NAME``): batches of ``SOLVER.IMS_PER_BATCH`` images from the
  configured training loader (``FaceTrainer.build_train_loader``: ``FaceDatasetMapper`` with
  ``INPUT.FACE_AUG.TRAIN``, ``DATALOADER.NUM_WORKERS`` workers); images/s = images / wall time.
* ``training``: forward + backward + SGD step (momentum 0.9, lr 1e-4) on ``--train-batch-size``
  random ``W x H`` images with random faces, or on the data loader's batches with
  ``--train-data loader``.

Each timed quantity runs ``--warmup`` untimed then ``--iters`` timed iterations (``--train-iters``
/ ``--loader-iters`` for training / the loader); the table shows the median and the 90th
percentile of the per-iteration times, and images/s = batch / median (latency rows). On CUDA,
``torch.cuda.synchronize()`` brackets every timed iteration.

Precision: ``fp32`` always; ``--amp`` adds ``torch.autocast`` rows: float16 on CUDA, **bfloat16**
on CPU (CPU autocast has no float16 path), labelled ``fp16 autocast`` / ``bf16 autocast (CPU)``.

ONNX (``--onnx FILE``, a ``tools/export_onnx.py`` export of the same config): the same rows with
onnxruntime's CPU provider for each ``--onnx-threads`` count (precision ``fp32 onnxruntime``); the
exported graph takes one image per call, the post-processing is numpy.

Weights: random unless ``MODEL.WEIGHTS`` (opts) / ``--weights`` is given, which the header says.
With random weights the number of candidates above the score threshold (hence NMS and
post-processing time) is not that of a trained model; ``dets/img`` shows it.
"""
import argparse
import contextlib
import json
import logging
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401  (detectron2._C stand-in before detectron2 imports)
from facelib.engine.cli import add_overrides_argument, parse_args_with_overrides  # noqa: E402
import torch  # noqa: E402

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "configs", "Base-FaceRetinaNet.yaml")
COLUMNS = ["task", "precision", "batch", "input (WxH)", "median ms", "p90 ms", "iters/s", "images/s",
           "dets/img", "notes"]
logger = logging.getLogger("facelib.benchmark")


def get_parser():
    p = argparse.ArgumentParser(description="facelib speed benchmark (see the module docstring)")
    p.add_argument("--config-file", metavar="FILE", default=DEFAULT_CONFIG,
                   help=f"config file (default {os.path.relpath(DEFAULT_CONFIG)})")
    p.add_argument("--size", default="640x480", help="input size WxH (default VGA 640x480)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8], help="inference batch sizes")
    p.add_argument("--amp", action="store_true",
                   help="also time torch.autocast (fp16 on CUDA, bf16 on CPU)")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations before each measurement")
    p.add_argument("--iters", type=int, default=10, help="timed inference iterations")
    p.add_argument("--end-to-end", action="store_true",
                   help="also time FaceDetector.detect (preprocessing + test resize + model + numpy)")
    p.add_argument("--weights", default=None, help="checkpoint (else MODEL.WEIGHTS; empty = random weights)")
    p.add_argument("--dataset", default=None,
                   help="registered dataset for the data-loader throughput (e.g. synthetic_faces_tiny)")
    p.add_argument("--loader-iters", type=int, default=10, help="timed data-loader batches")
    p.add_argument("--train-iters", type=int, default=5, help="timed training iterations (0: no training)")
    p.add_argument("--train-batch-size", type=int, default=2, help="images per training step (random data)")
    p.add_argument("--train-data", choices=["random", "loader"], default="random",
                   help="training batches: random images/faces, or the data loader's (needs --dataset)")
    p.add_argument("--device", default=None, help="shortcut for MODEL.DEVICE (cpu, cuda, cuda:1, ...)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    p.add_argument("--onnx", default=None, metavar="FILE",
                   help="also time this export (tools/export_onnx.py of the same config) with onnxruntime")
    p.add_argument("--onnx-threads", type=int, nargs="+", default=[1, 2],
                   help="onnxruntime intra-op thread counts, one set of rows each")
    add_overrides_argument(p)
    return p


def parse_size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must be WxH, e.g. 640x480, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"--size must be positive, got {text!r}")
    return w, h


def setup_cfg(args):
    from facelib.config import get_face_cfg

    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts or [])
    if args.weights is not None:
        cfg.MODEL.WEIGHTS = args.weights
    if args.device is not None:
        cfg.MODEL.DEVICE = args.device
    cfg.freeze()
    return cfg


# ---------------------------------------------------------------------------------------- timing
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_iterations(fn, warmup, iters, device):
    """Per-iteration seconds of ``fn()`` (``warmup`` untimed calls first); returns (times, last)."""
    out = None
    for _ in range(max(0, warmup)):
        out = fn()
    _sync(device)
    times = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times, out


def precision_modes(device, amp):
    """[(label, autocast context factory)]."""
    modes = [("fp32", contextlib.nullcontext)]
    if amp:
        if device.type == "cuda":
            modes.append(("fp16 autocast", lambda: torch.autocast("cuda", dtype=torch.float16)))
        else:
            modes.append((f"bf16 autocast ({device.type.upper()})",
                          lambda: torch.autocast(device.type, dtype=torch.bfloat16)))
    return modes


def make_row(task, precision, batch, size, times, images_per_iter=None, dets=None, notes="", throughput=None):
    t = np.asarray(times, dtype=np.float64)
    med, p90 = float(np.median(t)), float(np.percentile(t, 90))
    ims = images_per_iter if images_per_iter is not None else batch
    return {
        "task": task,
        "precision": precision,
        "batch": batch,
        "input (WxH)": f"{size[0]}x{size[1]}" if size else "",
        "median ms": round(med * 1e3, 2),
        "p90 ms": round(p90 * 1e3, 2),
        "iters/s": round(1.0 / med, 2) if med > 0 else float("inf"),
        "images/s": round(throughput if throughput is not None else (ims / med if med > 0 else float("inf")), 2),
        "dets/img": round(dets, 1) if dets is not None else "",
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------- benchmarks
def bench_inference(detector, size, batch_sizes, modes, warmup, iters, end_to_end):
    """Model-only (and optionally end-to-end) inference rows."""
    model, device = detector.model, detector.device
    w, h = size
    g = torch.Generator().manual_seed(0)
    rows = []
    for bs in batch_sizes:
        images = [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8) for _ in range(bs)]
        inputs = [{"image": im.to(device), "height": h, "width": w} for im in images]
        np_images = [im.permute(1, 2, 0).numpy().copy() for im in images]
        for label, ctx in modes:
            def run_model():
                with torch.no_grad(), ctx():
                    return model(inputs)

            times, out = time_iterations(run_model, warmup, iters, device)
            dets = float(np.mean([len(o["instances"]) for o in out]))
            rows.append(make_row("inference", label, bs, size, times, dets=dets,
                                 notes="model only, no test resize"))
            if end_to_end:
                def run_e2e():
                    with ctx():
                        return detector.detect(np_images, batch_size=bs)

                times, res = time_iterations(run_e2e, warmup, iters, device)
                resized = tuple(detector.preprocess(np_images[0])["image"].shape[-2:])
                rows.append(make_row("inference e2e", label, bs, size, times,
                                     dets=float(np.mean([len(r) for r in res])),
                                     notes=f"FaceDetector.detect, test resize -> {resized[1]}x{resized[0]}"))
    return rows


def random_training_batch(batch, size, device, generator, faces_per_image=3):
    from detectron2.structures import Boxes, Instances

    w, h = size
    out = []
    for _ in range(batch):
        img = torch.randint(0, 256, (3, h, w), generator=generator, dtype=torch.uint8)
        wh = torch.rand(faces_per_image, 2, generator=generator) * (min(w, h) * 0.4) + 8
        xy = torch.rand(faces_per_image, 2, generator=generator) * torch.tensor([w, h], dtype=torch.float32)
        boxes = torch.cat([xy, xy + wh], dim=1)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        inst = Instances((h, w))
        inst.gt_boxes = Boxes(boxes)
        inst.gt_classes = torch.zeros(faces_per_image, dtype=torch.int64)
        out.append({"image": img.to(device), "instances": inst, "height": h, "width": w})
    return out


def bench_onnxruntime(cfg, onnx_path, size, batch_sizes, threads, warmup, iters, end_to_end):
    """The rows of :func:`bench_inference` for the exported model on onnxruntime (one image per
    graph call; numpy post-processing), for each thread count."""
    from facelib.api import FaceDetector
    from facelib.export.onnx_backend import OnnxDenseRunner

    w, h = size
    rows = []
    for n in threads:
        detector = FaceDetector(cfg, confidence_threshold=None, backend="onnxruntime", onnx_path=onnx_path,
                                num_threads=n) if end_to_end else None
        # one onnxruntime session per thread count: the detector's when there is one
        runner = detector._runner if detector is not None else OnnxDenseRunner(
            onnx_path, num_threads=n, score_thresh=cfg.MODEL.RETINANET.SCORE_THRESH_TEST)
        rng = np.random.RandomState(0)
        for bs in batch_sizes:
            images = [rng.randint(0, 256, (3, h, w)).astype(np.uint8) for _ in range(bs)]
            times, out = time_iterations(lambda: [runner.run(im, (h, w)) for im in images], warmup, iters,
                                         torch.device("cpu"))
            rows.append(make_row("inference", "fp32 onnxruntime", bs, size, times,
                                 dets=float(np.mean([len(o[1]) for o in out])),
                                 notes=f"onnxruntime {n} thread(s), model only, no test resize"))
            if detector is not None:
                np_images = [im.transpose(1, 2, 0).copy() for im in images]
                times, res = time_iterations(lambda: detector.detect(np_images), warmup, iters, torch.device("cpu"))
                rows.append(make_row("inference e2e", "fp32 onnxruntime", bs, size, times,
                                     dets=float(np.mean([len(r) for r in res])),
                                     notes=f"onnxruntime {n} thread(s), FaceDetector.detect"))
    return rows


def bench_training(cfg, size, modes, warmup, iters, batch, loader_iter=None):
    """Training-step rows (fresh model in train mode; random weights)."""
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    rows = []
    for label, ctx in modes:
        model = build_model(cfg)
        model.train()
        device = next(model.parameters()).device
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
        use_scaler = label.startswith("fp16") and device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        g = torch.Generator().manual_seed(0)
        fixed = None if loader_iter is not None else random_training_batch(batch, size, device, g)
        n_images = []

        def step():
            data = next(loader_iter) if loader_iter is not None else fixed
            n_images.append(len(data))
            with ctx():
                losses = model(data)
                loss = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            return float(loss.detach())

        with EventStorage(0):
            times, _ = time_iterations(step, warmup, iters, device)
        ims = float(np.mean(n_images[-len(times):]))
        if loader_iter is not None:
            notes, shown_size = "forward+backward+SGD on data-loader batches (incl. loading)", None
        else:
            notes, shown_size = "forward+backward+SGD, random images/faces", size
        rows.append(make_row("training", label, int(round(ims)), shown_size, times, images_per_iter=ims,
                             notes=notes))
    return rows


def build_loader(cfg, dataset):
    from facelib.data import register_all_facelib_datasets
    from facelib.engine.trainer import FaceTrainer

    register_all_facelib_datasets(cfg.DATASETS.FACELIB.ROOT or None)
    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATASETS.TRAIN = (dataset,)
    cfg.freeze()
    return FaceTrainer.build_train_loader(cfg)


def bench_loader(loader_iter, warmup, iters):
    n = []

    def fetch():
        batch = next(loader_iter)
        n.append(len(batch))
        return batch

    times, _ = time_iterations(fetch, warmup, iters, torch.device("cpu"))
    timed = n[-len(times):]
    bs = int(round(np.mean(timed)))
    return make_row("data loader", "-", bs, None, times, images_per_iter=bs,
                    throughput=sum(timed) / sum(times),
                    notes="images/s = images / wall time over the timed batches")


# ---------------------------------------------------------------------------------------- report
def device_description(device):
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {name}"


def format_report(meta, rows):
    from tabulate import tabulate

    lines = [f"{k}: {v}" for k, v in meta.items()]
    table = tabulate([[r[c] for c in COLUMNS] for r in rows], headers=COLUMNS, tablefmt="github")
    return "\n".join(lines) + "\n\n" + table


def parse_args(argv=None):
    """The tool's arguments (config overrides in ``opts``), checked: ``--size`` WxH, ``--batch-sizes``
    >= 1, ``--train-data loader`` with ``--dataset``; a bad one exits through ``parser.error``."""
    parser = get_parser()
    args = parse_args_with_overrides(parser, argv)
    try:
        parse_size(args.size)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
    if any(b < 1 for b in args.batch_sizes):
        parser.error("--batch-sizes must be >= 1")
    if args.train_data == "loader" and not args.dataset:
        parser.error("--train-data loader needs --dataset")
    return args


def main(in_args=None):
    args = parse_args(in_args)
    size = parse_size(args.size)
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)

    from facelib.api import FaceDetector

    cfg = setup_cfg(args)
    # confidence None: the config's own SCORE_THRESH_TEST, as during evaluation
    detector = FaceDetector(cfg, confidence_threshold=None, batch_size=max(args.batch_sizes))
    device = detector.device
    modes = precision_modes(device, args.amp)

    meta = {
        "config": args.config_file,
        "model": f"{cfg.MODEL.META_ARCHITECTURE} / {cfg.MODEL.BACKBONE.NAME}",
        "weights": detector.weights or "RANDOM (timing only; not a trained model)",
        "device": f"{device} - {device_description(device)}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "timing": f"{args.warmup} warm-up + {args.iters} timed iterations; median / p90",
    }
    rows = bench_inference(detector, size, args.batch_sizes, modes, args.warmup, args.iters, args.end_to_end)
    del detector
    if args.onnx:
        rows += bench_onnxruntime(cfg, args.onnx, size, args.batch_sizes, args.onnx_threads, args.warmup,
                                  args.iters, args.end_to_end)
        meta["onnx"] = args.onnx

    loader_iter = None
    if args.dataset:
        loader_iter = iter(build_loader(cfg, args.dataset))
        rows.append(bench_loader(loader_iter, min(args.warmup, 2), args.loader_iters))
        meta["data loader"] = (f"{args.dataset}, SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH}, "
                               f"DATALOADER.NUM_WORKERS {cfg.DATALOADER.NUM_WORKERS}, "
                               f"INPUT.FACE_AUG.TRAIN {list(cfg.INPUT.FACE_AUG.TRAIN)}")
    if args.train_iters > 0:
        rows += bench_training(cfg, size, modes, min(args.warmup, 2), args.train_iters, args.train_batch_size,
                               loader_iter if args.train_data == "loader" else None)

    print(format_report(meta, rows))
    if args.json:
        d = os.path.dirname(args.json)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "columns": COLUMNS, "rows": rows}, f, indent=2)
    return meta, rows


if __name__ == "__main__":
    main()
