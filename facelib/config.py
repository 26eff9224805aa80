"""Config keys shared by every facelib detector: ``add_facelib_config(cfg)``.

Method projects add their own subtree (``add_fan_config`` etc.) on top of this one.
Every key carries a comment naming where its default comes from.
"""
from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg

_CONFIG_EXTENSIONS = []


def register_config_extension(fn):
    """Register an ``add_<project>_config(cfg)`` so :func:`get_face_cfg` applies it. Projects call
    this at import; returns ``fn`` so it can decorate. Registering the same function twice is a no-op."""
    if fn not in _CONFIG_EXTENSIONS:
        _CONFIG_EXTENSIONS.append(fn)
    return fn


_CONFIG_FINALIZERS = []


def register_config_finalizer(fn):
    """Register ``fn(cfg)``, run by :func:`finalize_face_cfg` on a run's merged, still mutable
    config: a plugin writes there the effective values it derives from its own keys (FAN's
    ``ANCHOR_SETTING`` -> ``MODEL.ANCHOR_GENERATOR``), so the dumped ``config.yaml`` shows what the
    model is built with. Registering twice is a no-op; returns ``fn``."""
    if fn not in _CONFIG_FINALIZERS:
        _CONFIG_FINALIZERS.append(fn)
    return fn


def finalize_face_cfg(cfg):
    """Run every registered finalizer on ``cfg`` (in place, ``cfg`` not frozen); returns ``cfg``.
    Called by ``setup_face_cfg`` (the tools) and ``FaceDetector`` after the YAML / opts merge."""
    for fn in _CONFIG_FINALIZERS:
        fn(cfg)
    return cfg


class ConfigDefaults:
    """Attribute writes that create only the missing keys of a ``CfgNode``, so ``add_*_config``
    functions are idempotent and never overwrite what a YAML, another extension or a project
    already set: ``d = config_defaults(cfg.MODEL, "FAN"); d.ATTENTION_ON = True``."""

    def __init__(self, node):
        object.__setattr__(self, "_node", node)

    def __setattr__(self, key, value):
        if key not in self._node:
            setattr(self._node, key, value)


def config_defaults(parent, key=None):
    """:class:`ConfigDefaults` writer of ``parent``, or of its child node ``key`` (created empty
    when missing)."""
    if key is None:
        return ConfigDefaults(parent)
    if key not in parent:
        setattr(parent, key, CN())
    return ConfigDefaults(parent[key])


def load_face_cfg(path, opts=()):
    """:func:`get_face_cfg` with the YAML ``path`` and the ``KEY VALUE`` ``opts`` merged, finalized
    (:func:`finalize_face_cfg`), not frozen. ``FileNotFoundError`` names a missing file."""
    import os

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: {path}")
    cfg = get_face_cfg()
    cfg.merge_from_file(path)
    if opts:
        cfg.merge_from_list(list(opts))
    return finalize_face_cfg(cfg)


def get_face_cfg():
    """detectron2's default config + facelib's keys + every installed plugin's keys.

    Imports ``facelib.modeling`` (backbones, heads) and every installed method plugin
    (:func:`facelib.plugins.load_plugins`, entry points ``facelib.projects``) first, so any facelib
    YAML config merges into the result, whatever the working directory.
    """
    import facelib.modeling  # noqa: F401  (registers backbones / meta-archs and their config keys)
    from facelib.plugins import load_plugins

    load_plugins()
    cfg = get_cfg()
    add_facelib_config(cfg)
    for fn in _CONFIG_EXTENSIONS:
        fn(cfg)
    return cfg


def merge_missing(dst, src):
    """Copy into ``dst`` (in place) every key of ``src`` that ``dst`` lacks, recursively; keys
    ``dst`` has keep their values. Returns ``dst``."""
    for key, value in src.items():
        if key not in dst:
            dst[key] = value.clone() if isinstance(value, CN) else value
        elif isinstance(value, CN) and isinstance(dst[key], CN):
            merge_missing(dst[key], value)
    return dst


def add_facelib_config(cfg):
    """Add the ``INPUT.FACE_AUG``, ``DATASETS.FACELIB``, ``TRAINER``, ``TEST.WIDER`` / ``FDDB`` /
    ``OCCLUSION_SEG`` / ``ANALYSIS`` keys to ``cfg`` in place; return ``cfg``.

    Idempotent: keys already present keep their values. facelib's default for detectron2's own
    ``TEST.DETECTIONS_PER_IMAGE`` (750) is written only when the facelib keys are first added."""
    first = "FACE_AUG" not in cfg.INPUT
    defaults = get_cfg()
    _write_facelib_defaults(defaults)
    merge_missing(cfg, defaults)
    if first:
        cfg.TEST.DETECTIONS_PER_IMAGE = defaults.TEST.DETECTIONS_PER_IMAGE
    return cfg


def _write_facelib_defaults(_C):
    """Every facelib default, written once, into a fresh detectron2 config ``_C``."""

    # ---------------------------------------------------------------- data augmentation
    _C.INPUT.FACE_AUG = CN()
    # Ordered names of the training augmentations (see facelib/data/transforms/build.py).
    # Known: "photometric", "expand", "random_square_crop", "two_patch_crop",
    # "data_anchor_sampling", "flip", "resize_square", "resize_shortest_edge"; plugins register more
    # (MogFace: "sse").
    _C.INPUT.FACE_AUG.TRAIN = ["photometric", "expand", "random_square_crop", "flip", "resize_square"]
    # Test-time (single scale) resizing: "resize_shortest_edge" uses INPUT.MIN/MAX_SIZE_TEST,
    # "resize_square" uses INPUT.FACE_AUG.RESIZE_SQUARE.SIZE, "none" keeps the original size.
    _C.INPUT.FACE_AUG.TEST = "resize_shortest_edge"

    # SSD photometric distortion (Liu et al., SSD, Sec. 3 "Data augmentation"; used by FAN Sec. 3.2.3,
    # RefineFace Sec. 4.1, MogFace, DF2S2): brightness, contrast, saturation, hue, each with prob. 0.5.
    _C.INPUT.FACE_AUG.PHOTOMETRIC = CN()
    _C.INPUT.FACE_AUG.PHOTOMETRIC.BRIGHTNESS_DELTA = 32.0
    _C.INPUT.FACE_AUG.PHOTOMETRIC.CONTRAST_RANGE = (0.5, 1.5)
    _C.INPUT.FACE_AUG.PHOTOMETRIC.SATURATION_RANGE = (0.5, 1.5)
    _C.INPUT.FACE_AUG.PHOTOMETRIC.HUE_DELTA = 18.0
    _C.INPUT.FACE_AUG.PHOTOMETRIC.PROB = 0.5

    # Zoom-out "expand" (SSD): place the image on a canvas ratio x its size filled with the pixel
    # mean (MODEL.PIXEL_MEAN), ratio uniform in RATIO_RANGE, applied with probability PROB.
    _C.INPUT.FACE_AUG.EXPAND = CN()
    _C.INPUT.FACE_AUG.EXPAND.RATIO_RANGE = (1.0, 2.0)
    _C.INPUT.FACE_AUG.EXPAND.PROB = 0.5

    # FAN random square crop (Wang et al., FAN Sec. 3.2.3): side uniform in SCALE_RANGE x short side;
    # the overlapping part of every box whose centre lies in the crop is kept.
    _C.INPUT.FACE_AUG.SQUARE_CROP = CN()
    _C.INPUT.FACE_AUG.SQUARE_CROP.SCALE_RANGE = (0.3, 1.0)
    _C.INPUT.FACE_AUG.SQUARE_CROP.MAX_TRIES = 50

    # RefineFace / SRN two-patch square crop (Zhang et al., RefineFace Sec. 4.1): one square patch of
    # the short side, or one of a random SCALE_RANGE fraction of it, each chosen with prob. 0.5.
    _C.INPUT.FACE_AUG.TWO_PATCH_CROP = CN()
    _C.INPUT.FACE_AUG.TWO_PATCH_CROP.SCALE_RANGE = (0.3, 1.0)
    _C.INPUT.FACE_AUG.TWO_PATCH_CROP.MAX_TRIES = 50

    # Data-anchor-sampling (Tang et al., PyramidBox Sec. 3.4): rescale the image so that a random
    # face matches a randomly chosen smaller-or-neighbouring anchor scale.
    _C.INPUT.FACE_AUG.DAS = CN()
    _C.INPUT.FACE_AUG.DAS.ANCHOR_SIZES = (16, 32, 64, 128, 256, 512)
    _C.INPUT.FACE_AUG.DAS.PROB = 0.5
    _C.INPUT.FACE_AUG.DAS.CROP_SIZE = 640
    # "uniform": s_target ~ U(s_i / 2, 2 s_i) as PyramidBox Sec. 3.4 states; "log_uniform":
    # s_i * 2^U(-1, 1) as the public PaddlePaddle / MogFace ``das_sample_bbox`` code does.
    _C.INPUT.FACE_AUG.DAS.SCALE_SAMPLING = "uniform"

    _C.INPUT.FACE_AUG.FLIP_PROB = 0.5
    # Final square resize of the training crop (FAN / RefineFace / MogFace train at 640 or 1024).
    _C.INPUT.FACE_AUG.RESIZE_SQUARE = CN()
    _C.INPUT.FACE_AUG.RESIZE_SQUARE.SIZE = 640
    # Faces smaller than this (either side, pixels, after augmentation) are removed from the
    # training targets; the mapper counts them (never silently).
    _C.INPUT.FACE_AUG.MIN_FACE_SIZE = 1.0
    # Load per-image occlusion masks (``occlusion_mask_file``) into ``dataset_dict["occlusion_mask"]``.
    _C.INPUT.FACE_AUG.LOAD_OCCLUSION_MASK = False

    # ---------------------------------------------------------------- datasets
    _C.DATASETS.FACELIB = CN()
    # Root of the face datasets; "" = $FACELIB_DATASETS or ./datasets (like DETECTRON2_DATASETS).
    _C.DATASETS.FACELIB.ROOT = ""

    # ---------------------------------------------------------------- training loop
    _C.TRAINER = CN()
    # Trainer class (``facelib.engine.TRAINER_REGISTRY``) that ``tools/train_net.py`` runs:
    # "FaceTrainer" (detectron2's DefaultTrainer loop) or a project's subclass, e.g.
    # "AOFDTrainer" (AOFD's staged generator / detector schedule, projects/AOFD).
    _C.TRAINER.NAME = "FaceTrainer"
    # Record the global L2 gradient norm (before SOLVER.CLIP_GRADIENTS clips it) as the event
    # scalar "grad_norm" every iteration (facelib/engine/grad_norm.py): metrics.json / TensorBoard.
    _C.TRAINER.LOG_GRAD_NORM = True
    # One INFO line every this many iterations: faces the augmentation dropped (per reason) and
    # the running total (facelib/engine/trainer.py DroppedFaceCounter); 0: none. The per-image
    # lines of the mapper are DEBUG: log.txt only, never the console.
    _C.TRAINER.DROPPED_FACES_LOG_PERIOD = 200
    # DistributedDataParallel's find_unused_parameters in multi-process training
    # (facelib/engine/ddp.py): needed by models whose iterations leave trainable parameters
    # without gradients (AOFD's staged schedule sets it); costs a graph traversal per iteration.
    _C.TRAINER.DDP_FIND_UNUSED_PARAMETERS = False

    # ---------------------------------------------------------------- evaluation
    _C.TEST.WIDER = CN()
    # "official": the Matlab tool's rounded integer IoU (see facelib/evaluation/wider_face_protocol.py);
    # "float": the float IoU of the public Python ports.
    _C.TEST.WIDER.IOU_MODE = "official"
    _C.TEST.WIDER.IOU_THRESHOLD = 0.5
    _C.TEST.WIDER.NUM_THRESHOLDS = 1000
    # Write the official submission layout and PR-curve PNGs to OUTPUT_DIR/inference/<dataset>/.
    _C.TEST.WIDER.WRITE_SUBMISSION = True
    # FDDB discrete ROC overlap (facelib/evaluation/fddb.py): "ellipse", the official tool's
    # region IoU of the rasterised ellipse and detection rectangle (Jain & Learned-Miller, FDDB
    # tech. report 2010); "box", IoU with the ellipse's bounding box (an approximation).
    _C.TEST.FDDB = CN()
    _C.TEST.FDDB.MATCH = "ellipse"
    # MAFA and face-mask VOC AP (facelib/evaluation/mafa.py): the IoU of a match (VOC's 0.5,
    # ">="), further thresholds reported as "AP_<protocol>@<t>" (RefineFace Table 3 compares
    # localisation at 0.5..0.8), and the number of false positives when the recall first reaches
    # each of FP_AT_RECALLS (fractions; "FP@<r>_<protocol>", RefineFace Table 5).
    _C.TEST.MAFA = CN()
    _C.TEST.MAFA.IOU_THRESHOLD = 0.5
    _C.TEST.MAFA.EXTRA_IOU_THRESHOLDS = []
    _C.TEST.MAFA.FP_AT_RECALLS = []
    # Occlusion segmentation quality (facelib/evaluation/occlusion_segmentation.py) on datasets
    # with occlusion masks, for models that output an image-level "occlusion_mask" (AOFD).
    _C.TEST.OCCLUSION_SEG = CN()
    _C.TEST.OCCLUSION_SEG.ENABLED = False
    _C.TEST.OCCLUSION_SEG.THRESHOLD = 0.5
    _C.TEST.OCCLUSION_SEG.BOX_ENLARGE = 1.0
    # Occlusion analysis of each test dataset (facelib/evaluation/occlusion_analysis_evaluator.py):
    # writes <OUTPUT_DIR>/inference/<dataset>/analysis/: face_predictions.json, analysis.json and,
    # with REPORT, the HTML report of tools/analyze.py. Off by default (it keeps every detection).
    _C.TEST.ANALYSIS = CN()
    _C.TEST.ANALYSIS.ENABLED = False
    _C.TEST.ANALYSIS.IOU_THRESHOLD = 0.5
    # recall columns at the score where precision over all the base setting's faces is this
    _C.TEST.ANALYSIS.PRECISION = 0.9
    _C.TEST.ANALYSIS.REPORT = True
    _C.TEST.ANALYSIS.GALLERY_SIZE = 8
    # Detections kept per image for evaluation (WIDER submissions keep up to a few thousand).
    _C.TEST.DETECTIONS_PER_IMAGE = 750
