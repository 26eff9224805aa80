"""AOFD: Adversarial Occlusion-aware Face Detection (Chen, Song, He, BTAS 2018, arXiv 1709.05188).

* :mod:`.config`         -- ``MODEL.AOFD.*`` keys (``add_aofd_config``, registered on import);
* :mod:`.compact_loss`   -- the compactness loss L_com of the generated masks (Eq. 3);
* :mod:`.mask_generator` -- the RoI mask generator, hard selection and the three mask types;
* :mod:`.occlusion_seg`  -- the image-level occlusion segmentation branch (Sec. 3.4, Fig. 4);
* :mod:`.aofd_rcnn`      -- ``AOFDROIHeads`` (ROI_HEADS_REGISTRY) and ``AOFD`` (META_ARCH_REGISTRY),
  the generator-vs-detector stages (``training_stage``) and L_g (Eq. 2);
* :mod:`.schedule`       -- the staged schedule of Sec. 4.1 as data (``AOFD_SCHEDULE``);
* :mod:`.trainer`        -- ``AOFDTrainer`` (``TRAINER.NAME``): runs the schedule, resumable.
"""
from .aofd_rcnn import AOFD, AOFDROIHeads, TRAINING_STAGES
from .compact_loss import COMPACT_KERNEL, compact_loss, compact_response
from .config import MASK_TYPES, SCHEDULE_STAGE_NAMES, STAGE_MODES, add_aofd_config
from .mask_generator import (
    MaskGenerator,
    binarize,
    generator_masks,
    half_masks,
    num_dropped,
    random_masks,
)
from .schedule import AOFDSchedule, Stage, build_schedule, resolve_datasets
from .trainer import AOFDStageHook, AOFDTrainer, StagedLRSchedule, StagedTrainLoader
from .occlusion_seg import (
    OcclusionSegHead,
    crop_occlusion_masks,
    enlarge_boxes,
    occlusion_seg_loss,
    occlusion_seg_targets,
)

__all__ = [
    "add_aofd_config",
    "MASK_TYPES",
    "COMPACT_KERNEL",
    "compact_response",
    "compact_loss",
    "MaskGenerator",
    "binarize",
    "num_dropped",
    "generator_masks",
    "half_masks",
    "random_masks",
    "OcclusionSegHead",
    "enlarge_boxes",
    "occlusion_seg_targets",
    "occlusion_seg_loss",
    "crop_occlusion_masks",
    "AOFD",
    "AOFDROIHeads",
    "TRAINING_STAGES",
    "SCHEDULE_STAGE_NAMES",
    "STAGE_MODES",
    "Stage",
    "AOFDSchedule",
    "build_schedule",
    "resolve_datasets",
    "AOFDTrainer",
    "AOFDStageHook",
    "StagedTrainLoader",
    "StagedLRSchedule",
]
