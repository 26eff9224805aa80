"""``AOFDTrainer``: one training command runs AOFD's whole staged schedule (Sec. 4.1).

A :class:`facelib.engine.FaceTrainer` (detectron2 ``DefaultTrainer``) whose run is the
:class:`~.schedule.AOFDSchedule` of ``AOFD_SCHEDULE`` laid end to end (``SOLVER.MAX_ITER`` = the
sum of the stage lengths). Three pieces follow the schedule, each reading only the current
iteration, so ``--resume`` from any checkpoint lands in the right stage (and the right half of an
adversarial cycle) with the right data and learning rate:

* :class:`AOFDStageHook` (first hook) sets ``model.training_stage`` ("generator" / "detector"),
  ``model.roi_masks_on`` (the stage's ``MASKS``) and ``model.seg_loss_weight`` before every step,
  logs stage changes, records ``aofd/stage``
  and saves ``model_stage_<name>.pth`` at the end of each stage;
* :class:`StagedTrainLoader` draws each batch from the current stage's datasets (one
  ``FaceTrainer`` train loader per distinct dataset tuple, built when first needed);
* :class:`StagedLRSchedule` (an fvcore ``ParamScheduler`` inside detectron2's ``LRMultiplier``):
  per-stage base LR and steps, warm-up at the start of the run.

One SGD optimizer holds every parameter: a generator iteration back-propagates into the generator
only and a detector iteration never reaches it (``aofd_rcnn.py``); parameters without a gradient
are skipped by SGD (no weight decay, no momentum step), so each part trains only in its turn.

With ``AOFD_SCHEDULE.ENABLED False`` the trainer is a plain ``FaceTrainer`` (detector stage,
``DATASETS.TRAIN``, ``SOLVER.*`` schedule).
"""
import logging

from fvcore.common.param_scheduler import ParamScheduler

from detectron2.data import DatasetCatalog
from detectron2.engine import HookBase
from detectron2.solver.lr_scheduler import LRMultiplier
from detectron2.utils.events import get_event_storage

from facelib.engine.trainer import TRAINER_REGISTRY, FaceTrainer

from .schedule import AOFDSchedule, build_schedule

__all__ = ["AOFDTrainer", "AOFDStageHook", "StagedTrainLoader", "StagedLRSchedule",
           "schedule_from_cfg"]

logger = logging.getLogger(__name__)


def _count_images(datasets):
    return sum(len(DatasetCatalog.get(d)) for d in datasets)


def schedule_from_cfg(cfg) -> AOFDSchedule:
    """The run's schedule (datasets must be registered: ``setup_face_cfg`` does it)."""
    return build_schedule(cfg, num_images=_count_images)


def _unwrap(model):
    return getattr(model, "module", model)  # DistributedDataParallel


def _current_iter() -> int:
    try:
        return get_event_storage().iter
    except AssertionError:  # iterated outside a training loop: the run's first stage
        return 0


class StagedTrainLoader:
    """Yields batches of the stage of the current iteration (the ``EventStorage``'s, which the
    trainer sets before each step); ``build_loader(datasets)`` makes a stage's loader. Only the
    loader of the current dataset tuple is kept alive (its workers are released on a switch)."""

    def __init__(self, schedule: AOFDSchedule, build_loader, current_iter=_current_iter):
        self.schedule = schedule
        self.build_loader = build_loader
        self.current_iter = current_iter
        self.datasets_in_use = None

    def __iter__(self):
        key, it = None, None
        while True:
            datasets = self.schedule.stage_at(self.current_iter()).datasets
            if datasets != key:
                key, it = datasets, None  # release the previous stage's loader first
                it = iter(self.build_loader(datasets))
                self.datasets_in_use = datasets
                logger.info("AOFD schedule: training data now %s", ", ".join(datasets))
            yield next(it)


class StagedLRSchedule(ParamScheduler):
    """``LRMultiplier`` calls this with ``where = iteration / MAX_ITER``; the value is
    :meth:`AOFDSchedule.lr_factor` of that iteration."""

    def __init__(self, schedule: AOFDSchedule):
        self.schedule = schedule

    def __call__(self, where: float) -> float:
        return self.schedule.lr_factor(int(round(where * self.schedule.total_iters)))


class AOFDStageHook(HookBase):
    """Puts the model in the stage of each iteration (see module docstring)."""

    def __init__(self, schedule: AOFDSchedule, save_stage_checkpoints: bool = True):
        self.schedule = schedule
        self.save_stage_checkpoints = save_stage_checkpoints
        self._stage = None

    def before_train(self):
        logger.info("AOFD schedule (%d iterations):\n%s", self.schedule.total_iters,
                    self.schedule.describe())
        model = _unwrap(self.trainer.model)
        if not hasattr(model, "training_stage"):
            raise TypeError(f"AOFDTrainer needs a model with a training_stage (AOFD), got "
                            f"{type(model).__name__}; use TRAINER.NAME FaceTrainer for it")
        needs_generator = any(s.mode != "detector" for s in self.schedule.stages)
        if needs_generator and not model.generator_parameters():
            bad = [s.name for s in self.schedule.stages if s.mode != "detector"]
            raise ValueError(f"AOFD schedule stages {bad} train the mask generator but "
                             "MODEL.AOFD.GENERATOR_ON is False: set their MODE to 'detector'")

    def before_step(self):
        it = self.trainer.iter
        stage = self.schedule.stage_at(it)
        model = _unwrap(self.trainer.model)
        if stage is not self._stage:
            logger.info("AOFD schedule: iteration %d is in stage %r (%s, iterations [%d, %d))",
                        it, stage.name, stage.mode, stage.start, stage.end)
            model.seg_loss_weight = stage.seg_loss_weight
            model.roi_masks_on = stage.masks
            self._stage = stage
        mode = stage.mode_at(it)
        model.training_stage = mode
        storage = self.trainer.storage
        storage.put_scalar("aofd/stage", self.schedule.stage_index(stage.name),
                           smoothing_hint=False)
        storage.put_scalar("aofd/generator_step", float(mode == "generator"),
                           smoothing_hint=False)

    def after_step(self):
        it = self.trainer.iter
        stage = self.schedule.stage_at(it)
        if self.save_stage_checkpoints and it + 1 == stage.end:
            self.trainer.checkpointer.save(f"model_stage_{stage.name}", iteration=it)


@TRAINER_REGISTRY.register()
class AOFDTrainer(FaceTrainer):
    """FaceTrainer running ``AOFD_SCHEDULE`` (module docstring)."""

    def __init__(self, cfg):
        self.schedule = None
        if cfg.AOFD_SCHEDULE.ENABLED:
            self.schedule = schedule_from_cfg(cfg)
            if cfg.SOLVER.MAX_ITER != self.schedule.total_iters:
                logger.info("AOFD schedule: SOLVER.MAX_ITER %d -> %d (sum of the stage lengths)",
                            cfg.SOLVER.MAX_ITER, self.schedule.total_iters)
                cfg = cfg.clone()
                cfg.defrost()
                cfg.SOLVER.MAX_ITER = self.schedule.total_iters
                cfg.freeze()
        super().__init__(cfg)

    @classmethod
    def build_train_loader(cls, cfg):
        if not cfg.AOFD_SCHEDULE.ENABLED:
            return super().build_train_loader(cfg)
        build_stage_loader = super().build_train_loader  # FaceTrainer's (mapper, dropped faces)

        def build(datasets):
            c = cfg.clone()
            c.defrost()
            c.DATASETS.TRAIN = tuple(datasets)
            return build_stage_loader(c)

        return StagedTrainLoader(schedule_from_cfg(cfg), build)

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer):
        if not cfg.AOFD_SCHEDULE.ENABLED:
            return super().build_lr_scheduler(cfg, optimizer)
        schedule = schedule_from_cfg(cfg)
        return LRMultiplier(optimizer, multiplier=StagedLRSchedule(schedule),
                            max_iter=schedule.total_iters)

    def build_hooks(self):
        hooks = super().build_hooks()
        if self.schedule is not None:
            hooks.insert(0, AOFDStageHook(self.schedule,
                                          self.cfg.AOFD_SCHEDULE.SAVE_STAGE_CHECKPOINTS))
        return hooks
