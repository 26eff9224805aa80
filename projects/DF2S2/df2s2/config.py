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
    return cfg
