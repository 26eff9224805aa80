"""``MODEL.MOGFACE.*``: the config keys of :class:`facelib.projects.mogface.MogFace`
(``add_mogface_config(cfg)``, registered on import).

Liu et al., "MogFace: Towards a Deeper Appreciation on Face Detection" (CVPR 2022). Details the
paper leaves open that the released code (damo-cv/MogFace) fixes are marked "MogFace code, not
paper"; where the two disagree the paper's reading is the default and both are values of a key.
"""

from facelib.config import config_defaults, register_config_extension

__all__ = ["add_mogface_config"]


@register_config_extension
def add_mogface_config(cfg):
    """Add ``MODEL.MOGFACE`` to ``cfg`` in place (keys already present are kept); return ``cfg``."""
    config_defaults(cfg.MODEL, "MOGFACE")
    # Adaptive Online Incremental Anchor Mining (Sec. 3.1, Algorithm 1; Table 3 "Ali-AMS").
    ams = config_defaults(cfg.MODEL.MOGFACE, "ALI_AMS")
    ams.ENABLED = True
    # Candidates of a face needing N_g more positives: "cpd_iou" = the T nearest-centre and the
    # T highest-IoU anchors of the level, ranked together by the predicted face score (Algorithm 1
    # lines 9-11: "sort all 2 * T anchors"); "cpd" = the nearest-centre set only (MogFace code,
    # not paper).
    ams.CANDIDATES = "cpd_iou"
    # Anchors already positive: "before" = not candidates (the face gains N_g new positives when
    # the candidates allow: line 12 read as compensating N_g anchors); "after" = the top N_g are
    # chosen among all candidates, then those already positive dropped (MogFace code, not paper).
    ams.DROP_POSITIVES = "before"
    # Levels (names of MODEL.RETINANET.IN_FEATURES) Ali-AMS leaves alone: none in Algorithm 1
    # (p2..p7); MogFace code, not paper: ["p7"].
    ams.SKIP_LEVELS = []
    return cfg
