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
    # The assignment Ali-AMS starts from: "iou" = the standard IoU matching (MODEL.RETINANET.
    # IOU_THRESHOLDS, the paper's [23]); "atss" = ATSS (Table 3's comparison; top ATSS_TOPK
    # nearest-centre anchors per level, IoU >= mean + std, centre inside the face).
    mog = config_defaults(cfg.MODEL.MOGFACE)
    mog.ASSIGNER = "iou"
    mog.ATSS_TOPK = 9
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
    # SSH context head of the final model (Sec. 4.3; layout: MogFace code, not paper;
    # projects/MogFace/mogface/ssh_head.py): its output width, the class / box subnets' width
    # then (the code: 512); 0 = off (RetinaNet's head on the pyramid features).
    mog.SSH_CHANNELS = 0
    # Prediction head: "retinanet" = RetinaNet's class / box subnets shared by the levels
    # (MODEL.RETINANET.NUM_CONVS, NORM; the final model's "deep head", Sec. 4.3, with 4 convs + GN);
    # "sfd" = one 3x3 class conv and one 3x3 box conv per level, unshared (the ablation baseline's
    # S3FD architecture, Sec. 4.1; MogFace code: RetinaPredNet without the deep head).
    mog.HEAD = "retinanet"

    # Pyramid Anchor (PyramidBox [26], one of the final model's modules, Sec. 4.3;
    # projects/MogFace/mogface/pyramid_anchor.py): training-only context tasks, the k-th labelling
    # anchors against the faces enlarged SCALES[k-1] times about their centres (PyramidBox: s_pa = 2,
    # K = 2, "head" and "body": [2, 4]) at IoU IOU_THRESHOLD (PyramidBox: 0.35), each with a focal
    # loss and a box loss (x FACE_RETINANET.LOSS_BOX_REG_WEIGHT) divided by its own positives and
    # weighted by LOSS_WEIGHTS[k-1] (neither MogFace's paper nor its code gives weights; 0.5).
    pa = config_defaults(cfg.MODEL.MOGFACE, "PYRAMID_ANCHOR")
    pa.ENABLED = False
    pa.SCALES = [2.0, 4.0]
    pa.IOU_THRESHOLD = 0.35
    pa.LOSS_WEIGHTS = [0.5, 0.5]

    # Hierarchical Context-Aware Module (Sec. 3.3, Fig. 2, Eq. 1; Table 5): context from the
    # backbone levels under the high-confidence anchors' N x N neighbourhoods, a progressive
    # classifier trained on the dynamic labels y_hc (projects/MogFace/mogface/hcam.py).
    hcam = config_defaults(cfg.MODEL.MOGFACE, "HCAM")
    hcam.ENABLED = True
    # High-confidence: main-classifier score above THRESHOLD (MogFace code, not paper: fp_th 0.1).
    hcam.THRESHOLD = 0.1
    # Neighbourhood sizes N (Table 5: 3, 5, or both; both is the paper's choice).
    hcam.SIZES = [3, 5]
    # gamma of Eq. 1 ("we find gamma = 1 has a best performance").
    hcam.LOSS_WEIGHT = 1.0
    # Scores at test time (the paper does not say): "main" = the main classifier's only (MogFace
    # code, not paper; HCAM is then not run at inference); "progressive" = the progressive
    # classifier's score on the high-confidence anchors, the main one elsewhere.
    hcam.TEST_SCORES = "main"

    # Selective Scale Enhancement (Sec. 3.2, Algorithm 2): the training augmentation "sse"
    # (projects/MogFace/mogface/sse.py). Levels index SCALE_RANGES (p2 .. p7: 3 = p5, 4 = p6).
    config_defaults(cfg.INPUT.FACE_AUG, "SSE")
    sse = config_defaults(cfg.INPUT.FACE_AUG.SSE)
    sse.CROP_SIZE = 640  # N (Algorithm 2)
    sse.PROB = 1.0  # MogFace code, not paper (das_prob 1): the paper applies it to every image
    # Table 2 (the code's p2..p4 ranges differ: 8.4-26.7, 26.7-54, 54-106.2)
    sse.SCALE_RANGES = ((8.4, 20.7), (20.7, 48.2), (48.2, 106.2), (106.2, 212.4), (212.4, 420.8), (420.8, 640.0))
    sse.MAIN_LEVEL = 3
    sse.AUX_LEVEL = 4
    sse.MAIN_PROB = 0.2  # tr_p5 = r_p5 (Table 1)
    sse.AUX_PROB = 0.16  # tr_p6 = (1 - tr_p5) * r_p6 (Algorithm 2); the text's thresholds: 0.2
    # Otherwise: "paper" = a random one of the other levels (Algorithm 2 line 10); "code" = a
    # scale in [MIN_SCALE, p5's lower end] (MogFace code, not paper: mog_sse).
    sse.OTHER_LEVELS = "paper"
    sse.MIN_SCALE = 16.0
    return cfg
