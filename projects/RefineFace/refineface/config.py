"""``MODEL.REFINEFACE.*``: the config keys of :class:`facelib.projects.refineface.RefineFace`
(``add_refineface_config(cfg)``, registered on import).

Every module of Table 1 (Zhang, Chi, Lei, Li, "RefineFace: Refinement Neural Network for High
Performance Face Detection", TPAMI 2020) is a switch, so Table 1's columns, Table 2 / Table 4
(one pyramid level at a time: ``STR.LEVELS`` / ``STC.LEVELS``), Table 6 (``SML.ALPHA``) and
Tables 7 / 8 (``FSM.POOLER_RESOLUTION`` / ``FSM.TYPE``) are config overrides. Keys the method
shares with the RetinaNet baseline stay where FaceRetinaNet reads them: the second step's IoU
thresholds 0.4 / 0.5 (``MODEL.RETINANET.IOU_THRESHOLDS``, Sec. 3.6 "Sample Matching"), focal loss,
smooth-L1, score threshold / top-k / NMS / detections per image of the inference (Sec. 3.6
"Inference"). Details the paper leaves open and SRN's released inference code
(ChiCheng123/SRN) fixes are marked "SRN code, not paper".
"""

from facelib.config import config_defaults, register_config_extension

__all__ = ["add_refineface_config", "SML_MODES", "SML_STEPS", "FSM_TYPES"]

SML_MODES = ("positives", "symmetric")
SML_STEPS = ("first", "second")
FSM_TYPES = ("conv", "fc")


@register_config_extension
def add_refineface_config(cfg):
    """Add ``MODEL.REFINEFACE`` to ``cfg`` in place (keys already present are kept); return ``cfg``."""
    config_defaults(cfg.MODEL, "REFINEFACE")
    node = cfg.MODEL.REFINEFACE

    # --- Selective Two-step Regression (Sec. 3.1, Eq. 1; Table 1 "STR", Table 2 per level).
    # The first step (on the backbone's C levels) refines the anchors of LEVELS; the second step (on
    # the FPN's P levels) regresses from the refined anchors and is matched against them. LEVELS
    # name entries of MODEL.RETINANET.IN_FEATURES; the paper's are the three high levels.
    str_node = config_defaults(node, "STR")
    str_node.ENABLED = True
    str_node.LEVELS = ["p5", "p6", "p7"]

    # --- Selective Two-step Classification (Sec. 3.2, Eq. 2; Table 1 "STC", Table 4 per level).
    # The first step classifies the anchors of LEVELS (focal loss); anchors whose first-step
    # background confidence exceeds THETA leave the second step, in training and at inference
    # (Sec. 3.2: theta = 0.99; "negative confidence" = 1 - the face score). The paper's levels are
    # the three low ones.
    stc = config_defaults(node, "STC")
    stc.ENABLED = True
    stc.LEVELS = ["p2", "p3", "p4"]
    stc.THETA = 0.99

    # --- The first step shared by STR and STC.
    first = config_defaults(node, "FIRST_STEP")
    # Sample matching of the first step (Sec. 3.6 "Sample Matching": theta_n = 0.3, theta_p = 0.7
    # "for the first step in STR and STC"); labels as MODEL.RETINANET.IOU_LABELS (0 background,
    # -1 ignored, 1 face).
    first.IOU_THRESHOLDS = [0.3, 0.7]
    first.IOU_LABELS = [0, -1, 1]
    # Sec. 3.2: "the RefineFace shares the same classification module in the two steps". The box
    # module: False = the paper's reading (only classification is named as shared: the first step
    # has its own box subnet and box predictor), True = SRN code, not paper (one `rpn` head, class
    # and box subnets alike, applied to the C and the P features).
    first.SHARE_BOX_HEAD = False
    # Channels of the first-step features: every C level is reduced by a 1x1 conv to the FPN's
    # width (SRN code, not paper: c2_conv..c7_conv, 256 channels). 0 = MODEL.FPN.OUT_CHANNELS.
    first.CHANNELS = 0
    # Levels above the backbone's last stage (C6, C7) come from stride-2 3x3 convs stacked on the
    # last stage (Sec. 3: "C6 and C7 are extracted by two simple down-sample 3x3 convolution layers
    # after C5"), no activation between them (SRN code, not paper). EXTRA_CHANNELS = their output
    # channels, one per extra level ([] = the first-step CHANNELS for each; SRN code uses 1024, 256).
    first.EXTRA_CHANNELS = []
    # Weights of the first step's loss terms (Eq. 1 / Eq. 2 add them with weight 1).
    first.LOSS_CLS_WEIGHT = 1.0
    first.LOSS_BOX_REG_WEIGHT = 1.0

    # --- Scale-aware Margin Loss (Sec. 3.3, Eqs. 3-4; Table 1 "SML", Table 6 for ALPHA).
    # y = sigmoid(x - m), m = ALPHA / sqrt(w h) of the sample (its anchor; a refined anchor on STR
    # levels), used in the focal loss only (inference scores are sigmoid(x)). The paper does not say
    # which samples get the margin, and subtracting m from every sample's logit would only shift
    # the decision boundary per scale, not open a margin: MODE "positives" = x - m for the positive
    # samples' class logit only; "symmetric" = x - m for positives and x + m for negatives (the
    # margin on both sides of the boundary). Default "positives", by measurement: SML alone on the
    # face-mask config, 1000 iterations, same seed: 77.6 / 81.8 AP with "positives", 72.9 / 77.1
    # with "symmetric", 74.8 / 78.9 without SML; and on faces under 16 px the
    # face / background AUC of the detections rises with "positives" (0.964 vs the plain model's
    # 0.939) and falls with "symmetric" (0.910): Fig. 5's effect with the first reading only
    # (docs/results.md, "SML: which samples get the margin"). STEPS: which classification terms
    # get it ("first" = STC's first step, "second" = the second / only step).
    sml = config_defaults(node, "SML")
    sml.ENABLED = True
    sml.ALPHA = 15.0
    sml.MODE = "positives"
    sml.STEPS = ["first", "second"]

    # --- Feature Supervision Module (Sec. 3.4; Table 1 "FSM", Table 7 RoIAlign size, Table 8 type).
    # Training only: the second step's predictions go through NMS (NMS_THRESH 0.7), the ground
    # truth is added, NUM_PROPOSALS (512) proposals are RoIAligned (POOLER_RESOLUTION 5) on the P
    # level each came from and classified face / background with a focal loss (IoU >= 0.7 face,
    # < 0.4 background: IOU_THRESHOLDS, Sec. 3.6). Not executed at inference.
    fsm = config_defaults(node, "FSM")
    fsm.ENABLED = True
    fsm.NMS_THRESH = 0.7
    # Candidates per image before that NMS (the paper does not say; NMS over all ~300k anchors of a
    # 1024 px image is not practical): the PRE_NMS_TOPK best-scored predictions.
    fsm.PRE_NMS_TOPK = 2000
    fsm.NUM_PROPOSALS = 512
    fsm.ADD_GT = True
    fsm.POOLER_RESOLUTION = 5
    fsm.POOLER_SAMPLING_RATIO = 0
    fsm.IOU_THRESHOLDS = [0.4, 0.7]
    # "conv" (Table 8's choice): NUM_CONVS (3) 3x3 convs + ReLU, a 3x3 prediction conv, global
    # average pooling; "fc": two fully connected layers of FC_DIM + ReLU and a linear classifier.
    fsm.TYPE = "conv"
    fsm.NUM_CONVS = 3
    # Width of the conv type's convs; 0 = the FPN's width. (Table 8 gives 387,360 parameters for
    # the conv type and 829,472 for the fc type; no width of this layout on 256-channel features
    # gives exactly those counts.)
    fsm.CONV_DIM = 0
    fsm.FC_DIM = 256
    # Weight of the FSM's focal loss (Sec. 3.6: L = L_STR + L_STC + L_FSM, weight 1; Sec. 3.4 asks
    # for "a relatively small loss" from the module's size, not from a weight).
    fsm.LOSS_WEIGHT = 1.0

    # --- Receptive Field Enhancement (Sec. 3.5, Fig. 7; Table 1 "RFE"): replaces the middle two
    # of the four convs of the class and box subnets (convs 2 and 3; with MODEL.RETINANET.NUM_CONVS
    # 2 or 3 it replaces what there is of them, so it always follows the first conv). Four branches 1x1 (C/4) -> 1x3 | 3x1 | 1x5 | 5x1 -> 1x1, ReLU after each conv (SRN
    # code, not paper), concatenated, a 1x1 conv + ReLU back to C, plus the input (shortcut).
    rfe = config_defaults(node, "RFE")
    rfe.ENABLED = True
    return cfg
