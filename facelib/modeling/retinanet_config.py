"""Config keys of :class:`facelib.modeling.face_retinanet.FaceRetinaNet` and of
:class:`facelib.modeling.anchors.FaceAnchorGenerator`.

``add_face_retinanet_config(cfg)`` adds ``MODEL.FACE_RETINANET.*`` and (through
``add_face_anchor_config``) the extra ``MODEL.ANCHOR_GENERATOR.*`` keys. Keys detectron2 already
has are *not* duplicated; FaceRetinaNet reads them where they are:

* matching: ``MODEL.RETINANET.IOU_THRESHOLDS`` ([0.4, 0.5]) / ``IOU_LABELS`` ([0, -1, 1]):
  IoU >= 0.5 positive, < 0.4 negative, between ignored -- the RetinaNet setting (Lin et al. 2017,
  Sec. 4 "Anchors") that RefineFace's RetinaNet baseline keeps.
* focal loss: ``MODEL.RETINANET.FOCAL_LOSS_ALPHA`` / ``FOCAL_LOSS_GAMMA`` (0.25 / 2, RetinaNet Sec. 4.1 / 5.1).
* box regression: ``MODEL.RETINANET.BBOX_REG_LOSS_TYPE`` ("smooth_l1" | "l1" | "giou" | "diou" |
  "ciou"; "l1" is facelib's alias of smooth-L1 with beta 0) and ``SMOOTH_L1_LOSS_BETA``.
* test: ``MODEL.RETINANET.SCORE_THRESH_TEST`` / ``TOPK_CANDIDATES_TEST`` / ``NMS_THRESH_TEST``
  and ``TEST.DETECTIONS_PER_IMAGE``.

The anchor keys sit in ``MODEL.ANCHOR_GENERATOR`` (not ``FACE_RETINANET``) because the generator
is a registry module any meta-architecture (e.g. an RPN) builds from that node.
"""

from facelib.config import config_defaults, register_config_extension

__all__ = ["add_face_anchor_config", "add_face_retinanet_config"]


def add_face_anchor_config(cfg):
    """Extra ``MODEL.ANCHOR_GENERATOR`` keys read by ``FaceAnchorGenerator`` (set
    ``MODEL.ANCHOR_GENERATOR.NAME: "FaceAnchorGenerator"`` to use it). In place; idempotent."""
    ag = config_defaults(cfg.MODEL.ANCHOR_GENERATOR)
    # How an aspect ratio r (= h / w, as in detectron2 and the face papers) shapes an anchor of
    # scale s: "area" keeps w*h = s^2 (detectron2 / Faster R-CNN Sec. 3.1.1 / S3FD), "width" keeps
    # w = s and sets h = r*s. See facelib/modeling/anchors.py.
    ag.RATIO_MODE = "area"
    # Per-level anchor-centre offsets in [0, 1) (fraction of the stride); [] = use
    # MODEL.ANCHOR_GENERATOR.OFFSET for every level. 0.5 = cell centres as S3FD / SSD
    # ("(j + 0.5) * step"); detectron2's default OFFSET is 0.0.
    ag.OFFSETS = []
    # If > 0, SIZES is ignored and derived from the strides: level l gets
    # OCTAVE_BASE * stride_l * 2^(i / SCALES_PER_OCTAVE), i < NUM_SCALES (0 = SCALES_PER_OCTAVE).
    # RetinaNet (Lin et al. 2017, Sec. 4 "Anchors"): 4, 3 scales per octave;
    # S3FD (Zhang et al. 2017, Sec. 3.1): 4, 1; SRN / RefineFace (2S and 2*sqrt(2)S): 2, 2.
    ag.OCTAVE_BASE = 0.0
    ag.SCALES_PER_OCTAVE = 1
    ag.NUM_SCALES = 0
    return cfg


def add_face_retinanet_config(cfg):
    """Add ``MODEL.FACE_RETINANET`` and the anchor keys to ``cfg`` in place; return ``cfg``.

    Registered with :func:`facelib.config.register_config_extension`, so ``get_face_cfg()``
    applies it. Keys it adds are left untouched when already present (idempotent); when it first
    adds them it sets detectron2's MODEL.RETINANET.NUM_CLASSES to 1 (one class, "face")."""
    add_face_anchor_config(cfg)
    if "FACE_RETINANET" not in cfg.MODEL:  # first application only (idempotent)
        # facelib has one class, "face" (docs/data_format.md); detectron2's default is COCO's 80.
        cfg.MODEL.RETINANET.NUM_CLASSES = 1

    _C = config_defaults(cfg.MODEL, "FACE_RETINANET")
    # Handling of faces with instances.gt_ignore = True (WIDER "invalid", MAFA face_type 3, ...;
    # docs/data_format.md):
    #   "ignore": anchors whose best-matching face is an ignored one (with IoU >=
    #             IGNORE_IOU_THRESHOLD) get label -1: neither positive nor negative. Follows Faster
    #             R-CNN's "anchors that are neither positive nor negative do not contribute"
    #             (Sec. 3.1.2); SRN's public training code takes "ignore_regions" likewise.
    #   "drop":   ignored faces are removed from the targets (their anchors become negatives).
    #   "keep":   ignored faces are used as ordinary faces.
    _C.GT_IGNORE_MODE = "ignore"
    # An anchor is ignored only when its IoU with the ignored face reaches this value, i.e. when
    # the anchor would otherwise be positive or in the in-between band; anchors far from any face
    # stay negatives. Default = the negative threshold MODEL.RETINANET.IOU_THRESHOLDS[0] (0.4).
    _C.IGNORE_IOU_THRESHOLD = 0.4
    # Faster R-CNN's low-quality matching (Sec. 3.1.2 case (i)): each (non-ignored) face also
    # gets its highest-IoU anchor(s) as positives. detectron2's RetinaNet hard-codes True; S3FD's
    # scale compensation anchor matching (Sec. 3.2) serves the same purpose for tiny faces.
    _C.ALLOW_LOW_QUALITY_MATCHES = True
    # Loss weights (RetinaNet and detectron2 weigh both losses 1).
    _C.LOSS_CLS_WEIGHT = 1.0
    _C.LOSS_BOX_REG_WEIGHT = 1.0
    # Loss normaliser: EMA of the number of positive anchors, as detectron2's RetinaNet
    # (RetinaNet Sec. 4.1 normalises by the number of positive anchors; detectron2 smooths it with
    # momentum 0.9 from an initial 100).
    _C.LOSS_NORMALIZER_MOMENTUM = 0.9
    _C.LOSS_NORMALIZER_INIT = 100.0
    return cfg


register_config_extension(add_face_retinanet_config)
