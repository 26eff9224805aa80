#!/usr/bin/env python
"""Train or evaluate any facelib detector (every project package is imported, so any config works).

    python tools/train_net.py --config-file configs/retinanet_R18.yaml
    python tools/train_net.py --config-file CFG --eval-only [--tta] MODEL.WEIGHTS model_final.pth
    python tools/train_net.py --config-file CFG --resume          # continue from OUTPUT_DIR/last_checkpoint
The trainer class is ``TRAINER.NAME`` (``FaceTrainer``; AOFD's configs use ``AOFDTrainer``, which
runs the staged schedule of ``AOFD_SCHEDULE``). Runs on CPU (MODEL.DEVICE cpu) or GPU; --num-gpus N for several GPUs.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import facelib  # noqa: E402,F401  (detectron2._C stand-in before detectron2.engine)
from detectron2.engine import default_argument_parser, hooks, launch  # noqa: E402
from detectron2.utils import comm  # noqa: E402

from facelib.engine import FaceCheckpointer, get_trainer_class, setup_face_cfg  # noqa: E402
from facelib.engine.cli import parse_args_with_overrides  # noqa: E402


def main(args):
    cfg = setup_face_cfg(args)
    Trainer = get_trainer_class(cfg)  # TRAINER.NAME: FaceTrainer, or a project's (AOFDTrainer)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        FaceCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        res = Trainer.test(cfg, model)
        if args.tta or cfg.TEST.FACE_TTA.ENABLED:
            res.update(Trainer.test_with_TTA(cfg, model))
        if comm.is_main_process():
            Trainer.verify(cfg, res)
        return res

    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    if args.tta or cfg.TEST.FACE_TTA.ENABLED:
        trainer.register_hooks(
            [hooks.EvalHook(0, lambda: Trainer.test_with_TTA(cfg, trainer.model))]
        )
    return trainer.train()


def build_parser():
    parser = default_argument_parser()
    parser.add_argument("--tta", action="store_true", help="also evaluate with test-time augmentation")
    return parser


def parse_args(argv=None):
    """detectron2's arguments + ``--tta``; config overrides ``KEY VALUE`` at the end (or after
    ``--opts``) in ``args.opts``."""
    return parse_args_with_overrides(build_parser(), argv)


if __name__ == "__main__":
    args = parse_args()
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
