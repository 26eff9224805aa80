"""MogFace (projects/MogFace): Ali-AMS (Algorithm 1) on a hand-made pyramid level, and in the model."""
import math

import pytest
import torch

from facelib.projects.mogface import ali_ams

# One level: a0..a5 are 10x10 anchors side by side (centres x = 5 .. 55, y = 5); a6 is a large
# 80x60 anchor centred at (46, 5). A second level holds two anchors.
LEVEL0 = [[10.0 * i, 0, 10.0 * i + 10, 10] for i in range(6)] + [[6.0, -25, 86, 35]]
LEVEL1 = [[0.0, 0, 40, 40], [40.0, 0, 80, 40]]
ANCHORS = torch.tensor(LEVEL0 + LEVEL1)
# g0 covers a0..a2; g1 = [37, 52] x [0, 10] (centre 44.5, 5).
GT = torch.tensor([[0.0, 0, 30, 10], [37.0, 0, 52, 10]])
# standard matching: g0 has a0, a1, a2 (A = 3 = T on level 0), g1 only a4 (A = 1: N = 2); level 1:
# one anchor of g0 (T = 1: nothing to compensate there)
MATCHED = torch.tensor([0, 0, 0, -1, 1, -1, -1, 0, -1])
# nearest centres to g1: a4 (0.25), a6 (2.25), a3 (90.25) [a5: 110.25];
# highest IoU with g1: a4 (100/150), a3 (30/220), a5 (20/230) [a6: 150/4800]
SCORES = torch.tensor([0.1, 0.1, 0.1, 0.2, 0.6, 0.5, 0.9, 0.1, 0.95])
SIZES = [7, 2]


@pytest.mark.parametrize("candidates, drop, expected", [
    # candidates {a3, a5, a6} (a4 already positive): a6 .9, a5 .5 -> g1
    ("cpd_iou", "before", [0, 0, 0, -1, 1, 1, 1, 0, -1]),
    # candidates {a6, a3}: both
    ("cpd", "before", [0, 0, 0, 1, 1, -1, 1, 0, -1]),
    # top 2 of {a3, a4, a5, a6} = a6, a4; a4 is already positive and dropped: one new positive
    ("cpd_iou", "after", [0, 0, 0, -1, 1, -1, 1, 0, -1]),
    ("cpd", "after", [0, 0, 0, -1, 1, -1, 1, 0, -1]),
])
def test_algorithm1_on_a_hand_made_level(candidates, drop, expected):
    out = ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, candidates=candidates, drop_positives=drop)
    assert out.tolist() == expected
    level0 = out[:7]
    counts = torch.bincount(level0[level0 >= 0], minlength=2)
    assert int(counts.max()) == 3  # no face above T afterwards
    if drop == "before":
        assert counts.tolist() == [3, 3]  # N_g = T - A[g] new positives each


def test_skipped_level_and_no_faces_are_untouched():
    assert torch.equal(ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, skip_levels=[0]), MATCHED)
    none = torch.full((9,), -1, dtype=torch.int64)
    assert torch.equal(ali_ams(none, ANCHORS, GT, SCORES, SIZES), none)  # G empty on every level
    assert torch.equal(ali_ams(none, ANCHORS, GT[:0], SCORES, SIZES), none)


def test_bad_arguments():
    with pytest.raises(ValueError, match="candidates"):
        ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, candidates="iou")
    with pytest.raises(ValueError, match="drop_positives"):
        ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, drop_positives="never")
    with pytest.raises(ValueError, match="levels"):
        ali_ams(MATCHED, ANCHORS, GT, SCORES, [7, 3])


# ---------------------------------------------------------------------- in the model
import os  # noqa: E402

from detectron2.utils.events import EventStorage  # noqa: E402

from tiny_model import assert_branch_absent_at_inference, assert_same_as_baseline, bright_face_batch, config_from_file, seeded_model, train_on_batch  # noqa: E402

TINY = os.path.join("configs", "mogface_tiny_cpu.yaml")


def _model(*opts):
    return seeded_model(config_from_file(TINY, *opts))


def _batch():
    return bright_face_batch([[[8, 8, 40, 40], [60, 60, 124, 124], [90, 10, 110, 30]], [[10, 60, 110, 124]]])


def _labels(model):
    model.train()
    images = model.preprocess_image(_batch())
    feats = model.forward_features(images)
    out = model.head_outputs(feats)
    logits, deltas = model.transpose_predictions(out)
    with torch.no_grad():
        return model.label_anchors(model.anchors_for(feats), [b["instances"] for b in _batch()], logits, deltas)[0]


def test_ali_ams_only_adds_positives_to_the_standard_assignment():
    on = _labels(_model("MODEL.MOGFACE.HCAM.ENABLED", False))
    off = _labels(_model(*OFF))
    added = 0
    for a, b in zip(on, off):
        assert torch.equal(a[b == 0], b[b == 0])  # every standard positive stays positive
        changed = a != b
        assert (a[changed] == 0).all()  # the changes are new positives (face class 0)
        added += int(changed.sum())
    assert added > 0


OFF = ("MODEL.MOGFACE.ALI_AMS.ENABLED", False, "MODEL.MOGFACE.HCAM.ENABLED", False)


def test_level_rules_need_the_level_sizes():
    """ATSS / Ali-AMS work level by level: refine_assignment without level_sizes is an error, not
    a silent fall-back to the plain IoU assignment."""
    from facelib.modeling.anchor_sets import anchors_of_image

    model = _model("MODEL.MOGFACE.ASSIGNER", "atss")
    feats = model.forward_features(model.preprocess_image(_batch()))
    anchors = anchors_of_image(model.anchors_for(feats), 0)
    gt = _batch()[0]["instances"]
    with pytest.raises(ValueError, match="level_sizes"):
        model.match_anchors_per_image(anchors, gt)
    sizes = [len(a) for a in model.anchors_for(feats)]
    labels, _ = model.match_anchors_per_image(anchors, gt, level_sizes=sizes)
    assert (labels == 0).any()


def test_all_modules_off_mogface_equals_face_retinanet():
    assert_same_as_baseline(_model(*OFF), _model(*OFF, "MODEL.META_ARCHITECTURE", "FaceRetinaNet"), _batch())


def test_mogface_trains_and_infers():
    history = train_on_batch(_model(), _batch(), steps=15, lr=0.01)
    total = [sum(h.values()) for h in history]
    assert total[-1] < 0.7 * total[0], total
    model = _model()
    model.eval()
    with torch.no_grad():
        out = model([{"image": b["image"], "height": 128, "width": 128} for b in _batch()])
    assert len(out) == 2 and out[0]["instances"].has("scores")


def test_bad_mogface_keys():
    with pytest.raises(ValueError, match="CANDIDATES"):
        _model("MODEL.MOGFACE.ALI_AMS.CANDIDATES", "nearest")
    with pytest.raises(ValueError, match="SKIP_LEVELS"):
        _model("MODEL.MOGFACE.ALI_AMS.SKIP_LEVELS", ["p9"])


# ---------------------------------------------------------------------- HCAM (Sec. 3.3)
from detectron2.modeling.meta_arch.dense_detector import permute_to_N_HWA_K  # noqa: E402

from facelib.projects.mogface import dynamic_labels, high_confidence_maps  # noqa: E402


def test_high_confidence_maps_3x3_and_5x5():
    scores = torch.zeros(1, 2, 5, 6)  # two anchors per location
    scores[0, 1, 2, 2] = 0.5  # high (> 0.1) at (2, 2) through anchor 1
    scores[0, 0, 0, 5] = 0.2  # and at the corner (0, 5)
    scores[0, 0, 4, 0] = 0.1  # not above the threshold
    m3, m5 = high_confidence_maps(scores, 0.1, [3, 5])
    want3 = torch.zeros(5, 6)
    want3[1:4, 1:4] = 1
    want3[0:2, 4:6] = 1
    assert torch.equal(m3[0, 0], want3)
    want5 = torch.zeros(5, 6)
    want5[0:5, 0:5] = 1
    want5[0:3, 3:6] = 1
    assert torch.equal(m5[0, 0], want5)
    with pytest.raises(ValueError, match="odd"):
        high_confidence_maps(scores, 0.1, [4])


def test_dynamic_labels():
    main = torch.tensor([[[0.5], [0.5], [0.05], [0.9], [0.3]]])
    labels = torch.tensor([[0, 1, 0, -1, 1]])  # face, background, face, ignored, background (K = 1)
    y = dynamic_labels(main, labels, 1, 0.1)
    assert y[0, :, 0].tolist() == [1, 0, -1, -1, 0]


def test_hcam_loss_term_and_test_scores():
    model = _model("MODEL.MOGFACE.ALI_AMS.ENABLED", False)
    losses = train_on_batch(model, _batch(), steps=1, lr=0.0)[0]
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_hcam"}
    calls = []
    model.hcam.register_forward_hook(lambda *a: calls.append(1))
    model.eval()
    with torch.no_grad():
        main_only = model(_batch())
    assert calls == []  # TEST_SCORES "main": HCAM not run at inference
    prog = _model("MODEL.MOGFACE.ALI_AMS.ENABLED", False, "MODEL.MOGFACE.HCAM.TEST_SCORES", "progressive",
                  "MODEL.RETINANET.SCORE_THRESH_TEST", 0.0)
    prog.load_state_dict(model.state_dict())
    torch.nn.init.constant_(prog.head.cls_score.bias, math.log(0.1 / 0.9))  # main scores around 0.1
    prog.hcam.register_forward_hook(lambda *a: calls.append(1))
    prog.eval()
    with torch.no_grad():
        images = prog.preprocess_image(_batch())
        feats = prog.forward_features(images)
        out = prog.head_outputs(feats)
        logits, _ = prog.inference_predictions(images, feats, out)
        main, _ = prog.transpose_predictions(out)
        progressive = [permute_to_N_HWA_K(x, 1) for x in out["hcam_logits"]]
    assert calls == [1]
    n_high = 0
    for lg, m, p in zip(logits, main, progressive):
        high = m.sigmoid() > 0.1
        n_high += int(high.sum())
        assert torch.equal(lg[high], p[high]) and torch.equal(lg[~high], m[~high])
    assert 0 < n_high < sum(m.numel() for m in main)
    with pytest.raises(ValueError, match="TEST_SCORES"):
        _model("MODEL.MOGFACE.HCAM.TEST_SCORES", "both")


# ---------------------------------------------------------------------- configs
import glob  # noqa: E402

from tiny_model import ROOT  # noqa: E402

def test_ssh_context_head():
    from facelib.projects.mogface import SSHContext

    ssh = SSHContext(64, 128)
    assert (ssh.conv1.out_channels, ssh.conv2.out_channels, ssh.conv2_2_1.out_channels) == (64, 32, 32)
    assert ssh.conv2.dilation == (2, 2) and ssh.conv2_2.dilation == (2, 2)
    assert ssh(torch.randn(2, 64, 9, 7)).shape == (2, 128, 9, 7)
    with pytest.raises(ValueError, match="divisible by 4"):
        SSHContext(64, 30)
    model = _model("MODEL.MOGFACE.SSH_CHANNELS", 128)
    assert model.head.ssh is not None and model.head.cls_subnet[0].in_channels == 128
    history = train_on_batch(model, _batch(), steps=2, lr=0.01)
    assert all(math.isfinite(v) for h in history for v in h.values())


MOGFACE_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "mogface_*.yaml")))


@pytest.mark.parametrize("path", MOGFACE_CONFIGS, ids=os.path.basename)
def test_mogface_configs_build(path):
    cfg = config_from_file(path, "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu")
    assert cfg.MODEL.META_ARCHITECTURE == "MogFace"
    model = seeded_model(cfg)
    name = os.path.basename(path)
    assert model.ali_ams_enabled == (name != "mogface_base_R50.yaml")
    assert (model.hcam is not None) == (name != "mogface_base_R50.yaml")
    assert ("sse" in cfg.INPUT.FACE_AUG.TRAIN) == (name == "mogface_e_R50.yaml")


# ---------------------------------------------------------------------- ATSS (Table 3 comparison)
def test_atss_on_hand_made_levels():
    from facelib.projects.mogface import atss_assign

    # level 0: 10x10 anchors at x = 0, 10, 20, 30; level 1: 20x20 anchors at x = 0, 20
    anchors = torch.tensor([[0.0, 0, 10, 10], [10.0, 0, 20, 10], [20.0, 0, 30, 10], [30.0, 0, 40, 10],
                            [0.0, 0, 20, 20], [20.0, 0, 40, 20]])
    gt = torch.tensor([[2.0, 0, 22, 10]])  # centre (12, 5)
    # candidates (top 3 nearest centres per level): a1 .5, a0 .364, a2 .071; b0 .429, b1 .034
    # -> threshold mean + std = .280 + .213 = .493: only a1 (centre inside the face) is positive
    assert atss_assign(anchors, gt, [4, 2], topk=3).tolist() == [-1, 0, -1, -1, -1, -1]
    # a second face on b1 exactly: candidates a2 .25, a3 .25, a1 0; b1 1, b0 0 -> threshold .3 + .41 = .71: b1
    gt2 = torch.tensor([[2.0, 0, 22, 10], [20.0, 0, 40, 20]])
    out = atss_assign(anchors, gt2, [4, 2], topk=3)
    assert out[1] == 0 and out[5] == 1
    assert atss_assign(anchors, gt[:0], [4, 2]).tolist() == [-1] * 6


def test_atss_assigner_in_the_model():
    model = _model("MODEL.MOGFACE.ASSIGNER", "atss", "MODEL.MOGFACE.ALI_AMS.ENABLED", False,
                   "MODEL.MOGFACE.HCAM.ENABLED", False)
    labels = _labels(model)
    assert all(((lab == 0) | (lab == 1)).all() for lab in labels)  # ATSS ignores nothing
    assert all((lab == 0).any() for lab in labels)
    with pytest.raises(ValueError, match="ASSIGNER"):
        _model("MODEL.MOGFACE.ASSIGNER", "ota")


# ---------------------------------------------------------------------- S3FD head (Sec. 4.1)
def test_sfd_head_is_one_unshared_conv_pair_per_level():
    from facelib.projects.mogface import SFDHead

    model = _model("MODEL.MOGFACE.HEAD", "sfd")
    head = model.head
    assert isinstance(head, SFDHead)
    levels = len(model.head_in_features)
    assert len(head.cls_score) == len(head.bbox_pred) == levels
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2 * levels and all(c.kernel_size == (3, 3) for c in convs)
    assert len({id(c.weight) for c in convs}) == 2 * levels  # nothing shared between levels
    assert all(c.out_channels == 1 for c in head.cls_score) and all(c.out_channels == 4 for c in head.bbox_pred)
    prior = -math.log(0.99 / 0.01)
    assert all(torch.allclose(c.bias, torch.full_like(c.bias, prior)) for c in head.cls_score)
    feats = [torch.randn(1, 64, s, s) for s in (16, 8, 4, 2, 1)]
    out = head(feats)
    logits, deltas = out.logits, out.deltas
    for f, lg, d, c in zip(feats, logits, deltas, head.cls_score):
        assert lg.shape == (1, 1, f.shape[2], f.shape[3]) and d.shape == (1, 4, f.shape[2], f.shape[3])
        torch.testing.assert_close(lg, c(f))
    model.train()
    with EventStorage():
        losses = model(_batch())
    sum(losses.values()).backward()
    # every level's class conv is trained (negatives everywhere); box convs where a face matched
    assert all(c.weight.grad is not None and c.weight.grad.abs().sum() > 0 for c in head.cls_score)
    assert any(c.weight.grad is not None and c.weight.grad.abs().sum() > 0 for c in head.bbox_pred)


def test_sfd_head_rejects_ssh_and_bad_head_names():
    with pytest.raises(ValueError, match="SSH_CHANNELS"):
        _model("MODEL.MOGFACE.HEAD", "sfd", "MODEL.MOGFACE.SSH_CHANNELS", 64)
    with pytest.raises(ValueError, match="MODEL.MOGFACE.HEAD"):
        _model("MODEL.MOGFACE.HEAD", "deep")


def test_base_config_uses_the_sfd_head():
    cfg = config_from_file(os.path.join("configs", "mogface_base_R50.yaml"))
    assert cfg.MODEL.MOGFACE.HEAD == "sfd"
    assert config_from_file(os.path.join("configs", "mogface_R50.yaml")).MODEL.MOGFACE.HEAD == "retinanet"


# ---------------------------------------------------------------------- Pyramid Anchor (Sec. 4.3)
PA = ("MODEL.MOGFACE.PYRAMID_ANCHOR.ENABLED", True)


def test_context_boxes_by_hand():
    from facelib.projects.mogface import context_boxes

    boxes = torch.tensor([[40.0, 40, 56, 56], [0, 10, 10, 30]])
    assert context_boxes(boxes, 2.0).tolist() == [[32, 32, 64, 64], [-5, 0, 15, 40]]
    assert context_boxes(boxes, 1.0).tolist() == boxes.tolist()
    with pytest.raises(ValueError):
        context_boxes(boxes, 0.0)


def test_pyramid_anchor_labels_an_anchor_by_the_enlarged_face():
    """A 16 px face centred on a 32 px p3 anchor: the anchor has IoU 0.25 with the face (a face-task
    negative at 0.35) and 1.0 with the face x 2 (a head-task positive); x 4 (64 px) has IoU 0.25."""
    from detectron2.structures import Boxes, Instances

    from facelib.projects.mogface import context_boxes

    model = _model(*PA)
    feats = model.forward_features(model.preprocess_image(_batch()))
    anchors = model.anchors_for(feats)
    flat = torch.cat([a.tensor for a in anchors])
    idx = len(anchors[0]) // 2 + 4  # a 32 px p3 anchor inside the image
    a = flat[idx]
    assert float(a[2] - a[0]) == pytest.approx(32.0) and 16 <= float(a[0]) <= 80
    face = torch.cat([a[:2] + 8, a[2:] - 8])[None]  # 16 px, same centre
    inst = Instances((128, 128), gt_boxes=Boxes(face), gt_classes=torch.tensor([0]))

    def label(scale):
        enlarged = Instances((128, 128), gt_boxes=Boxes(context_boxes(inst.gt_boxes.tensor, scale)),
                             gt_classes=inst.gt_classes)
        return int(model.label_anchors(anchors, [enlarged], matcher=model.pyramid_anchor_matcher)[0][0][idx])

    assert (label(1.0), label(2.0), label(4.0)) == (1, 0, 1)  # 1 = background (K), 0 = face class


def test_pyramid_anchor_losses_weights_and_absence_at_inference():
    on = _model(*PA)
    on.train()
    with EventStorage():
        losses = on(_batch())
    assert {"loss_pa1_cls", "loss_pa1_box_reg", "loss_pa2_cls", "loss_pa2_box_reg"} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    heavier = _model(*PA, "MODEL.MOGFACE.PYRAMID_ANCHOR.LOSS_WEIGHTS", [1.0, 0.25])
    heavier.train()
    with EventStorage():
        h = heavier(_batch())
    for k, f in (("pa1", 2.0), ("pa2", 0.5)):
        for t in ("cls", "box_reg"):
            assert float(h[f"loss_{k}_{t}"]) == pytest.approx(f * float(losses[f"loss_{k}_{t}"]), rel=1e-5)
    assert float(h["loss_cls"]) == pytest.approx(float(losses["loss_cls"]), rel=1e-6)
    # inference: the context branches do not run and change nothing
    unexpected, _ = assert_branch_absent_at_inference(on, _model(), on.head.pyramid_anchor, _batch())
    assert all(".pyramid_anchor." in k for k in unexpected)


def test_pyramid_anchor_sfd_head_has_a_branch_per_level_and_rejects_bad_weights():
    model = _model(*PA, "MODEL.MOGFACE.HEAD", "sfd")
    pa = model.head.pyramid_anchor
    assert not pa.shared and len(pa.cls[0]) == len(model.head_in_features) == len(pa.box[1])
    with pytest.raises(ValueError, match="LOSS_WEIGHTS"):
        _model(*PA, "MODEL.MOGFACE.PYRAMID_ANCHOR.LOSS_WEIGHTS", [0.5])
