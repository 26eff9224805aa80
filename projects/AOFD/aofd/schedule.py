"""AOFD's staged training schedule (Sec. 4.1) as data: which stage, mode and data an iteration uses.

``AOFD_SCHEDULE`` (config.py) lists the stages; :func:`build_schedule` turns it into an
:class:`AOFDSchedule` of :class:`Stage` s laid end to end on one iteration axis::

    pretrain (detector, no masks) | generator | sfs | wider_sfs | sfs_final      (Sec. 4.1's order)
    0 ........................ e0 | ..... e1 | e2  | ...... e3 | ....... e4 = MAX_ITER

Everything a training step needs -- the stage, whether the generator or the detector trains, the
datasets, the segmentation weight, the learning rate -- is a pure function of the global
iteration (:meth:`AOFDSchedule.stage_at`, :meth:`Stage.mode_at`, :meth:`AOFDSchedule.lr_factor`),
so a run resumed from any checkpoint continues exactly where it stopped (``trainer.py``).
"""
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .config import SCHEDULE_STAGE_NAMES, STAGE_MODES

__all__ = ["Stage", "AOFDSchedule", "build_schedule", "resolve_datasets", "dataset_available"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One stage: iterations ``[start, end)`` of the whole run."""

    name: str
    mode: str                         # "detector" | "generator" | "adversarial"
    start: int
    end: int
    datasets: Tuple[str, ...]
    seg_loss_weight: float
    base_lr: float
    steps: Tuple[int, ...] = ()       # LR drops, counted from the stage start
    generator_iters: int = 1
    detector_iters: int = 1
    masks: bool = True                # detector iterations mask the positive RoIs

    @property
    def iters(self) -> int:
        return self.end - self.start

    def mode_at(self, iteration: int) -> str:
        """"generator" or "detector": what trains at ``iteration`` (global). An adversarial stage
        cycles ``generator_iters`` generator iterations, then ``detector_iters`` detector ones."""
        if not self.start <= iteration < self.end:
            raise ValueError(f"iteration {iteration} is outside stage {self.name!r} "
                             f"[{self.start}, {self.end})")
        if self.mode != "adversarial":
            return self.mode
        k = (iteration - self.start) % (self.generator_iters + self.detector_iters)
        return "generator" if k < self.generator_iters else "detector"


@dataclass
class AOFDSchedule:
    stages: List[Stage] = field(default_factory=list)
    gamma: float = 0.1
    warmup_iters: int = 0
    warmup_factor: float = 0.001
    reference_lr: float = 0.001  # SOLVER.BASE_LR: the optimizer's lr that factors multiply

    @property
    def total_iters(self) -> int:
        return self.stages[-1].end if self.stages else 0

    def stage_at(self, iteration: int) -> Stage:
        """The stage that iteration ``iteration`` belongs to (the last one past the end)."""
        if not self.stages:
            raise ValueError("the AOFD schedule has no stage with a positive length")
        if iteration < 0:
            raise ValueError(f"iteration must be >= 0, got {iteration}")
        for s in self.stages:
            if iteration < s.end:
                return s
        return self.stages[-1]

    def stage_index(self, name: str) -> int:
        for i, s in enumerate(self.stages):
            if s.name == name:
                return i
        raise KeyError(name)

    def lr_factor(self, iteration: int) -> float:
        """LR at ``iteration`` divided by ``reference_lr``: the stage's base LR, times gamma per
        passed stage step, times a linear warm-up over the first ``warmup_iters`` of the run."""
        s = self.stage_at(iteration)
        local = iteration - s.start
        f = s.base_lr / self.reference_lr * self.gamma ** sum(local >= t for t in s.steps)
        if iteration < self.warmup_iters:
            alpha = iteration / self.warmup_iters
            f *= self.warmup_factor * (1 - alpha) + alpha
        return f

    def describe(self) -> str:
        rows = [f"{'stage':<12} {'mode':<12} {'iterations':<16} {'lr':<9} {'seg w':<8} {'masks':<6} datasets"]
        for s in self.stages:
            rows.append(f"{s.name:<12} {s.mode:<12} {f'[{s.start}, {s.end})':<16} "
                        f"{s.base_lr:<9.3g} {s.seg_loss_weight:<8.3g} {str(s.masks):<6} {', '.join(s.datasets)}")
        return "\n".join(rows)


_AVAILABLE: Dict[Tuple[str, Optional[str]], bool] = {}
_WARNED = set()


def dataset_available(name: str) -> bool:
    """A registered dataset whose dicts load without ``FileNotFoundError`` (a missing folder or
    file; other errors, e.g. a malformed annotation, propagate). Cached per process and dataset
    root (a name registered again under another root is checked again; detectron2's loaders read
    the dicts anyway, so the check costs one extra parse per dataset and run)."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    if name not in DatasetCatalog.list():
        return False
    key = (name, MetadataCatalog.get(name).get("dataset_root", None))
    if key not in _AVAILABLE:
        try:
            DatasetCatalog.get(name)
            _AVAILABLE[key] = True
        except FileNotFoundError as e:
            logger.info("dataset %r is not available: %s", name, str(e).splitlines()[0])
            _AVAILABLE[key] = False
    return _AVAILABLE[key]


def resolve_datasets(names: Sequence[str], fallbacks: Sequence[Sequence[str]],
                     available: Callable[[str], bool] = dataset_available) -> Tuple[str, ...]:
    """Each unavailable name replaced by its fallback (``[[wanted, fallback], ...]``), logged;
    an unavailable name without an available fallback raises ``FileNotFoundError``."""
    table: Dict[str, str] = {}
    for pair in fallbacks:
        if len(pair) != 2:
            raise ValueError(f"AOFD_SCHEDULE.FALLBACK_DATASETS entries are [wanted, fallback], "
                             f"got {list(pair)}")
        table[pair[0]] = pair[1]
    out = []
    for n in names:
        if available(n):
            out.append(n)
            continue
        fb = table.get(n)
        if fb is None or not available(fb):
            raise FileNotFoundError(
                f"AOFD schedule dataset {n!r} is not available (not registered or its folder is "
                f"missing)" + (f", nor is its fallback {fb!r}" if fb else
                               "; add [wanted, fallback] to AOFD_SCHEDULE.FALLBACK_DATASETS"))
        if (n, fb) not in _WARNED:
            _WARNED.add((n, fb))
            logger.warning("AOFD schedule: dataset %r is not available here; using %r instead",
                           n, fb)
        out.append(fb)
    # the same dataset twice (two names falling back to one set) would double its sampling weight
    return tuple(dict.fromkeys(out))


def build_schedule(cfg, num_images: Optional[Callable[[Tuple[str, ...]], int]] = None,
                   available: Callable[[str], bool] = dataset_available) -> AOFDSchedule:
    """The :class:`AOFDSchedule` of ``cfg.AOFD_SCHEDULE`` (datasets resolved with their
    fallbacks). ``num_images(datasets)`` is needed only by stages sized in ``EPOCHS``."""
    sc = cfg.AOFD_SCHEDULE
    seen = set()
    stages: List[Stage] = []
    start = 0
    for name in sc.STAGES:
        if name not in SCHEDULE_STAGE_NAMES:
            raise ValueError(f"AOFD_SCHEDULE.STAGES: unknown stage {name!r}; known "
                             f"{SCHEDULE_STAGE_NAMES}")
        if name in seen:
            raise ValueError(f"AOFD_SCHEDULE.STAGES lists {name!r} twice")
        seen.add(name)
        node = sc[name.upper()]
        if node.MODE not in STAGE_MODES:
            raise ValueError(f"AOFD_SCHEDULE.{name.upper()}.MODE must be one of {STAGE_MODES}, "
                             f"got {node.MODE!r}")
        if node.ITERS < 0 or node.EPOCHS < 0:
            raise ValueError(f"AOFD_SCHEDULE.{name.upper()}: ITERS / EPOCHS must be >= 0")
        if node.ITERS > 0 and node.EPOCHS > 0:
            raise ValueError(f"AOFD_SCHEDULE.{name.upper()}: set ITERS or EPOCHS, not both")
        if node.MODE == "adversarial" and (node.GENERATOR_ITERS < 1 or node.DETECTOR_ITERS < 0):
            raise ValueError(f"AOFD_SCHEDULE.{name.upper()}: GENERATOR_ITERS must be >= 1 and "
                             "DETECTOR_ITERS >= 0")
        if node.ITERS == 0 and node.EPOCHS == 0:
            continue
        datasets = resolve_datasets(list(node.DATASETS) or list(cfg.DATASETS.TRAIN),
                                    sc.FALLBACK_DATASETS, available)
        iters = int(node.ITERS)
        if node.EPOCHS > 0:
            if num_images is None:
                raise ValueError(f"AOFD_SCHEDULE.{name.upper()}.EPOCHS needs the dataset sizes")
            iters = max(1, math.ceil(node.EPOCHS * num_images(datasets) / cfg.SOLVER.IMS_PER_BATCH))
        stages.append(Stage(
            name=name, mode=node.MODE, start=start, end=start + iters, datasets=datasets,
            seg_loss_weight=float(node.SEG_LOSS_WEIGHT if node.SEG_LOSS_WEIGHT >= 0
                                  else cfg.MODEL.AOFD.SEG_LOSS_WEIGHT),
            base_lr=float(node.BASE_LR if node.BASE_LR > 0 else cfg.SOLVER.BASE_LR),
            steps=tuple(int(t) for t in node.STEPS),
            generator_iters=int(node.GENERATOR_ITERS), detector_iters=int(node.DETECTOR_ITERS),
            masks=bool(node.MASKS),
        ))
        start += iters
    if not stages:
        raise ValueError("AOFD_SCHEDULE: every stage in STAGES has length 0")
    return AOFDSchedule(stages, gamma=cfg.SOLVER.GAMMA, warmup_iters=cfg.SOLVER.WARMUP_ITERS,
                        warmup_factor=cfg.SOLVER.WARMUP_FACTOR, reference_lr=cfg.SOLVER.BASE_LR)
