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

from tiny_model import bright_face_batch, config_from_file, seeded_model, train_on_batch  # noqa: E402

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
    mog = _model(*OFF)
    base = _model(*OFF, "MODEL.META_ARCHITECTURE", "FaceRetinaNet")
    sd_m, sd_b = mog.state_dict(), base.state_dict()
    assert sorted(sd_m) == sorted(sd_b) and all(torch.equal(sd_m[k], sd_b[k]) for k in sd_m)
    hist_m = train_on_batch(mog, _batch(), steps=2, lr=0.01)
    hist_b = train_on_batch(base, _batch(), steps=2, lr=0.01)
    assert hist_m[0] == hist_b[0]  # same losses; after a step equal up to float summation order
    assert all(hist_m[1][k] == pytest.approx(hist_b[1][k], rel=1e-6) for k in hist_b[1])


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
    from detectron2.utils.events import EventStorage

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
    logits, deltas = head(feats)
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
