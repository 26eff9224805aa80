"""Config keys of facelib's backbones: ``add_backbone_config(cfg)``.

Adds (never overwrites) ``MODEL.FPN.TOP_LEVELS*``, ``MODEL.VGG.*`` and ``MODEL.MOBILENET.*``.
detectron2's own keys keep their meaning: ``MODEL.RESNETS.*`` (depth, norm, stride_in_1x1, ...),
``MODEL.BACKBONE.FREEZE_AT`` (ResNet), ``MODEL.FPN.IN_FEATURES / OUT_CHANNELS / NORM / FUSE_TYPE``.

Pixel format: the converted torchvision / MobileNet ImageNet weights expect RGB normalised by the
ImageNet mean/std, i.e. ``INPUT.FORMAT "RGB"``, ``MODEL.PIXEL_MEAN [123.675, 116.28, 103.53]``,
``MODEL.PIXEL_STD [58.395, 57.12, 57.375]``; torchvision ResNets also need
``MODEL.RESNETS.STRIDE_IN_1X1 False`` (their bottlenecks stride in the 3x3 conv).
"""

from facelib.config import config_defaults


def add_backbone_config(cfg):
    """Add the backbone keys to ``cfg`` in place. Keys already present are left unchanged, so
    calling it twice (or after a YAML merge) is harmless."""
    _C = cfg

    # ---------------------------------------------------------------- FPN extra top levels
    fpn = config_defaults(_C.MODEL.FPN)
    # Number of extra pyramid levels above the last FPN.IN_FEATURES level (P6, P7 for a res5/C5
    # top). 2 = RetinaNet's P6+P7 (Lin et al., "Focal Loss", Sec. 4; detectron2 LastLevelP6P7);
    # 1 = P6 only; 0 = none (the pyramid ends at P5). The lowest level is set by FPN.IN_FEATURES
    # (res2.. -> P2..P7, res3.. -> P3..P7).
    fpn.TOP_LEVELS = 2
    # Input of the first extra level: "C5" = the last bottom-up feature feeding the FPN (res5 /
    # MobileNet stage3; RetinaNet, detectron2 LastLevelP6P7(in_feature="res5"), RetinaFace
    # Sec. 4.1 "P6 ... 3x3 conv with stride 2 on C5"); "P5" = the last FPN output (detectron2's
    # FCOS config, LastLevelP6P7(in_feature="p5")). Changes P6's input channels (C5: 2048 for R50,
    # 512 for R18, 256 for MobileNet-0.25; P5: FPN.OUT_CHANNELS).
    fpn.TOP_LEVELS_FROM = "C5"
    # How the extra levels are computed: "conv" = 3x3 stride-2 convs with a ReLU before every conv
    # but the first (LastLevelP6P7 generalised to TOP_LEVELS convs); "maxpool" = P6 as a stride-2
    # subsampling of P5 (original FPN / Faster R-CNN, detectron2 LastLevelMaxPool; needs
    # TOP_LEVELS 1 and TOP_LEVELS_FROM "P5").
    fpn.TOP_LEVELS_TYPE = "conv"
    # ---------------------------------------------------------------- VGG16
    vgg = config_defaults(_C.MODEL, "VGG")
    # Returned features, any of vgg_conv1..vgg_conv5 (outputs of the last conv of each block,
    # before its pool; strides 1, 2, 4, 8, 16). Faster R-CNN VGG16 (Ren et al. 2015; AOFD) uses
    # conv5_3 at stride 16 with no pool after conv5.
    vgg.OUT_FEATURES = ["vgg_conv5"]
    # Normalisation after every conv: "" (none, the original VGG16 and torchvision's vgg16
    # weights; convs then have a bias), or BN / SyncBN / FrozenBN / GN (convs without bias).
    vgg.NORM = ""
    # Freeze the first N conv blocks (0..5). 2 = conv1_x and conv2_x, as py-faster-rcnn's VGG16
    # prototxts (lr_mult 0 for conv1/conv2) and AOFD; frozen norms become FrozenBN.
    vgg.FREEZE_AT = 2
    # ---------------------------------------------------------------- MobileNetV1
    mnet = config_defaults(_C.MODEL, "MOBILENET")
    # Width multiplier (Howard et al. 2017, Sec. 3.3). 0.25 = RetinaFace-MobileNet0.25
    # (biubug6/Pytorch_Retinaface models/net.py MobileNetV1: channels 8..256) and the shared
    # ImageNet checkpoint (../shared/weights/mobilenet_v1_0.25_imagenet.pth.tar).
    mnet.WIDTH_MULT = 0.25
    # Activation after every conv: "relu" or "leaky_relu" (negative slope LEAKY_SLOPE).
    # Default "relu": the shared ImageNet checkpoint is biubug6's model_best.pth.tar
    # (mobilenetV1X0.25_pretrain.tar), committed with models/mobilev1.py whose conv_bn/conv_dw use
    # ReLU; its BN statistics confirm it (e.g. stage1.1.1.running_var is exactly 0 for the channels
    # that the stem's ReLU zeroes, impossible with LeakyReLU). Later Pytorch_Retinaface versions
    # fine-tune this checkpoint with LeakyReLU(0.1) ("leaky_relu").
    mnet.ACTIVATION = "relu"
    # Negative slope of "leaky_relu" (Pytorch_Retinaface conv_dw: leaky=0.1).
    mnet.LEAKY_SLOPE = 0.1
    # Normalisation after every conv: BN (RetinaFace trains BN with batch 32), FrozenBN, SyncBN,
    # GN (groups = gcd(32, channels), as 0.25x layers have 8 or 16 channels), or "".
    mnet.NORM = "BN"
    # Returned stages, also the FPN inputs of build_mobilenet_v1_fpn_backbone: stage1 (stride 8,
    # 64 ch at 0.25), stage2 (16, 128), stage3 (32, 256), Pytorch_Retinaface's return_layers.
    mnet.OUT_FEATURES = ["stage1", "stage2", "stage3"]
    # Freeze the first N stages (0..3). 0 = train everything, as RetinaFace does.
    mnet.FREEZE_AT = 0
    return cfg
