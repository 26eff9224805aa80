"""FAN (projects/FAN): anchor settings, attention targets / branch / loss, Eq. 1, configs, training."""
import glob
import math
import os

import pytest
import torch
from fvcore.nn import sigmoid_focal_loss_jit
from torch.nn import functional as F

import facelib  # noqa: F401
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_model
from detectron2.modeling.anchor_generator import build_anchor_generator
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from facelib.config import get_face_cfg
from facelib.modeling.dense_outputs import LossContext
from tiny_model import ROOT as REPO, config_from_file, seeded_model
from facelib.modeling.level_box_masks import level_size_ranges_from_scales, matched_level_masks, size_range_level_masks
from facelib.projects.fan import FAN, anchor_setting, apply_anchor_setting, apply_attention

TINY = os.path.join("configs", "fan_tiny_cpu.yaml")
STRIDES = [8, 16, 32, 64, 128]
R = 2 ** (1 / 3)


def _cfg(*opts):
    return config_from_file(TINY, *opts)


def _model(*opts):
    return seeded_model(_cfg(*opts))


def _batch(with_ignore=False):
    """Two fixed 128x128 images with faces of several scales."""
    g = torch.Generator().manual_seed(1)
    out = []
    for boxes in ([[8, 8, 28, 28], [40, 40, 80, 80]], [[10, 60, 110, 124], [70, 6, 94, 34]]):
        img = torch.rand(3, 128, 128, generator=g) * 60
        for x1, y1, x2, y2 in boxes:  # bright faces on a dark background
            img[:, y1:y2, x1:x2] += 150
        inst = Instances((128, 128))
        inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        inst.gt_classes = torch.zeros(len(boxes), dtype=torch.int64)
        if with_ignore:
            inst.gt_ignore = torch.tensor([False, True])
        out.append({"image": img, "instances": inst, "height": 128, "width": 128})
    return out


# ---------------------------------------------------------------------- anchor settings (Table 1)
@pytest.mark.parametrize(
    "name, first, last, ratios",
    [
        ("retinanet", [32, 32 * R, 32 * R * R], [512, 512 * R, 512 * R * R], [0.5, 1.0, 2.0]),
        ("fan", [16, 16 * R, 16 * R * R], [256, 256 * R, 256 * R * R], [1.0, 1.5]),
        ("dense", [8, 8 * R, 8 * R * R, 16], [256 * R, 256 * R * R, 512, 512 * R], [1.0, 1.5]),
    ],
)
def test_anchor_settings_sizes(name, first, last, ratios):
    s = anchor_setting(name)
    assert s["levels"] == [3, 4, 5, 6, 7] and len(s["sizes"]) == 5
    assert s["sizes"][0] == pytest.approx(first) and s["sizes"][-1] == pytest.approx(last)
    assert all(r == ratios for r in s["aspect_ratios"])
    flat = [x for lvl in s["sizes"] for x in lvl]
    if name != "retinanet":  # one log-spaced sequence with step 2^(1/3)
        assert all(b / a == pytest.approx(R) for a, b in zip(flat, flat[1:]))
    if name == "fan":  # areas 16^2 .. 406^2
        assert len(flat) == 15 and flat[-1] == pytest.approx(406.37, abs=0.01)
    if name == "dense":  # areas 8^2 .. 645^2
        assert len(flat) == 20 and flat[-1] == pytest.approx(645.08, abs=0.01)


@pytest.mark.parametrize("name, per_location", [("retinanet", 9), ("fan", 6), ("dense", 8)])
def test_anchor_settings_applied_to_generator(name, per_location):
    cfg = _cfg()
    apply_anchor_setting(cfg, name)
    shapes = [ShapeSpec(channels=64, stride=s) for s in STRIDES]
    gen = build_anchor_generator(cfg, shapes)
    assert gen.num_cell_anchors == [per_location] * 5
    feats = [torch.zeros(1, 64, 128 // s if s <= 128 else 1, 128 // s if s <= 128 else 1) for s in STRIDES]
    anchors = gen(feats)
    assert [len(a) for a in anchors] == [per_location * (128 // s) ** 2 for s in STRIDES]
    # P3 cell anchors: sqrt(area) equals the setting's sizes (area-preserving aspect ratios)
    cell = list(gen.cell_anchors)[0]
    scales = torch.sqrt((cell[:, 2] - cell[:, 0]) * (cell[:, 3] - cell[:, 1]))
    n_r = len(anchor_setting(name)["aspect_ratios"][0])
    assert scales[::n_r].tolist() == pytest.approx(anchor_setting(name)["sizes"][0])


def test_model_uses_anchor_setting_and_subset_of_levels():
    model = _model("MODEL.FAN.ANCHOR_SETTING", "dense")
    assert model.anchor_generator.num_cell_anchors == [8] * 5
    assert model.head.cls_score.out_channels == 8
    cfg = _cfg("MODEL.RETINANET.IN_FEATURES", ["p3", "p4", "p5", "p6"])
    apply_anchor_setting(cfg, "fan")
    assert len(cfg.MODEL.ANCHOR_GENERATOR.SIZES) == 4
    assert cfg.MODEL.ANCHOR_GENERATOR.SIZES[3] == pytest.approx([128, 128 * R, 128 * R * R])


# ---------------------------------------------------------------------- attention targets
def test_level_ranges_from_fan_anchors():
    ranges = level_size_ranges_from_scales(anchor_setting("fan")["sizes"])
    bounds = [16 * 2 ** (5 / 6) * 2**k for k in range(4)]  # sqrt(16 * 2^(2/3) * 32) = 28.51, ...
    assert ranges[0][0] == 0 and math.isinf(ranges[-1][1])
    assert [r[1] for r in ranges[:-1]] == pytest.approx(bounds)
    assert [r[0] for r in ranges[1:]] == pytest.approx(bounds)


def test_attention_targets_hand_made_image():
    ranges = level_size_ranges_from_scales(anchor_setting("fan")["sizes"])
    boxes = torch.tensor(
        [
            [8.0, 8.0, 28.0, 28.0],  # scale 20   -> P3 (stride 8): cols / rows 1..3
            [40.0, 40.0, 80.0, 80.0],  # scale 40 -> P4 (stride 16): cols / rows 2..4
            [0.0, 0.0, 100.0, 100.0],  # scale 100 -> P5 (stride 32): cols / rows 0..3
            [20.0, 90.0, 60.0, 94.0],  # 40 x 4 = scale 12.6 -> P3: cols 2..7, row 11
        ]
    )
    ignore = torch.tensor([[64.0, 64.0, 84.0, 84.0], [8.0, 8.0, 28.0, 28.0]])  # both scale 20 -> P3
    t = size_range_level_masks(boxes, (128, 128), STRIDES, ranges, ignore_boxes=ignore)
    assert [tuple(x.shape) for x in t] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]

    def filled(h, w, cells, value=1.0):
        m = torch.zeros(h, w)
        for rows, cols in cells:
            m[rows, cols] = value
        return m

    p3 = filled(16, 16, [(slice(1, 4), slice(1, 4)), (slice(11, 12), slice(2, 8))])
    p3[8:11, 8:11] = -1  # ignored face; the other ignored box is covered by a real face (stays 1)
    assert torch.equal(t[0], p3)
    assert torch.equal(t[1], filled(8, 8, [(slice(2, 5), slice(2, 5))]))
    assert torch.equal(t[2], filled(4, 4, [(slice(0, 4), slice(0, 4))]))
    assert t[3].sum() == 0 and t[4].sum() == 0
    # a huge face lands on P7; explicit map sizes are honoured
    t = size_range_level_masks(torch.tensor([[0.0, 0.0, 300.0, 300.0]]), (320, 320), STRIDES, ranges,
                          map_sizes=[(40, 40), (20, 20), (10, 10), (5, 5), (3, 3)])
    assert [float(x.sum()) for x in t] == [0, 0, 0, 0, 9.0]


def _train_ctx(model, batch):
    images = model.preprocess_image(batch)
    feats = model.forward_features(images)
    return model.loss_context(images, feats, model.head_outputs(feats), [b["instances"] for b in batch])


def test_model_size_range_targets_respect_gt_ignore():
    model = _model("MODEL.FAN.ATTENTION_TARGETS", "size_ranges")
    ctx = _train_ctx(model, _batch(with_ignore=True))
    logits = ctx.outputs["attention"]
    t = model.attention_targets(ctx)
    assert [tuple(x.shape) for x in t] == [(2,) + tuple(z.shape[-2:]) for z in logits]
    # image 0: face [8, 8, 28, 28] (scale 20) on P3, ignored face [40, 40, 80, 80] (scale 40) on P4
    assert t[0][0, 1:4, 1:4].eq(1).all() and t[0][0].eq(1).sum() == 9 and not t[0][0].eq(-1).any()
    assert t[1][0, 2:5, 2:5].eq(-1).all() and not t[1][0].eq(1).any()
    model.gt_ignore_mode = "drop"
    t = model.attention_targets(ctx)
    assert not t[1][0].ne(0).any()


def test_matched_attention_targets_hand_made():
    """Two levels (strides 8, 16) of 4 and 2 anchors; face A is matched on both levels, face B on
    level 0 only, face C (its box is in matched_boxes of a negative anchor) on none."""
    a, b, c = [8.0, 8.0, 24.0, 24.0], [0.0, 40.0, 8.0, 48.0], [40.0, 0.0, 60.0, 20.0]
    matched = torch.tensor([a, b, a, c, a, c])
    positive = torch.tensor([True, True, True, False, True, False])
    ignore = torch.tensor([[48.0, 48.0, 56.0, 56.0]])
    t = matched_level_masks(matched, positive, [4, 2], [8, 16], [(8, 8), (4, 4)], ignore_boxes=ignore)
    p0 = torch.zeros(8, 8)
    p0[1:3, 1:3] = 1  # A: x, y 8..24 -> cells 1..2
    p0[5, 0] = 1  # B: x 0..8, y 40..48 -> column 0, row 5
    p0[6, 6] = -1  # ignored face: cells 6 on every level
    p1 = torch.zeros(4, 4)
    p1[0:2, 0:2] = 1  # A on stride 16: cells 0..1
    p1[3, 3] = -1
    assert torch.equal(t[0], p0) and torch.equal(t[1], p1)
    with pytest.raises(ValueError, match="levels"):
        matched_level_masks(matched, positive, [4, 3], [8, 16], [(8, 8), (4, 4)])


def test_model_matched_targets_follow_the_assignment():
    """"matched" mode draws exactly the faces of each level's positive anchors."""
    model = _model()
    assert model.attention_targets_mode == "matched"
    ctx = _train_ctx(model, _batch())
    t = model.attention_targets(ctx)
    sizes = [len(a) for a in ctx.anchors]
    for i in range(2):
        labels = ctx.gt_labels[i]
        pos = (labels >= 0) & (labels != model.num_classes)
        for k, (lab_k, box_k) in enumerate(zip(pos.split(sizes), ctx.gt_boxes[i].split(sizes))):
            faces = torch.unique(box_k[lab_k], dim=0)
            stride = model.anchor_generator.strides[k]
            want = torch.zeros(t[k].shape[1:])
            for x1, y1, x2, y2 in faces.tolist():
                want[int(y1 // stride):math.ceil(y2 / stride), int(x1 // stride):math.ceil(x2 / stride)] = 1
            assert torch.equal(t[k][i], want), (i, k)
    assert sum(float(x.eq(1).sum()) for x in t) > 0


def test_no_low_quality_positives_in_fan_configs():
    """Sec. 3.2.1: a face whose best anchor has IoU < 0.5 gets no positive anchor (left out)."""
    for name in ("fan_R50.yaml", "fan_mnet025_facemask.yaml"):
        assert not config_from_file(os.path.join("configs", name)).MODEL.FACE_RETINANET.ALLOW_LOW_QUALITY_MATCHES
    anchors = ("MODEL.FAN.ANCHOR_SETTING", "", "MODEL.ANCHOR_GENERATOR.SIZES", [[16], [32], [64], [128], [256]],
               "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", [[1.0]])
    inst = Instances((128, 128))
    inst.gt_boxes = Boxes(torch.tensor([[0.0, 0.0, 16.0, 40.0]]))  # 16 x 40: IoU with a 16^2 anchor 0.4
    inst.gt_classes = torch.zeros(1, dtype=torch.int64)
    num_positives = {}
    for low_quality in (False, True):
        model = _model("MODEL.FACE_RETINANET.ALLOW_LOW_QUALITY_MATCHES", low_quality, *anchors)
        feats = [torch.zeros(1, 1, 128 // s, 128 // s) for s in STRIDES]
        labels, _ = model.label_anchors(model.anchor_generator(feats), [inst])
        num_positives[low_quality] = int(((labels[0] >= 0) & (labels[0] != model.num_classes)).sum())
    assert num_positives[False] == 0 and num_positives[True] >= 1, num_positives


def test_focal_normalisers_by_hand():
    """Zero logits (p = 0.5): a negative's focal loss is 0.75 * 0.5^2 * ln 2, a positive's
    0.25 * 0.5^2 * ln 2. 1000 negatives, 2 positives, 8 ignored on one level: "anchors" divides the
    sum by the 1002 participating anchors, "positives" by 2 -- 500 times more."""
    model = _model("MODEL.FAN.ANCHOR_SETTING", "", "MODEL.RETINANET.IN_FEATURES", ["p3"],
                   "MODEL.ANCHOR_GENERATOR.SIZES", [[16]], "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", [[1.0]])
    r = 1010
    anchors = [Boxes(torch.tensor([[0.0, 0.0, 16.0, 16.0]]).repeat(r, 1))]
    labels = torch.full((r,), model.num_classes, dtype=torch.int64)
    labels[:2] = 0
    labels[2:10] = -1
    ctx = LossContext(images=None, features=None, outputs=None, gt_instances=None, anchors=anchors,
                      pred_logits=[torch.zeros(1, r, 1)], pred_deltas=[torch.zeros(1, r, 4)],
                      gt_labels=[labels], gt_boxes=[anchors[0].tensor.clone()])
    ln2 = math.log(2.0)
    total = 1000 * 0.75 * 0.25 * ln2 + 2 * 0.25 * 0.25 * ln2
    with EventStorage():
        model.cls_loss_normalizer = "anchors"
        out_anchors = model.losses(ctx)
        model.cls_loss_normalizer = "positives"
        out_pos = model.losses(ctx)
    assert float(out_anchors["loss_cls"]) == pytest.approx(total / 1002, rel=1e-5)  # 0.1301
    assert float(out_pos["loss_cls"]) == pytest.approx(total / 2, rel=1e-5)  # 65.2
    assert float(out_anchors["loss_box_reg"]) == float(out_pos["loss_box_reg"]) == 0.0  # deltas exact


# ---------------------------------------------------------------------- attention branch
@pytest.mark.parametrize("mode", ["exp", "plain"])
def test_attention_scales_features(mode):
    model = _model("MODEL.FAN.ATTENTION_MODE", mode)
    head = model.head
    torch.nn.init.zeros_(head.attention.attention_logits.weight)
    torch.nn.init.constant_(head.attention.attention_logits.bias, 0.3)
    feats = [torch.randn(2, 64, n, n) for n in (16, 8, 4, 2, 1)]
    out = head(feats)
    logits, deltas, att = out.logits, out.deltas, out["attention"]
    m = torch.sigmoid(torch.tensor(0.3))
    factor = torch.exp(m) if mode == "exp" else m
    exp_logits, exp_deltas = RetinaNetHead.forward(head, [f * factor for f in feats])
    for a, b in zip(logits + deltas, exp_logits + exp_deltas):
        assert torch.allclose(a, b, atol=1e-6)
    assert all(torch.allclose(z, torch.full_like(z, 0.3)) for z in att)
    # apply_attention on its own
    z = [torch.randn(2, 1, 4, 4)]
    f = [torch.randn(2, 3, 4, 4)]
    ref = f[0] * (torch.exp(torch.sigmoid(z[0])) if mode == "exp" else torch.sigmoid(z[0]))
    assert torch.allclose(apply_attention(f, z, mode)[0], ref)


def test_losses_present_finite_and_eq1_normalisation():
    model = _model()
    model.train()
    losses = model(_batch())
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_attention"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.head.attention.attention_logits.weight.grad is not None

    # Eq. 1 recomputed by hand ("anchors"): focal loss per level / participating anchors of the
    # level, smooth L1 per level / positives of the level
    model.cls_loss_normalizer = "anchors"
    batch = _batch()
    images = model.preprocess_image(batch)
    feats = model.forward_features(images)
    preds = model.head_outputs(feats)
    pred_logits, pred_deltas = model.transpose_predictions(preds)
    anchors = model.anchor_generator(feats)
    gts = [b["instances"] for b in batch]
    gt_labels, gt_boxes = model.label_anchors(anchors, gts)
    labels = torch.stack(gt_labels)
    ctx = LossContext(images=images, features=feats, outputs=preds, gt_instances=gts, anchors=anchors,
                      pred_logits=pred_logits, pred_deltas=pred_deltas, gt_labels=gt_labels, gt_boxes=gt_boxes)
    out = model.losses(ctx)
    cls_ref, reg_ref, start = 0.0, 0.0, 0
    for k, a in enumerate(anchors):
        lab = labels[:, start:start + len(a)]
        valid, pos = lab >= 0, (lab >= 0) & (lab != model.num_classes)
        tgt = (lab[valid] == 0).float()[:, None]
        cls_ref += float(sigmoid_focal_loss_jit(pred_logits[k].detach()[valid], tgt, alpha=0.25, gamma=2.0,
                                                reduction="sum")) / max(int(valid.sum()), 1)
        if pos.any():
            d = torch.stack([model.box2box_transform.get_deltas(a.tensor, g[start:start + len(a)]) for g in gt_boxes])
            reg_ref += float(F.smooth_l1_loss(pred_deltas[k].detach()[pos], d[pos], beta=model.smooth_l1_beta,
                                              reduction="sum")) / int(pos.sum())
        start += len(a)
    assert float(out["loss_cls"]) == pytest.approx(cls_ref, rel=1e-4)
    assert float(out["loss_box_reg"]) == pytest.approx(reg_ref, rel=1e-4)
    # RetinaNet's normaliser: all levels' focal loss / all positives
    model.cls_loss_normalizer = "positives"
    out_pos = model.losses(ctx)
    assert float(out_pos["loss_cls"]) > float(out["loss_cls"])


def test_attention_off_is_plain_baseline():
    model = _model("MODEL.FAN.ATTENTION_ON", False)
    assert not any("attention" in n for n, _ in model.named_parameters())
    model.train()
    losses = model(_batch())
    assert set(losses) == {"loss_cls", "loss_box_reg"}
    assert not model.head_outputs(model.forward_features(model.preprocess_image(_batch()))).extras


def test_attention_off_with_retinanet_losses_equals_face_retinanet():
    """ATTENTION_ON False + CLS_LOSS_NORMALIZER "retinanet" is exactly the FaceRetinaNet baseline:
    same parameters, same losses on the same batch (so the CPU comparison isolates attention)."""
    anchors = ("MODEL.FAN.ANCHOR_SETTING", "", "MODEL.ANCHOR_GENERATOR.SIZES", [[16], [32], [64], [128], [256]],
               "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", [[1.0, 1.5]])
    fan = _model("MODEL.FAN.ATTENTION_ON", False, "MODEL.FAN.CLS_LOSS_NORMALIZER", "retinanet", *anchors)
    base = _model("MODEL.META_ARCHITECTURE", "FaceRetinaNet", *anchors)
    assert sorted(fan.state_dict()) == sorted(base.state_dict())
    base.load_state_dict(fan.state_dict())
    fan.train()
    base.train()
    from detectron2.utils.events import EventStorage

    with EventStorage():
        lf, lb = fan(_batch()), base(_batch())
    assert set(lf) == set(lb) == {"loss_cls", "loss_box_reg"}
    for k in lf:
        assert torch.allclose(lf[k], lb[k]), (k, lf[k], lb[k])


def test_attention_loss_falls_when_training_fixed_batch():
    model = _model()
    model.train()
    batch = _batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = []
    for _ in range(12):
        losses = model(batch)
        history.append(float(losses["loss_attention"]))
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert all(math.isfinite(x) for x in history)
    assert history[-1] < 0.7 * history[0], history


def test_inference_returns_instances():
    model = _model()
    model.eval()
    with torch.no_grad():
        out = model([{"image": b["image"], "height": 256, "width": 200} for b in _batch()])
    assert len(out) == 2
    inst = out[0]["instances"]
    assert isinstance(inst, Instances) and inst.image_size == (256, 200)
    assert {"pred_boxes", "scores", "pred_classes"} <= set(inst.get_fields())


# ---------------------------------------------------------------------- configs and end to end
FAN_CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "fan_*.yaml")))


def test_all_fan_configs_present():
    names = {os.path.basename(p) for p in FAN_CONFIGS}
    assert {"fan_R50.yaml", "fan_R50_facemask_scratch.yaml", "fan_mnet025_facemask.yaml",
            "fan_mnet025_facemask_noattn.yaml", "fan_tiny_cpu.yaml"} <= names


@pytest.mark.parametrize("path", FAN_CONFIGS, ids=os.path.basename)
def test_fan_config_merges(path):
    cfg = get_face_cfg()
    cfg.merge_from_file(path)
    assert cfg.MODEL.META_ARCHITECTURE == "FAN"
    assert cfg.MODEL.FAN.ATTENTION_ON == ("noattn" not in path)
    if "mnet025" in path:  # same model / schedule as the RetinaNet baseline, its anchors kept
        base = get_face_cfg()
        base.merge_from_file(os.path.join(REPO, "configs", "retinanet_mnet025_facemask.yaml"))
        assert cfg.MODEL.FAN.ANCHOR_SETTING == ""
        for key in ("MODEL.BACKBONE", "MODEL.ANCHOR_GENERATOR", "MODEL.FPN", "INPUT", "SOLVER", "DATASETS"):
            a, b = cfg, base
            for part in key.split("."):
                a, b = a[part], b[part]
            assert a == b, key
        model = build_model(cfg.clone())  # builds (weights are not loaded by build_model)
        assert isinstance(model, FAN) and model.anchor_generator.num_cell_anchors == [2] * 4


def test_train_net_end_to_end_tiny(tmp_path):
    """tools/train_net.py's path: FaceTrainer, 5 iterations on synthetic_faces_tiny, then evaluation."""
    from facelib.data import register_all_facelib_datasets
    from facelib.engine import FaceTrainer

    cfg = _cfg("OUTPUT_DIR", str(tmp_path / "out"))
    register_all_facelib_datasets()
    trainer = FaceTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    hist = trainer.storage.history("loss_attention").values()
    assert len(hist) == 5 and all(math.isfinite(v) for v, _ in hist)
    res = os.path.join(cfg.OUTPUT_DIR, "inference", "synthetic_faces_tiny", "wider_face_results.json")
    assert os.path.isfile(res)  # the evaluation ran on FAN's Instances
