"""``MODEL.DF2S2.*``: the config keys of facelib.projects.df2s2 (``add_df2s2_config(cfg)``,
registered on import). Tian et al., "Learning Better Features for Face Detection with Feature
Fusion and Segmentation Supervision" (DF²S²). No code is public; where the paper is silent the
choice is a key and says so.
"""

from facelib.config import config_defaults, register_config_extension

__all__ = ["add_df2s2_config"]


@register_config_extension
def add_df2s2_config(cfg):
    """Add ``MODEL.DF2S2`` to ``cfg`` in place (keys already present are kept); return ``cfg``."""
    node = config_defaults(cfg.MODEL, "DF2S2")
    # Feature fusion pyramid (Sec. 3.3, Eq. 1): F-blocks on the backbone levels (Table 2 "Fus.").
    # False: the same pyramid without fusion (the bottom-up maps, reduced, plus the top levels).
    node.FUSE = True
    # Kernel of the F-block's stride-2 transposed convolution Psi (not given: 2 doubles exactly).
    node.FUSION_KERNEL = 2
    # 1x1 reduction of every pyramid level to the shared head's width (the paper keeps the
    # backbone's 256..2048 channels and gives no reduction; a head shared across levels needs
    # one width: our choice). 0 = no reduction (only for bottom-up levels of equal width).
    node.OUT_CHANNELS = 256
    # Bottom-up network of the pyramid: "resnet" (MODEL.RESNETS.*, levels MODEL.FPN.IN_FEATURES:
    # res2..res5, Sec. 3.1) or "mobilenet" (MODEL.MOBILENET.*, its stages). Max-pooled levels above
    # the last (FFP6, FFP7): MODEL.FPN.TOP_LEVELS.
    node.BOTTOM_UP = "resnet"

    # Detection head (Sec. 3.1): one tower of MODEL.RETINANET.NUM_CONVS (4) 3x3 convs of 256
    # shared by the classification, box and segmentation outputs ("the parameters of the
    # convolutional layers are shared across the detection branch, except for the last prediction
    # layer"; Sec. 3.2: the segmentation branch shares "the former four convolutional layers").
    # False: RetinaNet's separate class / box subnets (the segmentation conv then sits on the class
    # subnet), i.e. FaceRetinaNet's head.
    node.SHARED_TOWER = True
    # Initialisation of the head's convs: "xavier" (Sec. 3.4: "The newly added layers are
    # initialized with xavier"; zero biases) or "normal" (RetinaNet's N(0, 0.01)). Either way the
    # class bias starts at the focal-loss prior (MODEL.RETINANET.PRIOR_PROB; not in the paper).
    node.HEAD_INIT = "xavier"
    # Eq. 2's classification normaliser N_k^c (facelib/modeling/per_level_losses.py): "anchors" =
    # as written (each level's focal loss / its participating anchors, the rule FAN's Eq. 1 also
    # states); "positives" = RetinaNet's (all levels / all positives); "retinanet" = FaceRetinaNet's
    # EMA-normalised losses. Default "positives": the measured choice for FAN's identical rule
    # ("anchors" did not train: FAN face-mask AP 1.4 / 1.3 vs 81.5 / 85.1, docs/results.md).
    # The regression term is divided per level by the level's positives (N_k^r) unless "retinanet".
    node.CLS_LOSS_NORMALIZER = "positives"

    # Segmentation branch (Sec. 3.2, Eq. 2's lambda2 sum_k L_s): a 3x3 conv to K channels on the
    # shared tower, trained against box-filled face masks per level with a pixel-wise sigmoid
    # cross-entropy (mean over a level's pixels, summed over the levels); training only.
    seg = config_defaults(cfg.MODEL.DF2S2, "SEG")
    seg.ENABLED = True
    seg.LOSS_WEIGHT = 0.05  # lambda2 (Table 3 sweeps 0.05, 0.1, 0.2, 0.5, 1.0; 0.05 has the best Hard AP; Sec. 4.3)
    # Which faces level k's mask shows: "the ground-truth faces matching their corresponding
    # receptive field", following S3FD's scale assignment (anchors of 4x the stride are sized to
    # the effective receptive field): "size_ranges" = each face on the level whose anchor scale is
    # nearest its scale sqrt(wh) in log scale (split at the geometric means between levels;
    # SIZE_RANGES [] = derived from the anchors, else one [lo, hi) per level); "matched" = the
    # faces the level's positive anchors are matched to (FAN's rule). Default "size_ranges".
    seg.TARGETS = "size_ranges"
    seg.SIZE_RANGES = []
    return cfg
