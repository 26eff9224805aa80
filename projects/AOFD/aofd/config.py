"""``MODEL.AOFD.*``: the config keys of :class:`facelib.projects.aofd.AOFD` (``add_aofd_config(cfg)``).

Registered with :func:`facelib.config.register_config_extension` on import, so ``get_face_cfg()``
(which imports every installed plugin, :mod:`facelib.plugins`) has them. Each key names the part
of the paper (Chen, Song, He, "Adversarial Occlusion-aware Face Detection", BTAS 2018, arXiv 1709.05188) its
default comes from, as the paper numbers its sections, equations and tables; the keys say where
a choice is facelib's own (the paper leaves it open).

Keys AOFD shares with Faster R-CNN stay where detectron2 reads them (``MODEL.RPN.*``,
``MODEL.ROI_HEADS.*``, ``MODEL.ANCHOR_GENERATOR.*``; see ``configs/aofd_vgg16.yaml``). The RPN
anchors of Sec. 4.1 (sizes 64, 128, 256, 512; ratios 1.7, 1, 1.3) are set there as
``ANCHOR_GENERATOR.SIZES [[64, 128, 256, 512]]`` and ``ASPECT_RATIOS [[1.7, 1.0, 1.3]]``:
detectron2's aspect ratio is height / width (``DefaultAnchorGenerator.generate_cell_anchors``:
``w = sqrt(size^2 / ratio)``, ``h = ratio * w``), so 1.7 and 1.3 are anchors TALLER than wide --
the orientation of faces (a face box is taller than wide), which is how facelib reads the paper's
ratios (the paper lists the numbers without saying h/w or w/h).
"""

from facelib.config import config_defaults, register_config_extension

__all__ = ["add_aofd_config", "MASK_TYPES", "GENERATOR_GRAD_MODES", "STAGE_MODES",
           "SCHEDULE_STAGE_NAMES", "SEG_LOSS_REDUCTIONS", "COMPACT_LOSS_REDUCTIONS",
           "GENERATOR_STRAIGHT_MAPPINGS"]

# Known mask types (Sec. 3.3 "Masking strategy"): "generator" (the adversarial mask generator's mask), "half"
# (one random half -- left / right / top / bottom -- of the 7x7 RoI features), "random" (a random
# half of the 49 positions).
MASK_TYPES = ("generator", "half", "random")
GENERATOR_GRAD_MODES = ("straight_through",)
# What a stage of AOFD_SCHEDULE trains: "detector" (backbone, RPN, box head, segmentation branch;
# the generator frozen), "generator" (the mask generator only, Eq. 2, against the frozen
# detector), "adversarial" (the two alternated: GENERATOR_ITERS generator iterations, then
# DETECTOR_ITERS detector iterations).
STAGE_MODES = ("detector", "generator", "adversarial")
# The stage slots of AOFD_SCHEDULE (lower case in AOFD_SCHEDULE.STAGES, upper case as sub-nodes).
SCHEDULE_STAGE_NAMES = ("pretrain", "generator", "adversarial", "sfs", "wider_sfs", "sfs_final")
SEG_LOSS_REDUCTIONS = ("sum", "mean")
# Reductions of L_com (Eq. 3) over a batch (compact_loss.py).
COMPACT_LOSS_REDUCTIONS = ("mean", "sum", "sum_channels")
# The generator's "straight mapping" (Sec. 3.3; mask_generator.py).
GENERATOR_STRAIGHT_MAPPINGS = ("residual", "none")


@register_config_extension
def add_aofd_config(cfg):
    """Add ``MODEL.AOFD`` to ``cfg`` in place (keys already present are kept); return ``cfg``."""
    node = config_defaults(cfg.MODEL, "AOFD")

    # Adversarial mask generator on/off (Sec. 3.3: "four convolutional layers with a straight
    # mapping" on the 7x7 RoI features, a one-channel heat map; Fig. 3 (b)). False: no generator is built and "generator" is dropped from
    # MASK_TYPES (the "half" / "random" masks of the ablation remain).
    node.GENERATOR_ON = True
    # Occlusion segmentation branch on/off (Sec. 3.4, Fig. 4).
    node.SEGMENTATION_ON = True
    # Masks applied to the positive RoIs' pooled features while training the detector (Sec. 3.3):
    # each positive RoI gets one entry drawn uniformly from this list (facelib's mixing rule; the
    # paper uses the three kinds together), so listing a type twice doubles its share, e.g.
    # ["generator", "generator", "half", "random"] = 1/2 : 1/4 : 1/4. [] = no masks. With
    # KEEP_UNMASKED each positive RoI also stays in the batch unmasked. Known: MASK_TYPES above.
    node.MASK_TYPES = ["generator", "half", "random"]
    # Sec. 3.3: the masked copies of the positive RoIs are ADDED to the RoI batch and the original,
    # unmasked features are kept alongside (True), or the masked features REPLACE the positives'
    # features (False). Masked copies keep their RoI's class and box-regression targets.
    node.KEEP_UNMASKED = True
    # Hard selection (Sec. 3.3, "Masking strategy"): while training the generator, the lowest quarter of the 49 mask
    # scores is set to 0 (dropped), the rest to 1. round(0.25 * 49) = 12 positions.
    node.GENERATOR_DROP_FRACTION_TRAIN_G = 0.25
    # ... and while training the detector with generated masks, the lowest third:
    # round(49 / 3) = 16 positions (Sec. 3.3).
    node.GENERATOR_DROP_FRACTION_TRAIN_D = 1.0 / 3.0
    # Differentiable path of the hard selection for the generator loss. The forward value is the
    # hard 0/1 mask; "straight_through": the gradient w.r.t. the mask goes to sigmoid(scores)
    # (mask = hard + (s - s.detach())). The paper back-propagates through the generated mask without
    # detailing the binarisation's gradient; this is facelib's choice.
    node.GENERATOR_GRAD = "straight_through"
    # Mask generator: 4 convs (Sec. 3.3), 3x3, ReLU between them, channels below
    # (0 = the RoI feature channels, 512 for VGG16 conv5; facelib's choice, not stated).
    node.GENERATOR_NUM_CONVS = 4
    node.GENERATOR_CHANNELS = 0
    # Sec. 3.3's "straight mapping": "residual" = an identity shortcut from the first conv's output
    # to the input of the last conv (a residual connection around the middle convs, the authors'
    # released generator also sums a residual); "none" = a plain stack of convs.
    node.GENERATOR_STRAIGHT_MAPPING = "residual"
    # Eq. 2: L_g = GAMMA * L_com - ETA * L_c. GAMMA weighs the compactness loss (Eq. 3), 1e-6
    # ("in order to balance the derivatives").
    node.GAMMA = 1e-6
    # How L_com is summed over a batch before GAMMA (compact_loss.py): "mean" = per-RoI sums
    # averaged over the RoIs; "sum" = summed over the RoIs and mask cells; "sum_channels" = also
    # over the C feature channels the one-channel mask is tiled to (the masked RoI feature, C x 7
    # x 7), the sum a Caffe loss layer takes over its input blob. Only under "sum_channels" does
    # GAMMA = 1e-6 give L_com a gradient on the generator comparable to ETA * L_c (about a third
    # of it on the face-mask CPU model; 1e-5 of it under "mean"; docs/results.md).
    node.COMPACT_LOSS_REDUCTION = "sum_channels"
    # ETA weighs the (negated) detector classification loss on the masked RoIs, 1.
    node.ETA = 1.0
    # Eq. 1 (Sec. 3.2): weight mu of the occlusion segmentation loss L_s in the detector's total
    # loss, 1e-5. A stage of AOFD_SCHEDULE may override it (1e-7 in the WIDER + SFS stage, Sec. 4.1).
    node.SEG_LOSS_WEIGHT = 1e-5
    # How the per-cell cross entropies are reduced before mu: "sum" over the input PIXELS of the
    # supervised cells (a stride-16 cell counts 256 times), divided by the number of images, or
    # "mean" over the cells. "sum" is what the authors' Caffe model computes (IssacCyj/
    # Adversarial-Occlussion-aware-Face-Detection, train_final_pmask.prototxt: SoftmaxWithLoss with
    # ``normalize: false`` on the segmentation map upsampled to the image), and the reading under
    # which mu = 1e-5 weighs a face-sized region at ~0.1-1 rather than nothing.
    node.SEG_LOSS_REDUCTION = "sum"
    # Sec. 3.4: the segmentation loss is computed only inside the GT face boxes enlarged by this
    # factor about their centres. (Inference crops the per-face masks inside the regressed boxes
    # themselves, facelib.api's box-relative format; see occlusion_seg.py.)
    node.SEG_BOX_ENLARGE = 1.3
    # Segmentation branch (Sec. 3.4, Fig. 4): fully convolutional on the backbone feature map,
    # SEG_NUM_CONVS 3x3 convs + ReLU then a 1x1 conv to 2 classes (softmax per pixel). Depth and
    # width are facelib's choices (the figure's layer sizes were not re-checked).
    node.SEG_IN_FEATURE = "vgg_conv5"
    node.SEG_NUM_CONVS = 2
    node.SEG_CHANNELS = 512
    # Side M of the per-detection occlusion masks ``pred_occlusion_masks`` (N, 1, M, M), cropped
    # (RoIAlign) from the image-level occluded-class probability inside each regressed box.
    node.SEG_MASK_SIZE = 14
    # Online hard example mining for the RoI classifier (Shrivastava et al. 2016; AOFD Sec. 4.3
    # "Comparing with OHEM", Table 3): the box losses of every RoI proposal are computed, the
    # OHEM_BATCH_SIZE_PER_IMAGE RoIs with the highest loss (after NMS among the RoIs, IoU
    # OHEM_NMS_THRESH) are kept per image and the box head is trained on them only. Off here;
    # configs/aofd_vgg16.yaml (the headline "AOFD with OHEM", MAFA 81.3 / FDDB 97.88) turns it on.
    node.OHEM = False
    node.OHEM_BATCH_SIZE_PER_IMAGE = 128
    node.OHEM_NMS_THRESH = 0.7

    _add_schedule_config(cfg)
    return cfg


def _stage(cfg, name, mode, iters=0, epochs=0.0, datasets=(), seg_loss_weight=-1.0, masks=True):
    node = config_defaults(cfg.AOFD_SCHEDULE, name.upper())
    node.MODE = mode                    # one of STAGE_MODES
    node.MASKS = masks                  # "detector" iterations mask the positive RoIs (MASK_TYPES)
    node.ITERS = iters                  # length in iterations ...
    node.EPOCHS = epochs                # ... or in epochs of the stage's data (ITERS must be 0)
    node.DATASETS = list(datasets)      # training sets (concatenated); [] = DATASETS.TRAIN
    node.SEG_LOSS_WEIGHT = seg_loss_weight  # < 0: MODEL.AOFD.SEG_LOSS_WEIGHT
    node.BASE_LR = 0.0                  # <= 0: SOLVER.BASE_LR
    node.STEPS = []                     # LR x SOLVER.GAMMA at these iterations, counted in the stage
    node.GENERATOR_ITERS = 1            # "adversarial": generator iterations per cycle ...
    node.DETECTOR_ITERS = 1             # ... followed by this many detector iterations


def _add_schedule_config(cfg):
    """``AOFD_SCHEDULE``: the staged training of Sec. 4.1 run by ``AOFDTrainer`` (schedule.py).

    The whole schedule is one run of ``SUM(ITERS)`` iterations (``SOLVER.MAX_ITER`` is set to the
    sum); the stage of an iteration is a function of the iteration alone, so ``--resume`` from any
    checkpoint continues in the right stage. Stage lengths 0 are skipped; ``STAGES`` picks and
    orders the stages (one stage alone: ``AOFD_SCHEDULE.STAGES "['sfs']"`` with ``MODEL.WEIGHTS``
    set to the previous stage's ``model_stage_<name>.pth``).
    """
    node = config_defaults(cfg, "AOFD_SCHEDULE")
    node.ENABLED = True
    # Sec. 4.1's order: a Faster R-CNN, then "we train the mask generator with the loss in equation
    # (2)", then "the detector and the segmentation branch are trained jointly with the parameters
    # in the mask generator fixed". ["pretrain", "adversarial", "sfs", ...] instead alternates
    # generator and detector iterations (the detector trained on masks from the start).
    node.STAGES = ["pretrain", "generator", "sfs", "wider_sfs", "sfs_final"]
    # A dataset of a stage whose folder is missing is replaced by its fallback, with a WARNING
    # (without SFS or WIDER FACE train images, the embedded synthetic set -- exact occlusion
    # masks -- stands in for SFS and the face-mask set for WIDER). Pairs [wanted, fallback]; an
    # unavailable dataset without a fallback is an error.
    node.FALLBACK_DATASETS = [["sfs_train", "synthetic_faces_train"],
                              ["widerface_train", "facemask_train"]]
    # Save model_stage_<name>.pth at the end of every stage.
    node.SAVE_STAGE_CHECKPOINTS = True
    # Sec. 4.1, first stage ("based on Faster RCNN, we train the mask generator"): "pretrain" = a
    # plain Faster R-CNN on WIDER (no RoI masks, no segmentation loss; 0 = MODEL.WEIGHTS already
    # is one), then "generator" = the mask generator alone against that frozen detector (Eq. 2;
    # the paper gives no length, 10k is facelib's choice). "adversarial" (not in the default
    # STAGES): generator and detector iterations alternated, the detector trained on the masks.
    # Second stage, generator frozen: "sfs" (SFS only, 10k iterations, overfits the
    # segmentation), "wider_sfs" (WIDER FACE + SFS, 50k, segmentation weight 1e-7; WIDER images
    # carry no mask and give no segmentation gradient), "sfs_final" (SFS only, 3 epochs).
    _stage(cfg, "pretrain", "detector", datasets=["widerface_train"], seg_loss_weight=0.0, masks=False)
    _stage(cfg, "generator", "generator", iters=10000, datasets=["widerface_train"])
    _stage(cfg, "adversarial", "adversarial", iters=10000, datasets=["widerface_train"])
    _stage(cfg, "sfs", "detector", iters=10000, datasets=["sfs_train"])
    _stage(cfg, "wider_sfs", "detector", iters=50000, datasets=["widerface_train", "sfs_train"],
           seg_loss_weight=1e-7)
    _stage(cfg, "sfs_final", "detector", epochs=3.0, datasets=["sfs_train"])
