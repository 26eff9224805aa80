"""``MODEL.FAN.*``: the config keys of :class:`facelib.projects.fan.FAN` (``add_fan_config(cfg)``).

Registered with :func:`facelib.config.register_config_extension` on import, so ``get_face_cfg()``
(which imports every installed plugin, :mod:`facelib.plugins`) has them. Every key names the section of the
paper (Wang, Yuan, Yu 2017, arXiv 1711.07246) its default comes from. Keys FAN shares with the
RetinaNet baseline stay where FaceRetinaNet reads them (``MODEL.RETINANET.*`` IoU thresholds 0.5 /
0.4, focal loss 0.25 / 2, ``MODEL.FACE_RETINANET.*``; see facelib/modeling/retinanet_config.py).
"""

from facelib.config import config_defaults, register_config_extension, register_config_finalizer
from facelib.modeling.level_box_masks import LEVEL_MASK_MODES
from facelib.modeling.per_level_losses import CLS_LOSS_NORMALIZERS

__all__ = ["add_fan_config", "ATTENTION_MODES", "ATTENTION_TARGET_MODES", "CLS_LOSS_NORMALIZERS"]

ATTENTION_MODES = ("exp", "plain")
ATTENTION_TARGET_MODES = LEVEL_MASK_MODES


@register_config_extension
def add_fan_config(cfg):
    """Add ``MODEL.FAN`` to ``cfg`` in place (keys already present are kept); return ``cfg``."""
    node = config_defaults(cfg.MODEL, "FAN")

    # Anchor-level attention on/off (Sec. 3.2.2; Table 2 / Table 3 "attention" vs "baseline").
    # False = FAN without attention: the baseline with FAN's anchors and Eq. 1 loss normalisation
    # (no attention parameters, no loss_attention).
    node.ATTENTION_ON = True
    # How the attention map m_k (= sigmoid of the attention subnet's output, in [0, 1]) is applied
    # to the level-k feature before the class and box subnets (Sec. 3.2.2, Fig. 6): "exp" =
    # F_k * exp(m_k) (the paper's: "our attention maps are first feed to an exponential operation
    # and then dot with feature maps. It is able to keep more context information"); "plain" =
    # F_k * m_k, the "traditional usage of attention map" the paper contrasts it with (no number
    # for it is reported).
    node.ATTENTION_MODE = "exp"
    # Attention subnet (Sec. 3.2.2, Fig. 6: "a segment-like side branch" per level, weights shared
    # across levels like RetinaNet's subnets): ATTENTION_NUM_CONVS 3x3 convs + ReLU, then one 3x3
    # conv to 1 channel. The paper gives no depth; 4 = the depth of the class / box subnets of
    # Sec. 3.1 ("four 3 x 3 convolution layers each with 256 filters").
    node.ATTENTION_NUM_CONVS = 4
    # Channels of those convs; 0 = the FPN channels (256 in the paper).
    node.ATTENTION_CHANNELS = 0
    # Normalisation in the attention convs: "head" = the same as MODEL.RETINANET.NORM (GN for the
    # from-scratch configs, BN for MobileNet), "" = none (the paper names no normalisation), or
    # any detectron2 norm name (BN gets one BN per level, as detectron2's RetinaNetHead does).
    node.ATTENTION_NORM = "head"
    # Which faces level k's attention target m*_k draws (Sec. 3.2.2: "supervised heatmaps are
    # associated to the ground-truth faces assigned to the anchors in the current layer"; Fig. 4):
    # "matched" = the faces some positive anchor of level k is matched to by the detector's own
    # assignment (Sec. 3.2.1), so a face matched on two levels is on both and an unmatched face on
    # none; "size_ranges" = fixed face-size ranges per level (ATTENTION_SIZE_RANGES), independent
    # of the matching. See projects/FAN/fan/attention.py.
    node.ATTENTION_TARGETS = "matched"
    # "size_ranges" mode only: face-size range (sqrt(w*h), input pixels) of each level,
    # [[lo, hi], ...] one per level, lo <= s < hi. [] = derived from the anchors: the scale axis
    # split at the geometric mean of adjacent levels' extreme anchor scales (the level holding the
    # anchor scale nearest to the face's), the lowest level open below, the top open above.
    node.ATTENTION_SIZE_RANGES = []
    # Anchor setting (FAN's own: Sec. 3.2.1; the three compared in Sec. 4.1.1, Table 1), written into MODEL.ANCHOR_GENERATOR.SIZES /
    # ASPECT_RATIOS when a run's config is set up (so its dumped config.yaml shows the anchors used;
    # ``apply_fan_anchor_setting``) and again, to the same values, when the model is built:
    # "retinanet" (32..512, 3 scales x {0.5, 1, 2}, A = 9), "fan" (areas 16^2..406^2, scale step
    # 2^(1/3), ratios {1, 1.5}, A = 6; the paper's choice), "dense" (areas 8^2..645^2, 4 scales x
    # {1, 1.5}, A = 8); "" = keep MODEL.ANCHOR_GENERATOR as configured. See projects/FAN/fan/anchors.py.
    node.ANCHOR_SETTING = "fan"
    # Eq. 1 (Sec. 3.3): L = sum_k 1/N_k^c sum_{i in A_k} l_c + lambda1 sum_k 1/N_k^r sum_{i in A_k}
    # I(p_i* = 1) l_r + lambda2 sum_k l_a(m_k, m_k*). lambda1 and lambda2 are both 1 in the paper.
    # LOSS_WEIGHT_REG replaces MODEL.FACE_RETINANET.LOSS_BOX_REG_WEIGHT for FAN (the focal loss keeps
    # MODEL.FACE_RETINANET.LOSS_CLS_WEIGHT, 1).
    node.LOSS_WEIGHT_REG = 1.0  # lambda1
    node.LOSS_WEIGHT_ATTENTION = 1.0  # lambda2
    # Normaliser of the focal loss. "anchors" = Eq. 1 literally: per level k, N_k^c = "the number
    # of anchors in P_k which participate in the classification loss computation" (positives and
    # negatives, not the ignored ones). "positives" = RetinaNet's (Lin et al. Sec. 4.1) and the
    # public re-implementation's (rainofmine/Face_Attention_Network losses.py): the summed focal
    # loss of all levels divided by the number of positive anchors. The regression loss is
    # always normalised per level by that level's positives (N_k^r in Eq. 1). "retinanet" = the
    # losses of facelib's FaceRetinaNet unchanged (both terms over all levels divided by an EMA of
    # the positives, MODEL.FACE_RETINANET.LOSS_NORMALIZER_*): FAN with ATTENTION_ON False is then
    # exactly the FaceRetinaNet baseline, so a comparison isolates the attention branch (Tables
    # 2-3). With focal loss, "anchors" makes the classification term about a hundred times weaker
    # than "positives" (75-115x on the first face-mask batches, tools/fan_loss_normalizers.py; 500x
    # in tests/projects/test_fan.py's hand-made case of 1000 negatives and 2 positives), and it does
    # not train: fan_mnet025_facemask.yaml with "anchors" reached AP 1.4 / 1.3 after 3000
    # iterations against 81.5 / 85.1 with "positives" (docs/results.md, "FAN's training rules read
    # from the paper"). Default: "positives", the one that trains.
    node.CLS_LOSS_NORMALIZER = "positives"
    return cfg


def apply_fan_anchor_setting(cfg):
    """Config finalizer: when ``MODEL.META_ARCHITECTURE`` is FAN or a subclass of it and
    ``MODEL.FAN.ANCHOR_SETTING`` is set, write the setting's anchors (Sec. 4.1.1, Table 1) into
    ``MODEL.ANCHOR_GENERATOR``: the values ``FAN.from_config`` builds the model with."""
    import inspect

    from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY

    from .anchors import apply_anchor_setting
    from .fan import FAN

    name = cfg.MODEL.META_ARCHITECTURE
    arch = META_ARCH_REGISTRY.get(name) if name in META_ARCH_REGISTRY else None
    if inspect.isclass(arch) and issubclass(arch, FAN) and cfg.MODEL.FAN.ANCHOR_SETTING:
        apply_anchor_setting(cfg, cfg.MODEL.FAN.ANCHOR_SETTING)
    return cfg


register_config_finalizer(apply_fan_anchor_setting)
