"""The dense-detector core: per-image anchors through labels / losses / decoding (hand-made
cases), the assignment hook's view of the predictions, the anchor cache, and batched inference
equal to one image at a time."""
import pytest
import torch

import facelib  # noqa: F401
from detectron2.structures import Boxes
from detectron2.utils.events import EventStorage

from facelib.modeling.anchor_sets import anchors_of_image, check_anchors, is_per_image
from facelib.modeling.dense_inference import FlatDetections, decode_batched, rescale_and_split, select_per_image

from detection_asserts import assert_same_detections
from test_face_retinanet import ANCHORS, GT, _batch, _cfg, _gt_instances, _model


def _per_image_anchors():
    """Level 0: image 0 has ANCHORS, image 1 ANCHORS shifted right by 300 px (R = 10)."""
    shifted = ANCHORS + torch.tensor([300.0, 0.0, 300.0, 0.0])
    return [torch.stack([ANCHORS, shifted])]


def test_anchor_forms_and_errors():
    shared = [Boxes(ANCHORS)]
    per_image = _per_image_anchors()
    assert not is_per_image(shared) and is_per_image(per_image)
    torch.testing.assert_close(anchors_of_image(per_image, 1).tensor, per_image[0][1])
    torch.testing.assert_close(anchors_of_image(shared, 1).tensor, ANCHORS)
    with pytest.raises(ValueError, match="per-image anchors must be"):
        check_anchors(per_image, 3)
    with pytest.raises(ValueError, match="mix"):
        check_anchors([Boxes(ANCHORS), per_image[0]], 2)


def test_per_image_anchors_labels():
    model = _model()
    gts = [_gt_instances(), _gt_instances()]
    labels, boxes = model.label_anchors(_per_image_anchors(), gts)
    bg = model.num_classes
    # image 0: the hand-computed labels of test_label_anchors_honours_gt_ignore
    assert labels[0].tolist() == [0, 0, -1, bg, -1, -1, bg, bg, -1, 0]
    # image 1: anchors moved by +300 px in x: a0..a3 now sit on A2 / B2 ([300, 0, 310, 10/12])
    want1 = model.label_anchors([Boxes(_per_image_anchors()[0][1])], [_gt_instances()])[0][0]
    assert labels[1].tolist() == want1.tolist()
    assert labels[1].tolist() != labels[0].tolist()
    # a0 of image 1 = [300, 0, 310, 10]: IoU(A2) 1 > IoU(B2) 0.833 -> positive, matched to A2
    assert labels[1][0] == 0 and boxes[1][0].tolist() == GT[2].tolist()


def test_per_image_anchors_regression_loss_equals_image_by_image():
    model = _model()
    anchors = _per_image_anchors()
    gts = [_gt_instances(), _gt_instances()]
    labels, boxes = model.label_anchors(anchors, gts)
    g = torch.Generator().manual_seed(0)
    deltas = [torch.randn(2, 10, 4, generator=g)]
    pos = torch.stack(labels) == 0
    total = model.box_regression_loss(anchors, deltas, boxes, pos)
    by_image = sum(
        float(model.box_regression_loss([Boxes(anchors[0][i])], [deltas[0][i : i + 1]], [boxes[i]], pos[i : i + 1]))
        for i in range(2)
    )
    assert float(total) == pytest.approx(by_image, rel=1e-6)
    # smooth L1 of one positive by hand: image 1, anchor 0 = A2 itself, so the target deltas are 0
    i, j = 1, 0
    d = deltas[0][i, j]
    beta = model.smooth_l1_beta
    ref = torch.where(d.abs() < beta, 0.5 * d**2 / beta, d.abs() - 0.5 * beta).sum() if beta > 0 else d.abs().sum()
    single = model.box_regression_loss(
        [Boxes(anchors[0][i][j : j + 1])], [deltas[0][i : i + 1, j : j + 1]], [boxes[i][j : j + 1]],
        torch.ones(1, 1, dtype=torch.bool),
    )
    assert float(single) == pytest.approx(float(ref), rel=1e-6)


def test_per_image_anchors_decoding():
    """Zero deltas decode to each image's own anchors; scores and classes are kept."""
    anchors = _per_image_anchors()
    logits = [torch.full((2, 10, 1), -5.0)]
    logits[0][0, 3, 0] = 2.0
    logits[0][1, 7, 0] = 1.0
    deltas = [torch.zeros(2, 10, 4)]
    dets = decode_batched(anchors, logits, deltas, _model().box2box_transform, 0.5, 1000)
    assert dets.image_idx.tolist() == [0, 1]
    torch.testing.assert_close(dets.boxes, torch.stack([anchors[0][0, 3], anchors[0][1, 7]]))
    torch.testing.assert_close(dets.scores, torch.sigmoid(torch.tensor([2.0, 1.0])))
    # the shared form of image 1's anchors gives the same box
    shared = decode_batched([Boxes(anchors[0][1])], [logits[0][1:]], [deltas[0][1:]],
                            _model().box2box_transform, 0.5, 1000)
    torch.testing.assert_close(shared.boxes, anchors[0][1, 7:8])


def test_select_and_rescale_per_image():
    """NMS never crosses images; each image keeps its best `max_detections`; boxes are scaled to
    the output size and clipped, empty ones dropped."""
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [50, 0, 60, 4]], dtype=torch.float32)
    dets = FlatDetections(boxes, torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95]), torch.zeros(5, dtype=torch.int64),
                          torch.tensor([0, 1, 0, 0, 1]))
    kept = select_per_image(dets, 2, 1, 0.5, max_detections=1)
    # image 0: boxes 0 (0.9) and 2 (0.7, IoU 0.81 with box 0) and 3 (0.6): NMS keeps 0 and 3, top-1 keeps 0
    # image 1: box 1 (0.8) and 4 (0.95): both kept by NMS (identical box 1 of image 0 is another image)
    assert kept.image_idx.tolist() == [0, 1] and kept.scores.tolist() == pytest.approx([0.9, 0.95])
    out = rescale_and_split(kept, [(40, 40), (40, 40)], [(80, 20), (8, 100)])
    torch.testing.assert_close(out[0].pred_boxes.tensor, torch.tensor([[0.0, 0.0, 5.0, 20.0]]))
    # image 1: x *= 2.5, y *= 0.2 -> [125, 0, 150, 0.8], clipped to width 100 -> empty, dropped
    assert len(out[1]) == 0 and out[1].image_size == (8, 100)


def test_assignment_hook_sees_current_predictions():
    seen = []

    class _Recording(type(_model())):
        def match_anchors_per_image(self, anchors, gt_per_image, predictions=None, matcher=None, level_sizes=None):
            seen.append((predictions.scores.clone(), predictions.boxes.clone(), anchors.tensor.clone(), level_sizes))
            return super().match_anchors_per_image(anchors, gt_per_image, predictions, matcher=matcher,
                                                   level_sizes=level_sizes)

    model = _Recording(_cfg())
    model.train()
    batch = _batch()
    with EventStorage():
        model(batch)
    assert len(seen) == len(batch)
    images = model.preprocess_image(batch)
    feats = model.forward_features(images)
    logits, deltas = model.transpose_predictions(model.head_outputs(feats))
    for i, (scores, boxes, anchors, sizes) in enumerate(seen):
        assert sizes == [x.shape[1] for x in logits] and sum(sizes) == len(anchors)
        torch.testing.assert_close(scores, torch.cat([x[i] for x in logits]).sigmoid())
        want = model.box2box_transform.apply_deltas(torch.cat([x[i] for x in deltas]), anchors)
        torch.testing.assert_close(boxes, want)


def test_anchor_cache_per_size():
    model = _model()
    f1 = [torch.zeros(1, 8, 8, 8), torch.zeros(1, 8, 4, 4)]
    f2 = [torch.zeros(2, 8, 6, 6), torch.zeros(2, 8, 3, 3)]
    a1 = model.anchors_for(f1)
    assert model.anchors_for([torch.zeros(3, 8, 8, 8), torch.zeros(3, 8, 4, 4)]) is a1
    a2 = model.anchors_for(f2)
    assert a2 is not a1 and len(a2[0]) == 6 * 6 * 2
    for x, y in zip(model.anchor_generator(f2), a2):
        torch.testing.assert_close(x.tensor, y.tensor)
    model.to(torch.float64)
    assert model.anchors_for(f1) is not a1  # moving the model empties the cache


def _reference_candidates(anchors, logits, deltas, box2box, thresh, topk):
    """detectron2's per-image, per-level rule: the level's top-k scores, then the threshold."""
    out = set()
    for i in range(logits[0].shape[0]):
        for a, lg, dl in zip(anchors, logits, deltas):
            k = lg.shape[2]
            s = lg[i].sigmoid().flatten()
            top_s, top_i = s.topk(min(topk, s.numel()))
            for score, idx in zip(top_s[top_s > thresh].tolist(), top_i[top_s > thresh].tolist()):
                box = box2box.apply_deltas(dl[i, idx // k][None], a.tensor[idx // k][None])[0]
                out.add((i, idx % k, round(score, 6), tuple(round(v, 3) for v in box.tolist())))
    return out


def test_decode_batched_equals_per_level_topk_then_threshold():
    """Levels over the top-k budget (some images only) and under it give detectron2's candidates."""
    g = torch.Generator().manual_seed(3)
    sizes, k, n = (30, 12, 4), 2, 3
    anchors = [Boxes(torch.rand(r, 2, generator=g).repeat(1, 2) * 50 + torch.tensor([0, 0, 10.0, 10.0]))
               for r in sizes]
    logits = [torch.randn(n, r, k, generator=g) for r in sizes]
    logits[0][1] += 3.0  # image 1 has far more than topk candidates on level 0
    deltas = [torch.randn(n, r, 4, generator=g) * 0.1 for r in sizes]
    box2box = _model().box2box_transform
    for thresh, topk in ((0.5, 6), (0.9, 6), (0.2, 1000), (0.0, 3)):
        dets = decode_batched(anchors, logits, deltas, box2box, thresh, topk)
        got = {
            (i, c, round(s, 6), tuple(round(v, 3) for v in b))
            for i, c, s, b in zip(dets.image_idx.tolist(), dets.classes.tolist(), dets.scores.tolist(),
                                  dets.boxes.tolist())
        }
        assert got == _reference_candidates(anchors, logits, deltas, box2box, thresh, topk), (thresh, topk)
        assert len(got) == len(dets)  # no duplicates
        assert dets.image_idx.tolist() == sorted(dets.image_idx.tolist())  # grouped by image


def test_apply_box_deltas_equals_box2box_transform_to_the_bit():
    from detectron2.modeling.box_regression import Box2BoxTransform

    from facelib.modeling.dense_inference import apply_box_deltas

    g = torch.Generator().manual_seed(6)
    xy = torch.rand(300, 2, generator=g) * 500
    boxes = torch.cat([xy, xy + 1 + torch.rand(300, 2, generator=g) * 200], dim=1)
    deltas = torch.randn(300, 4, generator=g) * 2
    deltas[0, 2:] = 10.0  # beyond scale_clamp (log(1000 / 16))
    for weights in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
        t = Box2BoxTransform(weights)
        assert torch.equal(apply_box_deltas(t, deltas, boxes), t.apply_deltas(deltas, boxes))

    class Shifted(Box2BoxTransform):  # another transform keeps its own apply_deltas
        def apply_deltas(self, deltas, boxes):
            return super().apply_deltas(deltas, boxes) + 1.0

    s = Shifted((1.0, 1.0, 1.0, 1.0))
    assert torch.equal(apply_box_deltas(s, deltas, boxes), s.apply_deltas(deltas, boxes))


def test_select_per_image_one_image_equals_batched_path():
    """The one-image, one-class shortcut (plain NMS) keeps what the batched path keeps."""
    g = torch.Generator().manual_seed(4)
    xy = torch.rand(200, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 10 + torch.rand(200, 2, generator=g) * 30], dim=1)
    scores = torch.rand(200, generator=g)
    zeros = torch.zeros(200, dtype=torch.long)
    dets = FlatDetections(boxes, scores, zeros, zeros)
    one = select_per_image(dets, 1, 1, 0.4, max_detections=25)
    # the same detections as image 0 of two (image 1 empty) take the batched_nms path
    two = select_per_image(dets, 2, 1, 0.4, max_detections=25)
    assert len(one) == 25 and torch.equal(one.boxes, two.boxes) and torch.equal(one.scores, two.scores)
    assert one.scores.tolist() == sorted(one.scores.tolist(), reverse=True)


def test_batched_inference_equals_one_by_one():
    """Same-size images (no padding differences): one batch of three = three batches of one."""
    model = _model()
    model.test_score_thresh = 0.0
    model.eval()
    g = torch.Generator().manual_seed(5)
    inputs = [{"image": torch.rand(3, 64, 64, generator=g) * 255, "height": h, "width": w}
              for h, w in ((64, 64), (128, 96), (50, 70))]
    with torch.no_grad():
        together = model(inputs)
        alone = [model([x])[0] for x in inputs]
    for a, b in zip(together, alone):
        ia, ib = a["instances"], b["instances"]
        assert ia.image_size == ib.image_size and len(ia) == len(ib) > 0
        # as sets: the batch's convolutions differ from one image's in the last bits, which may
        # swap detections of scores tied to 1e-8
        assert_same_detections(ia, ib)


def test_box_rasterizer_rules_by_hand():
    from facelib.modeling.box_rasterizer import rasterize_boxes

    # stride 8, 4x5 grid; box x 6..17, y 0..9: touches columns 0, 1, 2 (floor(6/8) = 0, ceil(17/8) = 3)
    # and rows 0, 1; the cell centres 4, 12, 20 (x) and 4, 12 (y): centres inside are x 12, y 4
    box = torch.tensor([[6.0, 0.0, 17.0, 9.0]])
    touch = rasterize_boxes(box, (4, 5), 8, "touch")
    assert touch.nonzero().tolist() == [[r, c] for r in (0, 1) for c in (0, 1, 2)]
    center = rasterize_boxes(box, (4, 5), 8, "center")
    assert center.nonzero().tolist() == [[0, 1]]
    # a box on a centre is inside (closed); boxes outside the grid are clipped; no boxes -> empty
    assert rasterize_boxes(torch.tensor([[12.0, 4.0, 12.0, 4.0]]), (4, 5), 8, "center").nonzero().tolist() == [[0, 1]]
    assert rasterize_boxes(torch.tensor([[-20.0, 30.0, 100.0, 90.0]]), (4, 5), 8).sum() == 5
    assert rasterize_boxes(torch.zeros(0, 4), (4, 5), 8).sum() == 0
    with pytest.raises(ValueError, match="rule"):
        rasterize_boxes(box, (4, 5), 8, "area")
