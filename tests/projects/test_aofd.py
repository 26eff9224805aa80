"""AOFD (projects/AOFD): compactness loss, mask selection / types, generator-vs-detector stages,
occlusion segmentation targets / crops, forward passes, configs. Tiny (64 px, CPU)."""
import glob
import math
import os

import pytest
import torch
from torch.nn import functional as F

import facelib  # noqa: F401
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import build_anchor_generator
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from facelib.config import get_face_cfg
from tiny_model import ROOT as REPO, config_from_file, seeded_model
from facelib.projects.aofd import (
    AOFD,
    AOFDROIHeads,
    MaskGenerator,
    binarize,
    compact_loss,
    compact_response,
    crop_occlusion_masks,
    enlarge_boxes,
    generator_masks,
    half_masks,
    num_dropped,
    occlusion_seg_loss,
    occlusion_seg_targets,
    random_masks,
)

TINY = os.path.join("configs", "aofd_tiny_cpu.yaml")


def _cfg(*opts):
    return config_from_file(TINY, *opts)


def _model(*opts):
    return seeded_model(_cfg(*opts))


def _batch():
    """Two fixed 64x64 images with bright faces and occlusion masks (lower half of each face)."""
    g = torch.Generator().manual_seed(1)
    out = []
    for boxes in ([[8, 6, 36, 44]], [[4, 4, 30, 36], [34, 20, 60, 58]]):
        img = torch.rand(3, 64, 64, generator=g) * 60
        occ = torch.zeros(64, 64, dtype=torch.uint8)
        for x1, y1, x2, y2 in boxes:
            img[:, y1:y2, x1:x2] += 150
            occ[(y1 + y2) // 2:y2, x1:x2] = 1
        inst = Instances((64, 64))
        inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        inst.gt_classes = torch.zeros(len(boxes), dtype=torch.int64)
        out.append({"image": img, "instances": inst, "occlusion_mask": occ,
                    "height": 64, "width": 64})
    return out


# ---------------------------------------------------------------------- compactness (Eq. 3)
def _dropped(points, size=7):
    m = torch.ones(size, size)
    for y, x in points:
        m[y, x] = 0
    return m


def test_compact_blob_scores_lower_than_scattered_same_area():
    blob = _dropped([(3, 3), (3, 4), (4, 3), (4, 4)])  # 2x2 dropped blob
    scattered = _dropped([(1, 1), (1, 5), (5, 1), (5, 5)])  # four isolated positions
    assert (blob == 0).sum() == (scattered == 0).sum() == 4
    # |response|: blob 4 * 5/8 inside + 20 * 1/8 outside = 5; each isolated one 1 + 8/8 = 2
    assert compact_loss(blob).item() == pytest.approx(5.0)
    assert compact_loss(scattered).item() == pytest.approx(8.0)
    # the signed sum cannot tell them apart (K sums to 0): why the absolute value is summed
    assert compact_response(blob).sum().item() == pytest.approx(0.0, abs=1e-6)
    assert compact_response(scattered).sum().item() == pytest.approx(0.0, abs=1e-6)
    # larger areas: a 3x4 block vs a checkerboard of 12 positions
    block = _dropped([(y, x) for y in range(2, 5) for x in range(1, 5)])
    checker = _dropped([(y, x) for y in range(1, 6) for x in range(1, 6) if (x + y) % 2 == 0][:12])
    assert (block == 0).sum() == (checker == 0).sum() == 12
    assert compact_loss(block) < compact_loss(checker)
    # batch: mean over RoIs, per-RoI values with reduction "none"
    both = torch.stack([blob, scattered])
    assert compact_loss(both, "none").tolist() == pytest.approx([5.0, 8.0])
    assert compact_loss(both).item() == pytest.approx(6.5)
    assert compact_loss(torch.ones(7, 7)).item() == 0.0
    # the batch reductions of MODEL.AOFD.COMPACT_LOSS_REDUCTION: 5 + 8 = 13 summed; times the 512
    # channels of a VGG16 conv5 RoI the mask is tiled to = 6656 (x gamma 1e-6 = 0.0067)
    assert compact_loss(both, "sum").item() == pytest.approx(13.0)
    assert compact_loss(both, "sum_channels", num_channels=512).item() == pytest.approx(6656.0)
    with pytest.raises(ValueError):
        compact_loss(both, "max")


def test_dropped_components_and_compactness_by_hand():
    from facelib.projects.aofd.mask_stats import dropped_components, mask_compactness

    blob = _dropped([(3, 3), (3, 4), (4, 3), (4, 4)])
    scattered = _dropped([(1, 1), (1, 5), (5, 1), (5, 5)])
    diagonal = _dropped([(0, 0), (1, 1)])  # touching corners only: two regions (4-neighbourhood)
    strip = _dropped([(6, x) for x in range(7)])
    assert [dropped_components(m) for m in (blob, scattered, diagonal, strip, torch.ones(7, 7))] == [1, 4, 2, 1, 0]
    stats = mask_compactness(torch.stack([blob, scattered])[:, None])
    assert stats["masks"] == 2 and stats["components"] == 2.5 and stats["one_region"] == 0.5
    assert stats["l_com"] == pytest.approx(6.5)


def test_generator_straight_mapping_by_hand():
    """"residual": the first conv's output is added to the last conv's input (Sec. 3.3)."""
    from facelib.projects.aofd.mask_generator import MaskGenerator

    torch.manual_seed(0)
    res = MaskGenerator(4, 6, 4, straight_mapping="residual")
    for conv in res.convs:
        torch.nn.init.normal_(conv.weight, std=0.3)
    plain = MaskGenerator(4, 6, 4, straight_mapping="none")
    plain.load_state_dict(res.state_dict())
    x = torch.randn(2, 4, 7, 7)
    c = res.convs
    h1 = F.relu(c[0](x))
    h3 = F.relu(c[2](F.relu(c[1](h1))))
    assert torch.allclose(res(x), c[3](h3 + h1), atol=1e-6)
    assert torch.allclose(plain(x), c[3](h3), atol=1e-6)
    assert not torch.allclose(res(x), plain(x))
    with pytest.raises(ValueError):
        MaskGenerator(4, 6, 2, straight_mapping="residual")
    cfg = config_from_file(os.path.join("configs", "aofd_tiny_cpu.yaml"))
    assert cfg.MODEL.AOFD.GENERATOR_STRAIGHT_MAPPING == "residual"
    assert seeded_model(cfg).roi_heads.mask_generator.straight_mapping == "residual"


# ---------------------------------------------------------------------- hard selection
def test_binarize_quarter_and_third_exact():
    perm = torch.randperm(49, generator=torch.Generator().manual_seed(0)).float()
    scores = perm.view(1, 1, 7, 7)
    assert num_dropped(49, 0.25) == 12 and num_dropped(49, 1 / 3) == 16
    for frac, k in ((0.25, 12), (1 / 3, 16)):
        m = binarize(scores, frac)
        assert m.shape == (1, 1, 7, 7)
        assert set(m.unique().tolist()) == {0.0, 1.0}
        assert int((m == 0).sum()) == k
        # exactly the k lowest scores are dropped
        assert torch.equal(m.flatten() == 0, perm < k)


def test_binarize_straight_through_value_and_gradient():
    scores = torch.randn(3, 1, 7, 7, generator=torch.Generator().manual_seed(2), requires_grad=True)
    m = binarize(scores, 0.25)
    assert torch.equal(m.detach(), binarize(scores.detach(), 0.25))  # forward value is the hard mask
    m.sum().backward()
    s = torch.sigmoid(scores.detach())
    assert torch.allclose(scores.grad, s * (1 - s))  # gradient of sigmoid(scores)
    assert not binarize(scores.detach(), 0.25).requires_grad


def test_mask_types_shapes_and_zero_fractions():
    torch.manual_seed(0)
    gen = MaskGenerator(16, channels=8)
    assert len(gen.convs) == 4 and gen.convs[-1].out_channels == 1
    feats = torch.randn(5, 16, 7, 7)
    for frac, k in ((0.25, 12), (1 / 3, 16)):
        m = generator_masks(gen, feats, frac)
        assert m.shape == (5, 1, 7, 7)
        assert ((m == 0).flatten(1).sum(1) == k).all()
    h = half_masks(40, 7, 7)
    assert h.shape == (40, 1, 7, 7) and ((h == 0).flatten(1).sum(1) == 21).all()
    for m in h[:, 0]:  # zeros form one half: 3 full columns or rows at one side
        zc, zr = (m == 0).all(0), (m == 0).all(1)
        assert zc[:3].all() or zc[4:].all() or zr[:3].all() or zr[4:].all()
    r = random_masks(6, 7, 7)
    assert r.shape == (6, 1, 7, 7) and ((r == 0).flatten(1).sum(1) == 24).all()
    assert not torch.equal(r[0], r[1])


# ---------------------------------------------------------------------- occlusion segmentation
def test_seg_targets_only_inside_enlarged_gt_boxes():
    occ = torch.zeros(64, 64, dtype=torch.uint8)
    occ[0:32, 0:16] = 1       # cells (0, 0), (1, 0) fully occluded
    occ[0:8, 16:32] = 1       # cell (0, 1): exactly half -> occluded
    occ[0:7, 32:48] = 1       # cell (0, 2): 7/16 -> not occluded
    box = torch.tensor([[16.0, 16.0, 48.0, 48.0]])
    assert enlarge_boxes(box, 1.3)[0].tolist() == pytest.approx([11.2, 11.2, 52.8, 52.8])
    targets, valid = occlusion_seg_targets([occ, None], [box, box], (4, 4), 16, 1.3)
    expect_t = torch.zeros(4, 4, dtype=torch.int64)
    expect_t[0, 0] = expect_t[1, 0] = expect_t[0, 1] = 1
    assert torch.equal(targets[0], expect_t)
    # cell centres 8, 24, 40, 56: 24 and 40 lie in [11.2, 52.8]
    expect_v = torch.zeros(4, 4, dtype=torch.bool)
    expect_v[1:3, 1:3] = True
    assert torch.equal(valid[0], expect_v)
    assert not valid[1].any()  # no occlusion mask -> not supervised
    # without enlargement the box [16, 48] still holds centres 24 and 40; a smaller box does not
    _, v_small = occlusion_seg_targets([occ], [torch.tensor([[18.0, 18.0, 38.0, 38.0]])],
                                       (4, 4), 16, 1.0)
    assert v_small[0].sum() == 1 and v_small[0, 1, 1]
    _, v_big = occlusion_seg_targets([occ], [torch.tensor([[18.0, 18.0, 38.0, 38.0]])],
                                     (4, 4), 16, 1.3)  # [15, 41]: centres 24 and 40
    assert v_big[0].sum() == 4
    # the loss ignores the unsupervised cells entirely
    logits = torch.zeros(2, 2, 4, 4)
    logits[:, 1][~valid] = 50.0
    loss = occlusion_seg_loss(logits, targets, valid)
    assert loss.item() == pytest.approx(F.cross_entropy(torch.zeros(4, 2), torch.zeros(4).long()).item())
    assert occlusion_seg_loss(logits, targets, torch.zeros_like(valid)).item() == 0.0
    # "sum" (the authors' Caffe normalize: false on the upsampled map): 4 supervised cells of
    # 16 x 16 pixels, log 2 each, over a batch of 2 images
    total = occlusion_seg_loss(logits, targets, valid, "sum", pixels_per_cell=256)
    assert total.item() == pytest.approx(4 * 256 * math.log(2) / 2, rel=1e-6)
    with pytest.raises(ValueError):
        occlusion_seg_loss(logits, targets, valid, "max")


def test_crop_occlusion_masks_from_image_map():
    prob = torch.zeros(1, 4, 4)
    prob[0, :, :2] = 1.0  # left half of the image occluded
    boxes = [torch.tensor([[0.0, 0.0, 20.0, 64.0], [44.0, 0.0, 60.0, 64.0]])]
    (crops,) = crop_occlusion_masks(prob, boxes, stride=16, enlarge=1.3, mask_size=5,
                                    image_sizes=[(64, 64)])
    assert crops.shape == (2, 5, 5)
    assert crops[0].min() > 0.99 and crops[1].max() < 0.01
    assert crop_occlusion_masks(prob, [torch.zeros(0, 4)], 16)[0].shape == (0, 14, 14)


# ---------------------------------------------------------------------- stages
def _grads(model):
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_detector_stage_losses_and_gradients():
    model = _model()
    assert isinstance(model, AOFD) and isinstance(model.roi_heads, AOFDROIHeads)
    assert model.training_stage == "detector"
    with EventStorage(0):
        losses = model(_batch())
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_rpn_cls", "loss_rpn_loc",
                           "loss_occlusion_seg"}
    sum(losses.values()).backward()
    got = _grads(model)
    assert not any("mask_generator" in n for n in got)
    for prefix in ("backbone.conv5_3", "proposal_generator.", "roi_heads.box_head.",
                   "roi_heads.box_predictor.", "seg_head."):
        assert any(n.startswith(prefix) for n in got), prefix
    assert not any(n.startswith("backbone.conv1_") for n in got)  # FREEZE_AT 2


def test_generator_stage_losses_and_gradients():
    model = _model()
    model.training_stage = "generator"
    assert model.roi_heads.training_stage == "generator"
    with EventStorage(0):
        losses = model(_batch())
    assert set(losses) == {"loss_generator"}
    terms = model.roi_heads.last_generator_terms
    gamma, eta = model.roi_heads.gamma, model.roi_heads.eta
    assert losses["loss_generator"].item() == pytest.approx(
        gamma * terms["loss_compact"].item() - eta * terms["loss_cls_masked"].item(), rel=1e-6)
    losses["loss_generator"].backward()
    got = _grads(model)
    assert got and all(n.startswith("roi_heads.mask_generator.") for n in got)
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith("backbone.conv1_") and not n.startswith("backbone.conv2_"))
    with pytest.raises(ValueError):
        model.training_stage = "both"
    model.training_stage = "detector"
    with EventStorage(0):
        assert "loss_generator" not in model(_batch())


def test_generator_gradient_sign_and_step_increases_detector_loss():
    """L_g falls as L_c rises: grad L_g = -eta grad L_c (gamma 0), and one generator step makes
    the detector's classification loss on the generator-masked RoIs larger."""
    model = _model("MODEL.AOFD.GAMMA", 0.0)
    model.training_stage = "generator"
    gen = model.roi_heads.mask_generator
    batch = _batch()

    def run():
        torch.manual_seed(3)  # same RPN / RoI sampling each time
        with EventStorage(0):
            loss = model(batch)["loss_generator"]
        return loss, model.roi_heads.last_generator_terms["loss_cls_masked"]

    loss, l_c = run()
    g_loss = torch.autograd.grad(loss, list(gen.parameters()), retain_graph=True)
    g_lc = torch.autograd.grad(l_c, list(gen.parameters()), retain_graph=True)
    assert any(g.abs().sum() > 0 for g in g_lc)
    for a, b in zip(g_loss, g_lc):
        assert torch.allclose(a, -model.roi_heads.eta * b)
    before = l_c.item()
    start = {k: v.clone() for k, v in gen.state_dict().items()}
    grads = torch.autograd.grad(loss, list(gen.parameters()))

    def l_c_after_step(sign):  # one SGD step (lr 50) against (+1) or along (-1) grad L_g
        gen.load_state_dict(start)
        with torch.no_grad():
            for p, g in zip(gen.parameters(), grads):
                p -= sign * 50.0 * g
        return run()[1].item()

    descent, ascent = l_c_after_step(+1), l_c_after_step(-1)
    assert descent > before  # the generator step makes the masked RoIs harder
    assert descent > ascent  # ... and the opposite step much less so (sign of the update)


def test_keep_unmasked_adds_masked_copies():
    sizes = {}
    for keep in (True, False):
        model = _model("MODEL.AOFD.KEEP_UNMASKED", keep)
        seen = []
        model.roi_heads.box_head.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
        torch.manual_seed(5)
        with EventStorage(0):
            model(_batch())
        types = model.roi_heads.last_mask_types
        sizes[keep] = (seen[0], len(types))
    (n_keep, pos_keep), (n_repl, pos_repl) = sizes[True], sizes[False]
    assert pos_keep == pos_repl > 0
    assert n_keep == n_repl + pos_keep


def test_generator_off():
    model = _model("MODEL.AOFD.GENERATOR_ON", False)
    assert model.roi_heads.mask_generator is None
    assert model.roi_heads.mask_types == ["half", "random"]
    with pytest.raises(ValueError):
        model.training_stage = "generator"


# ---------------------------------------------------------------------- forward / configs
def test_train_and_eval_forward_with_occlusion_masks():
    model = _model()
    with EventStorage(0):
        losses = model(_batch())
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    batch = _batch()
    batch[1]["height"], batch[1]["width"] = 128, 96  # outputs rescaled to the original size
    with torch.no_grad():
        out = model(batch)
    m = model.seg_mask_size
    for o, inp in zip(out, batch):
        inst = o["instances"]
        assert inst.has("pred_occlusion_masks") and len(inst) > 0
        assert inst.pred_occlusion_masks.shape == (len(inst), 1, m, m)
        assert inst.pred_occlusion_masks.min() >= 0 and inst.pred_occlusion_masks.max() <= 1
        assert o["occlusion_mask"].shape == (inp["height"], inp["width"])
        # facelib.api's contract: box-relative (N, 1, M, M) pasted into the boxes, per-image map
        from facelib.api import _image_mask, _instance_masks

        pasted = _instance_masks(inst.pred_occlusion_masks, inst.pred_boxes, inp["height"],
                                 inp["width"])
        assert pasted.shape == (len(inst), inp["height"], inp["width"])
        assert _image_mask(o["occlusion_mask"], inp["height"], inp["width"]).shape == pasted.shape[1:]
    # image-level map: cell (i, j) covers input pixels [16 j, 16 j + 16) x [16 i, 16 i + 16)
    prob = torch.zeros(4, 4)
    prob[1, 2] = 1.0
    full = model._image_map(prob, 60, 64, 60, 64)
    assert full.shape == (60, 64) and full.sum() == 256 and full[16:32, 32:48].min() == 1
    model_noseg = _model("MODEL.AOFD.SEGMENTATION_ON", False).eval()
    with torch.no_grad():
        o = model_noseg(_batch())[0]
    assert "occlusion_mask" not in o and not o["instances"].has("pred_occlusion_masks")


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPO, "configs", "aofd_*.yaml"))))
def test_configs_merge(path):
    cfg = get_face_cfg()
    cfg.merge_from_file(path)
    assert cfg.MODEL.META_ARCHITECTURE == "AOFD"
    assert cfg.MODEL.ROI_HEADS.NAME == "AOFDROIHeads"
    assert cfg.TRAINER.NAME == "AOFDTrainer"
    if "mnet025" in path:  # the CPU configs (docs/results.md) replace VGG16 by MobileNetV1-0.25
        assert cfg.MODEL.BACKBONE.NAME == "build_mobilenet_v1_backbone"
    else:
        assert cfg.MODEL.BACKBONE.NAME == "build_vgg16_backbone"
    assert cfg.MODEL.ROI_HEADS.POSITIVE_FRACTION == 0.25
    assert cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION == 7
    assert cfg.INPUT.FACE_AUG.LOAD_OCCLUSION_MASK
    assert cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS == [[1.7, 1.0, 1.3]]
    assert cfg.MODEL.AOFD.GENERATOR_DROP_FRACTION_TRAIN_G == 0.25
    if path.endswith("aofd_vgg16.yaml"):
        assert cfg.MODEL.ANCHOR_GENERATOR.SIZES == [[64, 128, 256, 512]]
        assert cfg.SOLVER.BASE_LR == 0.001 and cfg.SOLVER.IMS_PER_BATCH == 1
        assert cfg.INPUT.MIN_SIZE_TRAIN == (512, 1024) and cfg.INPUT.MAX_SIZE_TRAIN == 1024
        assert cfg.DATASETS.TRAIN == ("facemask_train",)
        # aspect ratio = h / w in detectron2: 1.7 is a tall anchor
        gen = build_anchor_generator(cfg, [ShapeSpec(channels=512, stride=16)])
        cell = list(gen.cell_anchors)[0]
        w, h = cell[:, 2] - cell[:, 0], cell[:, 3] - cell[:, 1]
        assert (h / w)[0].item() == pytest.approx(1.7, rel=1e-3)
        assert torch.sqrt(w * h)[::3].tolist() == pytest.approx([64, 128, 256, 512], rel=1e-3)


def test_all_modules_off_is_plain_faster_rcnn():
    """aofd_mnet025_facemask_frcnn.yaml's claim: no generator, no masks, no segmentation =
    detectron2's GeneralizedRCNN + StandardROIHeads (same parameters, same losses)."""
    off = ("MODEL.AOFD.GENERATOR_ON", False, "MODEL.AOFD.SEGMENTATION_ON", False,
           "MODEL.AOFD.MASK_TYPES", [])
    aofd = _model(*off)
    plain = _model(*off, "MODEL.META_ARCHITECTURE", "GeneralizedRCNN",
                   "MODEL.ROI_HEADS.NAME", "StandardROIHeads")
    assert type(plain).__name__ == "GeneralizedRCNN"
    sa, sp = aofd.state_dict(), plain.state_dict()
    assert sa.keys() == sp.keys() and all(torch.equal(sa[k], sp[k]) for k in sa)
    out = []
    for m in (aofd, plain):
        torch.manual_seed(3)
        with EventStorage(0):
            out.append(m(_batch()))
    assert out[0].keys() == out[1].keys()
    for k in out[0]:
        assert torch.allclose(out[0][k], out[1][k]), k


def test_segmentation_branch_learns_beyond_the_prior():
    """On a fixed batch the branch's loss falls below the entropy of the occluded / not-occluded
    prior of the supervised cells, i.e. it uses the features (a branch that only learned its bias
    would stop at the prior)."""
    model = _model("MODEL.AOFD.SEG_LOSS_REDUCTION", "mean", "MODEL.AOFD.SEG_LOSS_WEIGHT", 1.0)
    batch = _batch()
    opt = torch.optim.SGD(model.seg_head.parameters(), lr=0.001, momentum=0.9)
    with EventStorage(0):
        for _ in range(60):
            loss = model(batch)["loss_occlusion_seg"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        images = model.preprocess_image(batch)
        feats = model.backbone(images.tensor)[model.seg_in_feature]
    t, v = occlusion_seg_targets([b["occlusion_mask"] for b in batch],
                                 [b["instances"].gt_boxes.tensor for b in batch],
                                 tuple(feats.shape[-2:]), model.seg_stride, 1.3, images.image_sizes)
    p = t[v].float().mean().item()
    prior = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert 0 < p < 1
    assert loss.item() < 0.6 * prior


def test_inference_under_cpu_bf16_autocast():
    """RoIPool has no CPU autocast rule in torchvision; the pooler runs in float32 (Float32Pooler)."""
    model = _model().eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(_batch())
    assert len(out) == 2 and out[0]["instances"].has("pred_occlusion_masks")


def test_mask_type_shares_follow_the_list():
    """MODEL.AOFD.MASK_TYPES entries are drawn uniformly: a type listed twice gets twice the share."""
    model = _model("MODEL.AOFD.MASK_TYPES", ["half", "half", "half", "random"])
    heads = model.roi_heads
    assert heads.mask_types == ["half", "half", "half", "random"]
    pooled = torch.ones(400, 4, 7, 7)
    props = Instances((64, 64))
    props.gt_classes = torch.zeros(400, dtype=torch.int64)  # all positive
    props.proposal_boxes = Boxes(torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(400, 1))
    torch.manual_seed(0)
    heads._apply_masks(pooled, [props])
    share_random = (heads.last_mask_types == 3).float().mean().item()
    assert 0.17 < share_random < 0.33  # 1/4 expected
