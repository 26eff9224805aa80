"""FaceRetinaNet: gt_ignore-aware label assignment, losses, a few training steps, inference format."""
import pytest
import torch
from torch import nn

import facelib  # noqa: F401
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone, build_model
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from facelib.modeling.face_retinanet import FaceRetinaNet
from facelib.modeling.retinanet_config import add_face_retinanet_config
from facelib.modeling.tta import FaceDetectorWithTTA, add_face_tta_config


class _ToyFaceRetinaBackbone(Backbone):
    """Two convs: p3 (stride 8) and p4 (stride 16), 8 channels."""

    def __init__(self, cfg=None, input_shape=None):
        super().__init__()
        self.c3 = nn.Conv2d(3, 8, kernel_size=8, stride=8)
        self.c4 = nn.Conv2d(8, 8, kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        p3 = torch.relu(self.c3(x))
        return {"p3": p3, "p4": torch.relu(self.c4(p3))}

    def output_shape(self):
        return {"p3": ShapeSpec(channels=8, stride=8), "p4": ShapeSpec(channels=8, stride=16)}


def ToyFaceRetinaBackbone(cfg, input_shape):
    return _ToyFaceRetinaBackbone(cfg, input_shape)


if "ToyFaceRetinaBackbone" not in BACKBONE_REGISTRY:
    BACKBONE_REGISTRY.register(ToyFaceRetinaBackbone)


def _cfg(**face):
    cfg = add_face_tta_config(add_face_retinanet_config(get_cfg()))
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "FaceRetinaNet"
    cfg.MODEL.BACKBONE.NAME = "ToyFaceRetinaBackbone"
    cfg.MODEL.PIXEL_MEAN = [0.0, 0.0, 0.0]
    cfg.MODEL.PIXEL_STD = [255.0, 255.0, 255.0]
    cfg.MODEL.RETINANET.IN_FEATURES = ["p3", "p4"]
    cfg.MODEL.RETINANET.NUM_CONVS = 1
    cfg.MODEL.ANCHOR_GENERATOR.NAME = "FaceAnchorGenerator"
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16], [32]]
    cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS = [[1.0, 1.5]]
    cfg.MODEL.ANCHOR_GENERATOR.OFFSETS = [0.5, 0.5]
    for k, v in face.items():
        cfg.MODEL.FACE_RETINANET[k] = v
    return cfg


def _model(cfg=None):
    model = build_model(cfg or _cfg())
    assert isinstance(model, FaceRetinaNet)
    return model


# ---------------------------------------------------------------- label assignment
# faces: A (valid), B (ignored), A2 (valid) and B2 (ignored, overlapping A2)
GT = torch.tensor(
    [[0, 0, 10, 10], [50, 50, 60, 60], [300, 0, 310, 10], [300, 0, 310, 12]], dtype=torch.float32
)
IGNORE = torch.tensor([False, True, False, True])
ANCHORS = torch.tensor(
    [
        [0, 0, 10, 10],  # a0: IoU(A) = 1                          -> positive
        [0, 0, 10, 20],  # a1: IoU(A) = 100/200 = 0.5              -> positive (>= 0.5)
        [0, 0, 10, 22.5],  # a2: IoU(A) = 100/225 = 0.444          -> ignored band (-1)
        [0, 0, 10, 26],  # a3: IoU(A) = 100/260 = 0.385            -> negative (< 0.4)
        [50, 50, 60, 60],  # a4: IoU(B) = 1, B ignored             -> -1
        [50, 50, 60, 72],  # a5: IoU(B) = 100/220 = 0.455 >= 0.4   -> -1
        [50, 50, 60, 76],  # a6: IoU(B) = 100/260 = 0.385 < 0.4    -> negative
        [100, 100, 110, 110],  # a7: far from every face           -> negative
        [300, 0, 310, 11],  # a8: IoU(A2) = 0.909 < IoU(B2) = 0.917 -> best match ignored -> -1
        [300, 0, 310, 10],  # a9: IoU(A2) = 1 > IoU(B2) = 0.833    -> positive
    ],
    dtype=torch.float32,
)


def _gt_instances(ignore=IGNORE):
    inst = Instances((400, 400))
    inst.gt_boxes = Boxes(GT.clone())
    inst.gt_classes = torch.zeros(len(GT), dtype=torch.int64)
    inst.gt_ignore = ignore.clone()
    return inst


def test_label_anchors_honours_gt_ignore():
    model = _model()
    labels, boxes = model.label_anchors([Boxes(ANCHORS)], [_gt_instances()])
    bg = model.num_classes  # 1
    assert labels[0].tolist() == [0, 0, -1, bg, -1, -1, bg, bg, -1, 0]
    torch.testing.assert_close(boxes[0][[0, 1, 9]], GT[[0, 0, 2]])


def test_label_anchors_ignore_modes():
    bg = 1
    keep = _model(_cfg(GT_IGNORE_MODE="keep"))
    labels, _ = keep.label_anchors([Boxes(ANCHORS)], [_gt_instances()])
    # ignored faces are ordinary faces: a4 positive, a5 (0.455) in the ignore band, a8 positive (B2)
    assert labels[0].tolist() == [0, 0, -1, bg, 0, -1, bg, bg, 0, 0]
    drop = _model(_cfg(GT_IGNORE_MODE="drop"))
    labels, _ = drop.label_anchors([Boxes(ANCHORS)], [_gt_instances()])
    # ignored faces are removed: their anchors are negatives; a8 matches A2 (0.909) -> positive
    assert labels[0].tolist() == [0, 0, -1, bg, bg, bg, bg, bg, 0, 0]


def test_label_anchors_without_gt_ignore_field_and_only_ignored_faces():
    model = _model()
    inst = _gt_instances()
    inst.remove("gt_ignore")
    labels, _ = model.label_anchors([Boxes(ANCHORS)], [inst])
    assert labels[0][4].item() == 0  # no field: every face is a target
    only_ignored = _gt_instances(torch.ones(4, dtype=torch.bool))
    labels, _ = model.label_anchors([Boxes(ANCHORS)], [only_ignored])
    assert (labels[0] != 0).all()  # no positives at all
    assert labels[0].tolist() == [-1, -1, -1, 1, -1, -1, 1, 1, -1, -1]
    empty = Instances((400, 400), gt_boxes=Boxes(torch.zeros(0, 4)), gt_classes=torch.zeros(0, dtype=torch.int64))
    labels, _ = model.label_anchors([Boxes(ANCHORS)], [empty])
    assert (labels[0] == 1).all()


# ---------------------------------------------------------------- training
def _batch():
    torch.manual_seed(0)
    images, insts = [], []
    for boxes, ignore in (
        ([[8, 8, 28, 30], [36, 30, 60, 62]], [False, False]),
        ([[20, 16, 44, 48], [0, 50, 10, 60]], [False, True]),
    ):
        img = torch.zeros(3, 64, 64)
        for (x0, y0, x1, y1), ign in zip(boxes, ignore):
            img[:, y0:y1, x0:x1] = 200.0
        inst = Instances((64, 64))
        inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        inst.gt_classes = torch.zeros(len(boxes), dtype=torch.int64)
        inst.gt_ignore = torch.tensor(ignore)
        images.append({"image": img, "instances": inst, "height": 64, "width": 64})
        insts.append(inst)
    return images


@pytest.mark.parametrize("reg_type", ["smooth_l1", "l1", "giou"])
def test_losses_finite(reg_type):
    cfg = _cfg()
    cfg.MODEL.RETINANET.BBOX_REG_LOSS_TYPE = reg_type
    model = _model(cfg)
    model.train()
    with EventStorage():
        losses = model(_batch())
    assert set(losses) == {"loss_cls", "loss_box_reg"}
    for v in losses.values():
        assert torch.isfinite(v) and v.item() > 0
    sum(losses.values()).backward()


def test_loss_weights_and_no_event_storage_needed():
    model = _model(_cfg(LOSS_BOX_REG_WEIGHT=0.0, LOSS_CLS_WEIGHT=2.0))
    model.train()
    losses = model(_batch())  # no EventStorage open: scalars are just not logged
    assert losses["loss_box_reg"].item() == 0.0 and losses["loss_cls"].item() > 0


def test_tiny_model_loss_falls():
    # momentum 0: the normaliser is the number of positives of the (fixed) batch, so losses compare
    model = _model(_cfg(LOSS_NORMALIZER_MOMENTUM=0.0))
    model.train()
    batch = _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = []
    with EventStorage():
        for _ in range(25):
            losses = model(batch)
            loss = sum(losses.values())
            history.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert all(map(lambda v: v == v, history))
    assert history[-1] < 0.7 * history[0], history


# ---------------------------------------------------------------- inference
def test_inference_format_original_coordinates():
    cfg = _cfg()
    cfg.MODEL.RETINANET.SCORE_THRESH_TEST = 0.0
    cfg.TEST.DETECTIONS_PER_IMAGE = 7
    model = _model(cfg)
    model.eval()
    img = _batch()[0]["image"]
    with torch.no_grad():
        (raw,) = model([{"image": img}])
        (orig,) = model([{"image": img, "height": 128, "width": 96}])
    for out, size in ((raw, (64, 64)), (orig, (128, 96))):
        inst = out["instances"]
        assert isinstance(inst, Instances) and inst.image_size == size
        assert set(inst.get_fields()) == {"pred_boxes", "scores", "pred_classes"}
        assert 0 < len(inst) <= 7
        assert (inst.pred_classes == 0).all()
        b = inst.pred_boxes.tensor
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= size[1]).all() and (b[:, 3] <= size[0]).all()
    scale = torch.tensor([96 / 64, 128 / 64, 96 / 64, 128 / 64])
    torch.testing.assert_close(orig["instances"].pred_boxes.tensor, raw["instances"].pred_boxes.tensor * scale)
    torch.testing.assert_close(orig["instances"].scores, raw["instances"].scores)


def test_tta_wraps_face_retinanet():
    cfg = _cfg()
    cfg.MODEL.RETINANET.SCORE_THRESH_TEST = 0.0
    cfg.TEST.FACE_TTA.MIN_SIZES = (48, 64)
    cfg.TEST.FACE_TTA.SCALE_RANGES = [(-1, -1), (-1, -1)]
    cfg.TEST.FACE_TTA.MERGE = "nms"
    model = _model(cfg)
    model.train()
    tta = FaceDetectorWithTTA(cfg, model)
    (out,) = tta([{"image": _batch()[0]["image"], "height": 64, "width": 64}])
    inst = out["instances"]
    assert inst.image_size == (64, 64) and len(inst) > 0
    assert set(inst.get_fields()) == {"pred_boxes", "scores", "pred_classes"}
    assert model.training  # the wrapper restores the wrapped model's mode


def test_config_registered_and_idempotent():
    from facelib.config import _CONFIG_EXTENSIONS

    assert add_face_retinanet_config in _CONFIG_EXTENSIONS and add_face_tta_config in _CONFIG_EXTENSIONS
    cfg = _cfg(GT_IGNORE_MODE="drop")
    add_face_retinanet_config(cfg)  # re-applying keeps values already set
    assert cfg.MODEL.FACE_RETINANET.GT_IGNORE_MODE == "drop"
    assert cfg.MODEL.RETINANET.NUM_CLASSES == 1
    for key in ("RATIO_MODE", "OFFSETS", "OCTAVE_BASE", "SCALES_PER_OCTAVE", "NUM_SCALES"):
        assert key in cfg.MODEL.ANCHOR_GENERATOR
    with pytest.raises(ValueError):
        _model(_cfg(GT_IGNORE_MODE="maybe"))


def test_hooks_extend_without_copying():
    class _WithExtra(FaceRetinaNet):
        def extra_losses(self, ctx):
            assert not ctx.outputs.extras and len(ctx.anchors) == len(ctx.features) == 2
            assert len(ctx.gt_labels) == len(ctx.gt_instances) == len(ctx.images)
            return {"loss_extra": sum(p.sum() for p in ctx.outputs.logits) * 0.0}

    model = _WithExtra(_cfg())
    model.train()
    losses = model(_batch())
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_extra"}
