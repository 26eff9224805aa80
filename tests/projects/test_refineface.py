"""RefineFace (projects/RefineFace): anchors, STC filter, STR refinement and matching, SML margins,
RFE, FSM labels / proposals / absence at inference, which loss terms each switch owns, the
all-off model equals FaceRetinaNet, and a few training steps."""
import math
import os

import pytest
import torch
from torch import nn

import facelib  # noqa: F401
from detectron2.modeling.anchor_generator import build_anchor_generator
from detectron2.modeling.matcher import Matcher
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from facelib.modeling.dense_outputs import HeadOutputs
from tiny_model import assert_branch_absent_at_inference, bright_face_batch, config_from_file, seeded_model, train_on_batch
from facelib.projects.refineface import (
    RFE,
    RFE_KERNELS,
    RefineFace,
    apply_scale_margin,
    first_step_levels,
    nearest_scale_level,
    replace_middle_convs,
    scale_margins,
    select_proposals,
)

TINY = os.path.join("configs", "refineface_tiny_cpu.yaml")
ALL_OFF = ("MODEL.REFINEFACE.STR.ENABLED", False, "MODEL.REFINEFACE.STC.ENABLED", False,
           "MODEL.REFINEFACE.SML.ENABLED", False, "MODEL.REFINEFACE.FSM.ENABLED", False,
           "MODEL.REFINEFACE.RFE.ENABLED", False)


def _model(*opts):
    return seeded_model(config_from_file(TINY, *opts))


def _cfg(*opts):
    return config_from_file(TINY, *opts)


def _batch():
    """Two fixed 128x128 images with faces of several scales."""
    return bright_face_batch([[[8, 8, 28, 28], [40, 40, 104, 104]], [[10, 60, 110, 124], [70, 6, 94, 34]]])


def _losses(model, batch=None):
    model.train()
    with EventStorage():
        return model(batch or _batch())


# ---------------------------------------------------------------------- anchors (Sec. 3.6)
def test_paper_anchors_per_level():
    """2S and 2 sqrt(2) S at stride S on P2..P7, aspect ratio 1.25: 8 .. 362 px."""
    cfg = config_from_file(os.path.join("configs", "refineface_R50.yaml"))
    from detectron2.layers import ShapeSpec

    gen = build_anchor_generator(cfg, [ShapeSpec(stride=2 ** l) for l in range(2, 8)])
    assert gen.num_cell_anchors == [2] * 6
    for level, cell in zip(range(2, 8), gen.cell_anchors):
        s = 2 ** level
        w, h = cell[:, 2] - cell[:, 0], cell[:, 3] - cell[:, 1]
        assert torch.sqrt(w * h).tolist() == pytest.approx([2 * s, 2 * math.sqrt(2) * s], rel=1e-3)
        assert (h / w).tolist() == pytest.approx([1.25, 1.25], rel=1e-5)
    top = list(gen.cell_anchors)[-1][1]
    assert math.sqrt(float((top[2] - top[0]) * (top[3] - top[1]))) == pytest.approx(362.04, abs=0.01)


def test_first_step_levels_and_bad_level_names():
    assert first_step_levels(_cfg()) == ["p3", "p4", "p5", "p6", "p7"]
    assert first_step_levels(_cfg("MODEL.REFINEFACE.STC.ENABLED", False)) == ["p5", "p6", "p7"]
    assert first_step_levels(_cfg("MODEL.REFINEFACE.STR.LEVELS", ["p7"], "MODEL.REFINEFACE.STC.LEVELS", ["p3"])) == ["p3", "p7"]
    with pytest.raises(ValueError, match="p2"):
        first_step_levels(_cfg("MODEL.REFINEFACE.STC.LEVELS", ["p2", "p3"]))


def test_first_step_features_from_backbone_levels():
    """C3..C5 from the ResNet, C6 / C7 by stride-2 convs on C5, each reduced to 64 channels."""
    model = _model()
    fs = model.first_step_features
    assert fs.levels == [3, 4, 5, 6, 7] and fs.extra_levels == [6, 7]
    assert fs.c6.stride == (2, 2) and fs.c6.kernel_size == (3, 3) and fs.c6.in_channels == 512
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(model.preprocess_image(_batch()))
    assert [tuple(f.shape[-2:]) for f in feats.first_step] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert [tuple(f.shape[-2:]) for f in feats] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert all(f.shape[1] == 64 for f in feats.first_step)


# ---------------------------------------------------------------------- STC (Sec. 3.2)
def _outputs_with_first_logits(model, first_logit_value_at):
    """Head outputs of the tiny model on _batch() with the first-step logits replaced: every
    first-step logit -10 (face p ~ 4.5e-5, background 0.99995 > theta) except those listed in
    ``first_logit_value_at`` {(level name, image, anchor index): logit}."""
    model.eval()
    with torch.no_grad():
        images = model.preprocess_image(_batch())
        feats = model.forward_features(images)
        out = model.head_outputs(feats)
    new = []
    for name, lg in zip(model.first_levels, out["first_logits"]):
        lg = torch.full_like(lg, -10.0)
        n, ak, h, w = lg.shape
        for (lvl, img, idx), v in first_logit_value_at.items():
            if lvl == name:  # anchor index in (h, w, a) order -> (a, h, w) of the raw map
                a, hw = idx % ak, idx // ak
                lg[img, a, hw // w, hw % w] = v
        new.append(lg)
    out.extras["first_logits"] = new
    return images, feats, out


def test_stc_removes_exactly_the_anchors_above_theta():
    model = _model()
    # p3 anchor 5 of image 0: face 0.02 (background 0.98 <= 0.99: kept); anchor 7: face 0.009
    # (background 0.991 > 0.99: removed); p4 anchor 0 of image 1: face 0.5 (kept)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    images, feats, out = _outputs_with_first_logits(
        model, {("p3", 0, 5): logit(0.02), ("p3", 0, 7): logit(0.009), ("p4", 1, 0): logit(0.5)})
    keep = model.stc_keep(out)
    assert [k is None for k in keep] == [False, False, True, True, True]
    assert keep[0].nonzero().tolist() == [[0, 5]]
    assert keep[1].nonzero().tolist() == [[1, 0]]
    # inference: the removed anchors' logits are -inf, the others untouched
    logits, _ = model.inference_predictions(images, feats, out)
    raw, _ = model.transpose_predictions(out)
    assert torch.isinf(logits[0][~keep[0]]).all() and torch.equal(logits[0][keep[0]], raw[0][keep[0]])
    assert torch.equal(logits[2], raw[2])
    # training: the second step ignores exactly them
    gts = [b["instances"] for b in _batch()]
    ctx = model.loss_context(images, feats, out, gts)
    labels = torch.stack(ctx.gt_labels)
    r3, r4 = keep[0].shape[1], keep[1].shape[1]
    assert (labels[:, : r3][~keep[0]] == -1).all() and (labels[:, r3: r3 + r4][~keep[1]] == -1).all()
    base_labels = torch.stack(super(RefineFace, model).loss_context(images, feats, out, gts).gt_labels)
    upper = labels[:, r3 + r4:]
    assert torch.equal(upper, base_labels[:, r3 + r4:])  # STR / other levels: unchanged


# ---------------------------------------------------------------------- STR (Sec. 3.1)
def test_str_regresses_from_refined_anchors_and_matches_against_them():
    model = _model("MODEL.REFINEFACE.STC.ENABLED", False)
    model.eval()
    with torch.no_grad():
        images = model.preprocess_image(_batch())
        feats = model.forward_features(images)
        out = model.head_outputs(feats)
    # first-step deltas: zero except p5 (first level of the first step) which shifts every
    # anchor by dx = 0.5 of its width (weights 1: BBOX_REG_WEIGHTS default (1, 1, 1, 1))
    first = [torch.zeros_like(d) for d in out["first_deltas"]]
    a = model.anchor_generator.num_cell_anchors[0]
    first[0][:, 0::4] = 0.5
    out.extras["first_deltas"] = first
    anchors = model.training_anchors(images, feats, out)
    tiled = model.anchors_for(feats)
    assert [tuple(t.shape) for t in anchors][:2] == [(2,) + tuple(tiled[0].tensor.shape), (2,) + tuple(tiled[1].tensor.shape)]
    assert torch.equal(anchors[0][1], tiled[0].tensor)  # p3: not an STR level
    w = tiled[2].tensor[:, 2] - tiled[2].tensor[:, 0]
    assert torch.allclose(anchors[2][0][:, 0], tiled[2].tensor[:, 0] + 0.5 * w)
    assert torch.allclose(anchors[2][1][:, 2], tiled[2].tensor[:, 2] + 0.5 * w)
    assert torch.allclose(anchors[3][0], tiled[3].tensor)  # p6: zero deltas -> the tiled anchors
    assert a == 2
    # a face exactly on a refined p5 anchor is matched to it (IoU 1) and not to its tiled anchor
    i = 3
    box = anchors[2][0][i].clone()
    inst = Instances((128, 128))
    inst.gt_boxes = Boxes(box[None])
    inst.gt_classes = torch.zeros(1, dtype=torch.int64)
    labels, matched = model.label_anchors(anchors, [inst, inst])
    r3, r4 = tiled[0].tensor.shape[0], tiled[1].tensor.shape[0]
    assert labels[0][r3 + r4 + i] == 0 and torch.allclose(matched[0][r3 + r4 + i], box)
    shared_labels, _ = model.label_anchors(tiled, [inst])
    from detectron2.structures import pairwise_iou

    iou_tiled = pairwise_iou(Boxes(box[None]), tiled[2])[0, i]
    assert iou_tiled < 0.5 and shared_labels[0][r3 + r4 + i] != 0
    # decoding uses the refined anchors: zero second-step deltas give back the refined boxes
    out.logits = [torch.full_like(lg, -10.0) for lg in out.logits]
    k = i // a
    out.logits[2][0, i % a, k // out.logits[2].shape[-1], k % out.logits[2].shape[-1]] = 10.0
    out.deltas = [torch.zeros_like(d) for d in out.deltas]
    with torch.no_grad():
        res = model.forward_inference(images, feats, out, [(128, 128), (128, 128)])
    assert len(res[0]) == 1
    assert torch.allclose(res[0].pred_boxes.tensor[0], box.clamp(0, 128), atol=1e-4)


def test_refined_anchors_keep_at_least_one_pixel():
    """A background anchor's unconstrained first-step deltas can shrink it to zero width in
    float32 (a training run stopped on Box2BoxTransform's "not valid" assertion): each side stays
    >= 1 px around the decoded centre; ordinary deltas decode as Box2BoxTransform does."""
    from detectron2.modeling.box_regression import Box2BoxTransform

    from facelib.projects.refineface.refineface import refine_anchors

    t = Box2BoxTransform(weights=(1.0, 1.0, 1.0, 1.0))
    anchors = torch.tensor([[400.0, 300.0, 432.0, 340.0], [10.0, 10.0, 26.0, 26.0]])
    deltas = torch.tensor([[0.0, 0.0, -40.0, -200.0], [0.25, -0.5, 0.1, -0.2]])
    out = refine_anchors(t, deltas, anchors)
    assert torch.allclose(out[0], torch.tensor([415.5, 319.5, 416.5, 320.5]))  # centre (416, 320), 1 x 1
    assert torch.allclose(out[1], t.apply_deltas(deltas[1:], anchors[1:])[0])
    assert (out[:, 2:] - out[:, :2] > 0).all()
    assert (t.get_deltas(out, anchors).isfinite()).all()


def test_first_step_matching_thresholds():
    model = _model()
    assert model.first_step_matcher.thresholds[1:-1] == [0.3, 0.7]
    assert model.anchor_matcher.thresholds[1:-1] == [0.4, 0.5]


# ---------------------------------------------------------------------- SML (Sec. 3.3)
def test_scale_margin_values_for_each_reading():
    boxes = torch.tensor([[0.0, 0.0, 16.0, 16.0], [0.0, 0.0, 10.0, 40.0], [0.0, 0.0, 30.0, 30.0]])
    m = scale_margins(boxes, 15.0)
    assert m.tolist() == pytest.approx([15 / 16, 15 / 20, 0.5])
    logits = torch.tensor([[[1.0], [2.0], [3.0]]])
    labels = torch.tensor([[0, 1, -1]])  # positive, background, ignored (K = 1)
    pos = apply_scale_margin(logits, labels, m, 1, "positives")
    assert pos[0, :, 0].tolist() == pytest.approx([1 - 15 / 16, 2.0, 3.0])
    sym = apply_scale_margin(logits, labels, m, 1, "symmetric")
    assert sym[0, :, 0].tolist() == pytest.approx([1 - 15 / 16, 2 + 0.75, 3.0])
    with pytest.raises(ValueError, match="MODE"):
        apply_scale_margin(logits, labels, m, 1, "all")


def test_sml_changes_only_the_classification_terms_it_is_given():
    on = _losses(_model("MODEL.REFINEFACE.FSM.ENABLED", False))
    off = _losses(_model("MODEL.REFINEFACE.FSM.ENABLED", False, "MODEL.REFINEFACE.SML.ENABLED", False))
    second = _losses(_model("MODEL.REFINEFACE.FSM.ENABLED", False, "MODEL.REFINEFACE.SML.STEPS", ["second"]))
    assert on["loss_cls"] != off["loss_cls"] and on["loss_stc_first_cls"] != off["loss_stc_first_cls"]
    assert torch.equal(on["loss_box_reg"], off["loss_box_reg"])
    assert torch.equal(on["loss_str_first_box_reg"], off["loss_str_first_box_reg"])
    assert torch.equal(second["loss_stc_first_cls"], off["loss_stc_first_cls"])
    assert torch.equal(second["loss_cls"], on["loss_cls"])


# ---------------------------------------------------------------------- RFE (Sec. 3.5)
def test_rfe_branches_shapes_and_shortcut():
    rfe = RFE(64)
    assert [b[2].kernel_size for b in rfe.branches] == list(RFE_KERNELS)
    assert all(b[0].out_channels == 16 and b[2].in_channels == 16 for b in rfe.branches)
    x = torch.randn(2, 64, 9, 7)
    assert rfe(x).shape == x.shape
    nn.init.zeros_(rfe.fuse[0].weight)
    nn.init.zeros_(rfe.fuse[0].bias)
    assert torch.equal(rfe(x), x)  # shortcut: x + relu(0)
    with pytest.raises(ValueError, match="divisible by 4"):
        RFE(30)


def test_rfe_replaces_the_middle_two_convs():
    def subnet(n):
        return nn.Sequential(*[m for _ in range(n) for m in (nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())])

    four = replace_middle_convs(subnet(4), 8)
    kinds = [type(m).__name__ for m in four]
    assert kinds == ["Conv2d", "ReLU", "RFE", "Conv2d", "ReLU"]
    assert [type(m).__name__ for m in replace_middle_convs(subnet(2), 8)] == ["Conv2d", "ReLU", "RFE"]
    assert [type(m).__name__ for m in replace_middle_convs(subnet(3), 8)] == ["Conv2d", "ReLU", "RFE"]
    with pytest.raises(ValueError, match="NUM_CONVS"):
        replace_middle_convs(subnet(1), 8)
    model = _model()
    assert any(isinstance(m, RFE) for m in model.head.cls_subnet)
    assert any(isinstance(m, RFE) for m in model.head.bbox_subnet)
    assert any(isinstance(m, RFE) for m in model.head.first_bbox_subnet)
    assert not any(isinstance(m, RFE) for m in _model("MODEL.REFINEFACE.RFE.ENABLED", False).head.modules())


# ---------------------------------------------------------------------- heads shared by the steps
def test_class_module_shared_box_module_switch():
    model = _model()
    assert hasattr(model.head, "first_bbox_subnet")  # paper reading: own first-step box module
    shared = _model("MODEL.REFINEFACE.FIRST_STEP.SHARE_BOX_HEAD", True)
    assert not hasattr(shared.head, "first_bbox_subnet")  # SRN code: one head for both steps
    n_shared = sum(p.numel() for p in shared.head.parameters())
    n_own = sum(p.numel() for p in model.head.parameters())
    n_box = sum(p.numel() for p in model.head.first_bbox_subnet.parameters()) + sum(
        p.numel() for p in model.head.first_bbox_pred.parameters())
    assert n_own == n_shared + n_box


# ---------------------------------------------------------------------- FSM (Sec. 3.4)
def test_fsm_proposals_nms_gt_first_and_cap():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 11], [50, 50, 60, 60], [0, 0, 10, 10], [80, 80, 90, 90]])
    scores = torch.tensor([0.9, 0.8, 0.7, float("-inf"), 0.1])
    levels = torch.tensor([0, 0, 1, 2, 1])
    gt = torch.tensor([[20.0, 20, 40, 40]])
    prop, lvl = select_proposals(boxes, scores, levels, gt, torch.tensor([1]), pre_nms_topk=10,
                                 nms_thresh=0.7, num_proposals=3)
    # gt first; box 1 suppressed by box 0 (IoU 10/11 > 0.7); box 3 filtered (-inf); cap 3
    assert prop.tolist() == [[20, 20, 40, 40], [0, 0, 10, 10], [50, 50, 60, 60]]
    assert lvl.tolist() == [1, 0, 1]
    prop, _ = select_proposals(boxes, scores, levels, gt[:0], torch.tensor([], dtype=torch.int64),
                               pre_nms_topk=2, nms_thresh=0.7, num_proposals=10)
    assert prop.tolist() == [[0, 0, 10, 10]]  # top 2 before NMS, one survives


def test_fsm_proposals_decode_only_the_top_predictions():
    """fsm_proposals decodes just each image's PRE_NMS_TOPK best predictions: the same proposals as
    decoding every anchor and handing all of them to select_proposals."""
    from facelib.modeling.anchor_sets import level_tensors
    from facelib.modeling.dense_inference import apply_box_deltas

    model = _model("MODEL.REFINEFACE.FSM.PRE_NMS_TOPK", 40)
    model.train()
    batch = _batch()
    with torch.no_grad(), EventStorage():
        images = model.preprocess_image(batch)
        feats = model.forward_features(images)
        gts = [x["instances"] for x in batch]
        ctx = model.loss_context(images, feats, model.head_outputs(feats), gts)
        got, _ = model.fsm_proposals(ctx)
    scores = torch.cat(ctx.pred_logits, dim=1).sigmoid().max(dim=-1).values
    keep = model._stc_keep_flat(ctx.outputs, ctx.pred_logits)
    assert keep is not None and not keep.all()  # the STC filter takes part
    scores = scores.masked_fill(~keep, float("-inf"))
    tensors = level_tensors(ctx.anchors)
    levels = torch.cat([torch.full((t.shape[-2],), i) for i, t in enumerate(tensors)])
    for i, (prop, lvl) in enumerate(got):
        anchors = torch.cat([t[i] if t.dim() == 3 else t for t in tensors])
        boxes = apply_box_deltas(model.box2box_transform, torch.cat(ctx.pred_deltas, dim=1)[i], anchors)
        gt = gts[i].gt_boxes.tensor
        ref, ref_lvl = select_proposals(boxes, scores[i], levels, gt, nearest_scale_level(gt, model.fsm_level_scales),
                                        pre_nms_topk=40, nms_thresh=0.7, num_proposals=model.fsm_params["num_proposals"])
        assert len(prop) > len(gt)
        assert torch.allclose(prop, ref) and torch.equal(lvl, ref_lvl)


def test_fsm_gt_level_is_the_nearest_anchor_scale():
    boxes = torch.tensor([[0.0, 0, 16, 16], [0, 0, 60, 60], [0, 0, 400, 400]])
    assert nearest_scale_level(boxes, [19.0, 38.0, 76.0]).tolist() == [0, 2, 2]
    # 60 px: |log 76/60| = 0.24 < |log 60/38| = 0.46; 50 px: |log 50/38| = 0.27 < |log 76/50| = 0.42
    assert nearest_scale_level(torch.tensor([[0.0, 0, 50, 50]]), [19.0, 38.0, 76.0]).tolist() == [1]


def test_fsm_labels_for_hand_made_proposals():
    model = _model()
    inst = Instances((128, 128))
    inst.gt_boxes = Boxes(torch.tensor([[0.0, 0, 10, 10], [50, 50, 70, 70]]))
    inst.gt_classes = torch.zeros(2, dtype=torch.int64)
    inst.gt_ignore = torch.tensor([False, True])
    targets, ignored = model.split_ignored(inst)
    props = Boxes(torch.tensor([
        [0.0, 0, 10, 10],    # IoU 1 -> face
        [0.0, 0, 10, 13],    # IoU 100/130 = 0.77 -> face
        [0.0, 0, 10, 20],    # IoU 0.5 -> ignored (between 0.4 and 0.7)
        [0.0, 0, 10, 30],    # IoU 0.33 -> background
        [50.0, 50, 70, 70],  # the ignored face -> ignored
        [100.0, 100, 120, 120],  # nothing -> background
    ]))
    labels = model._fsm_labels(props, targets, ignored, Matcher([0.4, 0.7], [0, -1, 1]))
    assert labels.tolist() == [0, 0, -1, 1, -1, 1]


def test_fsm_is_absent_from_inference():
    model = _model()
    unexpected, calls = assert_branch_absent_at_inference(
        model, _model("MODEL.REFINEFACE.FSM.ENABLED", False), model.fsm, _batch())
    assert all(k.startswith("fsm.") for k in unexpected)
    model.train()
    _losses(model)
    assert calls == [1]


# ---------------------------------------------------------------------- switches <-> loss terms
@pytest.mark.parametrize("opts, keys", [
    ((), {"loss_cls", "loss_box_reg", "loss_stc_first_cls", "loss_str_first_box_reg", "loss_fsm"}),
    (("MODEL.REFINEFACE.STR.ENABLED", False), {"loss_cls", "loss_box_reg", "loss_stc_first_cls", "loss_fsm"}),
    (("MODEL.REFINEFACE.STC.ENABLED", False), {"loss_cls", "loss_box_reg", "loss_str_first_box_reg", "loss_fsm"}),
    (("MODEL.REFINEFACE.FSM.ENABLED", False), {"loss_cls", "loss_box_reg", "loss_stc_first_cls", "loss_str_first_box_reg"}),
    (ALL_OFF, {"loss_cls", "loss_box_reg"}),
])
def test_each_switch_owns_its_loss_terms(opts, keys):
    losses = _losses(_model(*opts))
    assert set(losses) == keys
    assert all(torch.isfinite(v) for v in losses.values())


def test_fsm_changes_backbone_gradients_only_through_loss_fsm():
    on = _model()
    losses = _losses(on)
    off = _model("MODEL.REFINEFACE.FSM.ENABLED", False)
    off.load_state_dict(on.state_dict(), strict=False)
    off_losses = _losses(off)
    for k in off_losses:
        assert torch.allclose(losses[k], off_losses[k]), k


def test_all_modules_off_equals_face_retinanet():
    rf = _model(*ALL_OFF)
    base = _model(*ALL_OFF, "MODEL.META_ARCHITECTURE", "FaceRetinaNet")
    assert type(rf).__name__ == "RefineFace" and type(base).__name__ == "FaceRetinaNet"
    sd_rf, sd_base = rf.state_dict(), base.state_dict()
    assert sorted(sd_rf) == sorted(sd_base)
    assert all(torch.equal(sd_rf[k], sd_base[k]) for k in sd_rf)  # same random draws
    lr, lb = _losses(rf), _losses(base)
    assert set(lr) == set(lb)
    for k in lr:
        assert torch.equal(lr[k], lb[k]), k
    rf.eval()
    base.eval()
    with torch.no_grad():
        for a, b in zip(rf(_batch()), base(_batch())):
            assert torch.equal(a["instances"].pred_boxes.tensor, b["instances"].pred_boxes.tensor)


def test_bad_backbone_or_levels_fail_clearly():
    with pytest.raises(ValueError, match="IN_FEATURES"):
        _model("MODEL.REFINEFACE.STR.LEVELS", ["p8"])
    with pytest.raises(ValueError, match="SML.MODE"):
        _model("MODEL.REFINEFACE.SML.MODE", "everything")
    with pytest.raises(ValueError, match="FSM.TYPE"):
        _model("MODEL.REFINEFACE.FSM.TYPE", "mlp")


def test_fsm_fc_type_runs():
    losses = _losses(_model("MODEL.REFINEFACE.FSM.TYPE", "fc"))
    assert torch.isfinite(losses["loss_fsm"])


# ---------------------------------------------------------------------- training
def test_tiny_refineface_losses_fall_on_a_fixed_batch():
    """25 SGD steps on two fixed images: every classification term and both first-step terms fall
    (the second step's box loss regresses from anchors the first step keeps moving, so it is
    not required to fall in so few steps)."""
    history = train_on_batch(_model(), _batch(), steps=25, lr=0.005)
    assert all(math.isfinite(v) for h in history for v in h.values())
    first, last = history[0], history[-1]
    for k in ("loss_stc_first_cls", "loss_str_first_box_reg"):
        assert last[k] < 0.7 * first[k], (k, [h[k] for h in history])
    # the second step's focal loss first rises (the prior moves), then falls below where it began
    cls = [h["loss_cls"] for h in history]
    assert last["loss_cls"] < first["loss_cls"] and last["loss_cls"] < 0.3 * max(cls), cls
    assert last["loss_fsm"] < first["loss_fsm"], [h["loss_fsm"] for h in history]


def test_inference_returns_instances_in_output_size():
    model = _model()
    model.eval()
    with torch.no_grad():
        out = model([{"image": b["image"], "height": 256, "width": 200} for b in _batch()])
    inst = out[0]["instances"]
    assert isinstance(inst, Instances) and inst.image_size == (256, 200)
    assert isinstance(model.head_outputs(model.forward_features(model.preprocess_image(_batch()))), HeadOutputs)


# ---------------------------------------------------------------------- configs
import glob  # noqa: E402

from tiny_model import ROOT  # noqa: E402

REFINEFACE_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "refineface_*.yaml")))


@pytest.mark.parametrize("path", REFINEFACE_CONFIGS, ids=os.path.basename)
def test_refineface_configs_build(path):
    cfg = config_from_file(path, "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu")
    assert cfg.MODEL.META_ARCHITECTURE == "RefineFace"
    model = seeded_model(cfg)
    assert model.first_levels and model.fsm is not None
    if "mnet025_facemask" in path:  # the baseline's recipe: same schedule, seed, anchors, levels
        base = config_from_file(os.path.join("configs", "retinanet_mnet025_facemask.yaml"))
        for key in ("SOLVER.MAX_ITER", "SOLVER.STEPS", "SOLVER.BASE_LR", "SEED", "MODEL.ANCHOR_GENERATOR.SIZES",
                    "MODEL.RETINANET.IN_FEATURES", "INPUT.FACE_AUG.TRAIN", "MODEL.FPN.TOP_LEVELS_FROM"):
            a, b = cfg, base
            for part in key.split("."):
                a, b = a[part], b[part]
            assert a == b, key
