"""DF²S² (projects/DF2S2): the shared tower, the segmentation branch (targets by hand, absent at
inference), Eq. 2's terms, the all-off model equals FaceRetinaNet, a few training steps."""
import math
import os

import pytest
import torch
from torch import nn

from detectron2.utils.events import EventStorage

from tiny_model import assert_branch_absent_at_inference, assert_same_as_baseline, bright_face_batch, config_from_file, seeded_model, train_on_batch
from facelib.projects.df2s2 import DF2S2, DF2S2Head

TINY = os.path.join("configs", "df2s2_tiny_cpu.yaml")
ALL_OFF = ("MODEL.DF2S2.FUSE", False, "MODEL.DF2S2.SEG.ENABLED", False, "MODEL.DF2S2.SHARED_TOWER", False,
           "MODEL.DF2S2.HEAD_INIT", "normal", "MODEL.DF2S2.CLS_LOSS_NORMALIZER", "retinanet")


def _model(*opts):
    return seeded_model(config_from_file(TINY, *opts))


def _batch():
    """Two 128x128 images: a 40 px and a 100 px face, and one 100x64 face."""
    return bright_face_batch([[[8, 8, 48, 48], [10, 10, 110, 110]], [[10, 60, 110, 124]]])


def _losses(model, batch=None):
    model.train()
    with EventStorage():
        return model(batch or _batch())


def test_shared_tower_and_three_prediction_convs():
    """Sec. 3.1-3.2: one tower for class, box and segmentation; only the last convs differ."""
    model = _model()
    head = model.head
    assert isinstance(model, DF2S2) and isinstance(head, DF2S2Head)
    assert head.bbox_subnet is None
    tower = [m for m in head.cls_subnet.modules() if isinstance(m, nn.Conv2d)]
    assert len(tower) == 1 and tower[0].out_channels == 64
    assert (head.cls_score.out_channels, head.bbox_pred.out_channels, head.seg_pred.out_channels) == (2, 8, 1)
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4  # tower + class + box + segmentation
    # gradients of every output reach the tower
    for name in ("loss_cls", "loss_box_reg", "loss_seg"):
        model.zero_grad()
        _losses(model)[name].backward()
        assert tower[0].weight.grad.abs().sum() > 0, name
    separate = _model("MODEL.DF2S2.SHARED_TOWER", False).head
    n_tower = len(list(head.cls_subnet.parameters()))
    assert separate.bbox_subnet is not None and len(list(separate.parameters())) == len(list(head.parameters())) + n_tower


def test_xavier_init_and_focal_prior():
    head = _model().head
    prior = -math.log(0.99 / 0.01)
    assert torch.allclose(head.cls_score.bias, torch.full_like(head.cls_score.bias, prior))
    w = head.cls_subnet[0].weight
    bound = math.sqrt(6.0 / (w.shape[1] * 9 + w.shape[0] * 9))  # xavier-uniform bound of a 3x3 conv
    assert float(w.abs().max()) <= bound and float(w.std()) > 0.5 * bound / math.sqrt(3)
    normal = _model("MODEL.DF2S2.HEAD_INIT", "normal").head.cls_subnet[0].weight
    assert float(normal.std()) == pytest.approx(0.01, rel=0.1)
    with pytest.raises(ValueError, match="HEAD_INIT"):
        _model("MODEL.DF2S2.HEAD_INIT", "kaiming")


def test_segmentation_targets_by_receptive_field_hand_made():
    """Anchors of 32 .. 512 px on P3..P7 (one scale per level): face scales split at the geometric
    means 45.3, 90.5, 181, 362. The 40 px face is drawn on P3 (stride 8: cells 1..5), the 100 px one
    on P5 (stride 32: cells 0..3); the 100x64 face of image 1 (scale 80) on P4 (stride 16: columns
    0..6, rows 3..7)."""
    model = _model()
    assert [tuple(round(x, 1) for x in r) for r in model.seg_size_ranges[:3]] == [(0.0, 45.3), (45.3, 90.5), (90.5, 181.0)]
    model.train()
    batch = _batch()
    with torch.no_grad(), EventStorage():
        images = model.preprocess_image(batch)
        feats = model.forward_features(images)
        ctx = model.loss_context(images, feats, model.head_outputs(feats), [b["instances"] for b in batch])
        t = model.segmentation_targets(ctx)
    assert [tuple(x.shape) for x in t] == [(2, 16, 16), (2, 8, 8), (2, 4, 4), (2, 2, 2), (2, 1, 1)]
    p3 = torch.zeros(16, 16)
    p3[1:6, 1:6] = 1
    p5 = torch.zeros(4, 4)
    p5[0:4, 0:4] = 1
    assert torch.equal(t[0][0], p3) and torch.equal(t[2][0], p5)
    assert t[1][0].sum() == 0 and t[3][0].sum() == 0 and t[4][0].sum() == 0
    p4 = torch.zeros(8, 8)
    p4[3:8, 0:7] = 1
    assert torch.equal(t[1][1], p4) and t[0][1].sum() == 0 and t[2][1].sum() == 0


def test_segmentation_loss_weight_and_absence_at_inference():
    base = _losses(_model())
    heavier = _losses(_model("MODEL.DF2S2.SEG.LOSS_WEIGHT", 0.5))
    assert float(heavier["loss_seg"]) == pytest.approx(10 * float(base["loss_seg"]), rel=1e-5)
    assert float(heavier["loss_cls"]) == pytest.approx(float(base["loss_cls"]), rel=1e-6)
    assert "loss_seg" not in _losses(_model("MODEL.DF2S2.SEG.ENABLED", False))
    model = _model()
    unexpected, _ = assert_branch_absent_at_inference(
        model, _model("MODEL.DF2S2.SEG.ENABLED", False), model.head.seg_pred, _batch())
    assert sorted(unexpected) == ["head.seg_pred.bias", "head.seg_pred.weight"]


def test_eq2_classification_normaliser_switch():
    """"anchors" divides each level's focal loss by its participating anchors (Eq. 2 as written),
    "positives" all levels' by all positives: on the same batch the first is far smaller."""
    pos = _losses(_model())
    anchors = _losses(_model("MODEL.DF2S2.CLS_LOSS_NORMALIZER", "anchors"))
    assert float(anchors["loss_box_reg"]) == pytest.approx(float(pos["loss_box_reg"]), rel=1e-6)
    assert float(anchors["loss_cls"]) < 0.2 * float(pos["loss_cls"])
    with pytest.raises(ValueError, match="CLS_LOSS_NORMALIZER"):
        _model("MODEL.DF2S2.CLS_LOSS_NORMALIZER", "all")


def test_all_modules_off_equals_face_retinanet():
    assert_same_as_baseline(_model(*ALL_OFF), _model(*ALL_OFF, "MODEL.META_ARCHITECTURE", "FaceRetinaNet"), _batch())


def test_training_steps_lower_the_losses():
    hist = train_on_batch(_model(), _batch(), steps=8, lr=0.01)
    for k in ("loss_cls", "loss_box_reg", "loss_seg"):
        assert hist[-1][k] < hist[0][k], (k, [h[k] for h in hist])


@pytest.mark.parametrize("name", ["df2s2_R50.yaml", "df2s2_mnet025_facemask.yaml"])
def test_method_configs_build(name):
    cfg = config_from_file(os.path.join("configs", name), "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu")
    model = seeded_model(cfg)
    assert isinstance(model, DF2S2) and model.head.seg_pred is not None
    gen = model.anchor_generator
    if name == "df2s2_R50.yaml":
        assert model.head_in_features == ["p2", "p3", "p4", "p5", "p6", "p7"] and gen.num_cell_anchors == [2] * 6
        assert cfg.SOLVER.MAX_ITER == 48300 and tuple(cfg.SOLVER.STEPS) == (32200, 40250)
        h = [float(c[0, 3] - c[0, 1]) for c in gen.cell_anchors]
        assert h == pytest.approx([16, 32, 64, 128, 256, 512], rel=1e-4)
