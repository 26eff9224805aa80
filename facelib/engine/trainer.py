"""``FaceTrainer``: detectron2's ``DefaultTrainer`` with facelib's data mapper, evaluators and TTA."""
import logging
import os
import weakref
from collections import Counter, OrderedDict

from detectron2.data import build_detection_test_loader, build_detection_train_loader
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import AMPTrainer, DefaultTrainer, SimpleTrainer, TrainerBase, default_setup
from detectron2.evaluation import verify_results
from detectron2.utils import comm
from detectron2.utils.events import get_event_storage
from detectron2.utils.logger import setup_logger
from detectron2.utils.registry import Registry

from facelib.config import finalize_face_cfg, get_face_cfg
from facelib.data import register_all_facelib_datasets
from facelib.data.mapper import FaceDatasetMapper
from facelib.engine.checkpoint import FaceCheckpointer
from facelib.engine.console_logging import setup_facelib_logger
from facelib.engine.ddp import create_face_ddp_model
from facelib.engine.grad_norm import GradientNormHook
from facelib.engine.optimizer import build_face_optimizer
from facelib.evaluation.build import build_face_evaluator


TRAINER_REGISTRY = Registry("FACE_TRAINER")
TRAINER_REGISTRY.__doc__ = """Trainer classes (``DefaultTrainer`` subclasses) selectable with
``TRAINER.NAME``; projects register theirs (e.g. ``AOFDTrainer``)."""


class DroppedFaceCounter:
    """Wraps the training loader and records how many faces the mapper removed from each batch
    (augmentation moved them out of the image or made them smaller than
    ``INPUT.FACE_AUG.MIN_FACE_SIZE``) as the ``data/dropped_faces`` event scalar, so the count
    shows in the training log and TensorBoard instead of being lost inside the loader workers.
    Every ``log_period`` batches (0: never) it logs one INFO summary line: faces dropped in those
    batches, of how many annotated, per reason, and the running total (the mapper's per-image
    lines are DEBUG: in ``log.txt`` only)."""

    def __init__(self, loader, log_period: int = 0):
        if log_period < 0:
            raise ValueError(f"log_period must be >= 0, got {log_period}")
        self.loader = loader
        self.log_period = log_period
        self.total = 0
        self._window = Counter()
        self._batches = 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            dropped = sum(int(d.get("num_dropped_faces", 0)) for d in batch)
            self.total += dropped
            self._batches += 1
            self._window["dropped"] += dropped
            for d in batch:
                self._window["faces"] += int(d.get("num_annotated_faces", 0))
                self._window.update(d.get("dropped_face_reasons", {}))
            if self.log_period and self._batches % self.log_period == 0:
                self._log_summary()
            try:
                storage = get_event_storage()
            except AssertionError:  # iterated outside a training loop
                storage = None
            if storage is not None:
                storage.put_scalar("data/dropped_faces", dropped, smoothing_hint=True)
            yield batch


    def _log_summary(self):
        w = self._window
        reasons = ", ".join(f"{k} {w[k]}" for k in sorted(w) if k not in ("dropped", "faces"))
        logging.getLogger(__name__).info(
            "Augmentation dropped %d of %d faces in the last %d batches (%s); %d since the start",
            w["dropped"], w["faces"], self.log_period, reasons or "no reasons recorded", self.total)
        self._window = Counter()


def _fall_back_to_cpu(cfg):
    """A config asking for CUDA on a machine without it runs on the CPU, with a warning."""
    import torch

    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logging.getLogger(__name__).warning(
            "MODEL.DEVICE=%s but CUDA is not available: running on the CPU", cfg.MODEL.DEVICE
        )
        cfg.MODEL.DEVICE = "cpu"


def setup_face_cfg(args):
    """Build the frozen config of a run from ``--config-file`` and ``opts`` (detectron2's
    ``default_argument_parser``), registering the datasets and calling ``default_setup``."""
    cfg = get_face_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    finalize_face_cfg(cfg)
    _fall_back_to_cpu(cfg)
    cfg.freeze()
    register_all_facelib_datasets(cfg.DATASETS.FACELIB.ROOT or None)
    default_setup(cfg, args)
    # default_setup logs "detectron2" and "fvcore"; facelib's modules and its plugins
    # (facelib.projects.*) log under "facelib": same console and OUTPUT_DIR/log.txt
    setup_facelib_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank())
    return cfg


@TRAINER_REGISTRY.register()
class FaceTrainer(DefaultTrainer):
    """Training / evaluation loop of every facelib detector (detectron2's ``DefaultTrainer``)."""

    def __init__(self, cfg):
        # DefaultTrainer.__init__, with facelib's DDP wrapper (CPU processes need device_ids=None;
        # TRAINER.DDP_FIND_UNUSED_PARAMETERS) in place of detectron2's create_ddp_model
        TrainerBase.__init__(self)
        logger = logging.getLogger("detectron2")
        if not logger.isEnabledFor(logging.INFO):
            setup_logger()
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        model = create_face_ddp_model(model, cfg)
        self._trainer = (AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer)(model, data_loader, optimizer)
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = DetectionCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())
        # DefaultTrainer runs its steps in an inner SimpleTrainer that has no hooks of its own, so
        # the inner loop's after_backward() would reach none of the hooks registered here
        # (GradientNormHook needs it): it calls the outer trainer's, which runs every hook.
        self._trainer.after_backward = self.after_backward

    def build_hooks(self):
        # DefaultTrainer.__init__ made a DetectionCheckpointer just before calling this; the
        # FaceCheckpointer (engine/checkpoint.py) refuses weights that miss the whole backbone
        self.checkpointer = FaceCheckpointer(self.checkpointer.model, self.cfg.OUTPUT_DIR,
                                             trainer=weakref.proxy(self))
        hooks = super().build_hooks()
        if self.cfg.TRAINER.LOG_GRAD_NORM:
            hooks.insert(0, GradientNormHook())
        return hooks

    @classmethod
    def build_optimizer(cls, cfg, model):
        """detectron2's optimizer; ``SOLVER.CLIP_GRADIENTS.CLIP_TYPE "full_model"`` clips the global
        gradient norm (facelib/engine/optimizer.py)."""
        return build_face_optimizer(cfg, model)

    @classmethod
    def build_train_loader(cls, cfg):
        return DroppedFaceCounter(build_detection_train_loader(cfg, mapper=FaceDatasetMapper(cfg, is_train=True)),
                                  log_period=cfg.TRAINER.DROPPED_FACES_LOG_PERIOD)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(cfg, dataset_name, mapper=FaceDatasetMapper(cfg, is_train=False))

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return build_face_evaluator(cfg, dataset_name, output_folder)

    @classmethod
    def test_with_TTA(cls, cfg, model):
        """Evaluate with the shared multi-scale / flip test-time augmentation (``TEST.FACE_TTA``)."""
        from facelib.modeling.tta import FaceDetectorWithTTA

        logging.getLogger(__name__).info("Running inference with test-time augmentation ...")
        model = FaceDetectorWithTTA(cfg, model)
        evaluators = [
            cls.build_evaluator(cfg, name, output_folder=os.path.join(cfg.OUTPUT_DIR, "inference_TTA", name))
            for name in cfg.DATASETS.TEST
        ]
        # the loader keeps the original images; the wrapper builds every scale from them
        tta_cfg = cfg.clone()
        tta_cfg.defrost()
        tta_cfg.INPUT.FACE_AUG.TEST = "none"
        res = cls.test(tta_cfg, model, evaluators)
        return OrderedDict({k + "_TTA": v for k, v in res.items()})

    @classmethod
    def verify(cls, cfg, results):
        if results and cfg.TEST.EXPECTED_RESULTS:
            verify_results(cfg, results)


def get_trainer_class(cfg):
    """The trainer class named by ``cfg.TRAINER.NAME`` (``FaceTrainer`` by default)."""
    name = cfg.TRAINER.NAME or "FaceTrainer"
    try:
        return TRAINER_REGISTRY.get(name)
    except KeyError:
        raise KeyError(
            f"TRAINER.NAME {name!r} is not a registered trainer; registered: "
            f"{sorted(k for k, _ in TRAINER_REGISTRY)} (a project's trainer is registered when "
            "its plugin is installed: get_face_cfg() imports every facelib.projects entry point)"
        ) from None
