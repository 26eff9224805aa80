"""FaceDetectorWithTTA: multi-scale merging (NMS / box voting), exact flip, scale-range filtering."""
import pytest
import torch
from torch import nn

import facelib  # noqa: F401
from detectron2.config import get_cfg
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from facelib.modeling.tta import (
    FaceDetectorWithTTA,
    add_face_tta_config,
    box_vote,
    filter_by_scale_range,
    hflip_instances,
    merge_detections,
)


class _TableDetector(nn.Module):
    """Returns fixed detections (input-image coordinates) looked up by the input width, then
    rescales them to the requested height / width like every detectron2 model."""

    def __init__(self, table):
        super().__init__()
        self.table = table  # width -> list of ([x0, y0, x1, y1], score)
        self.seen = []

    def forward(self, batched_inputs):
        out = []
        for d in batched_inputs:
            h, w = d["image"].shape[-2:]
            self.seen.append((h, w))
            dets = self.table.get(w, [])
            inst = Instances((h, w))
            inst.pred_boxes = Boxes(torch.tensor([b for b, _ in dets], dtype=torch.float32).reshape(-1, 4))
            inst.scores = torch.tensor([s for _, s in dets], dtype=torch.float32)
            inst.pred_classes = torch.zeros(len(dets), dtype=torch.int64)
            out.append({"instances": detector_postprocess(inst, d.get("height", h), d.get("width", w))})
        return out


class _BrightBoxDetector(nn.Module):
    """'Detects' the bounding box of the non-zero pixels, score 0.9."""

    def forward(self, batched_inputs):
        out = []
        for d in batched_inputs:
            img = d["image"]
            h, w = img.shape[-2:]
            ys, xs = torch.nonzero(img.sum(0) > 0, as_tuple=True)
            inst = Instances((h, w))
            inst.pred_boxes = Boxes(
                torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=torch.float32)
            )
            inst.scores = torch.tensor([0.9])
            inst.pred_classes = torch.zeros(1, dtype=torch.int64)
            out.append({"instances": detector_postprocess(inst, d.get("height", h), d.get("width", w))})
        return out


# original image 100 x 100; sizes 50 (x0.5) and 200 (x2)
TABLE = {
    50: [([10, 10, 30, 30], 0.9)],  # -> original [20, 20, 60, 60], 0.9
    200: [([44, 44, 124, 124], 0.6), ([0, 160, 20, 180], 0.5)],  # -> [22, 22, 62, 62] and [0, 80, 10, 90]
}


def _tta(model, **kw):
    args = dict(min_sizes=(50, 200), max_size=1000, flip=False, merge="nms")
    args.update(kw)
    return FaceDetectorWithTTA(model, **args)


def _run(tta, h=100, w=100):
    (out,) = tta([{"image": torch.zeros(3, h, w), "height": h, "width": w}])
    return out["instances"]


def test_two_scales_merge_by_nms():
    model = _TableDetector(TABLE)
    inst = _run(_tta(model, merge="nms", nms_thresh=0.4))
    assert sorted(model.seen) == [(50, 50), (200, 200)]
    # IoU([20,20,60,60], [22,22,62,62]) = 1444 / 1756 = 0.82 -> one box, the higher-scoring one
    assert len(inst) == 2
    torch.testing.assert_close(inst.pred_boxes.tensor, torch.tensor([[20.0, 20, 60, 60], [0, 80, 10, 90]]))
    torch.testing.assert_close(inst.scores, torch.tensor([0.9, 0.5]))


def test_two_scales_merge_by_voting():
    inst = _run(_tta(_TableDetector(TABLE), merge="vote", vote_thresh=0.3))
    # (0.9 * 20 + 0.6 * 22) / 1.5 = 20.8 ; (0.9 * 60 + 0.6 * 62) / 1.5 = 60.8 ; score = max = 0.9.
    # The lone [0, 80, 10, 90] is a single-box cluster: dropped, as S3FD / DSFD / SRN bbox_vote.
    assert len(inst) == 1
    torch.testing.assert_close(inst.pred_boxes.tensor, torch.tensor([[20.8, 20.8, 60.8, 60.8]]))
    torch.testing.assert_close(inst.scores, torch.tensor([0.9]))
    kept = _run(_tta(_TableDetector(TABLE), merge="vote", vote_drop_singletons=False))
    torch.testing.assert_close(kept.pred_boxes.tensor, torch.tensor([[20.8, 20.8, 60.8, 60.8], [0, 80, 10, 90]]))
    torch.testing.assert_close(kept.scores, torch.tensor([0.9, 0.5]))


def test_box_vote_threshold_and_classes():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 20], [0, 0, 10, 10.5]])
    scores = torch.tensor([0.8, 0.7, 0.5])
    # IoU(b0, b1) = 0.5: merged at 0.3 (DSFD), still at 0.5 (SRN), not at 0.6
    b, s = box_vote(boxes, scores, 0.5)
    torch.testing.assert_close(b, ((boxes * scores[:, None]).sum(0) / scores.sum())[None])
    torch.testing.assert_close(s, torch.tensor([0.8]))
    b, s = box_vote(boxes, scores, 0.6, drop_singletons=False)
    # clusters {b0, b2} (IoU 0.952) and {b1}
    torch.testing.assert_close(
        b, torch.tensor([[0.0, 0, 10, (0.8 * 10 + 0.5 * 10.5) / 1.3], [0, 0, 10, 20]])
    )
    # voting never mixes classes
    inst = Instances((30, 30), pred_boxes=Boxes(boxes[:2]), scores=scores[:2], pred_classes=torch.tensor([0, 1]))
    merged = merge_detections(inst, "vote", vote_thresh=0.3, drop_singletons=False)
    assert len(merged) == 2 and merged.pred_classes.tolist() == [0, 1]
    assert len(box_vote(torch.zeros(0, 4), torch.zeros(0))[0]) == 0


def test_flip_unflips_exactly():
    inst = Instances((80, 100), pred_boxes=Boxes(torch.tensor([[10.0, 20, 30, 40]])), scores=torch.tensor([1.0]))
    flipped = hflip_instances(inst, 100)
    torch.testing.assert_close(flipped.pred_boxes.tensor, torch.tensor([[70.0, 20, 90, 40]]))
    torch.testing.assert_close(hflip_instances(flipped, 100).pred_boxes.tensor, inst.pred_boxes.tensor)
    # end to end: a face at x 10..30, y 20..40 on an 80 x 100 image, original size + flip
    img = torch.zeros(3, 80, 100)
    img[:, 20:40, 10:30] = 1.0
    for merge in ("nms", "vote"):
        tta = FaceDetectorWithTTA(_BrightBoxDetector(), min_sizes=(0,), flip=True, merge=merge)
        (out,) = tta([{"image": img, "height": 80, "width": 100}])
        torch.testing.assert_close(out["instances"].pred_boxes.tensor, torch.tensor([[10.0, 20, 30, 40]]))


def test_flip_with_resize_maps_back_to_original():
    img = torch.zeros(3, 80, 100)
    img[:, 20:40, 10:30] = 1.0
    tta = FaceDetectorWithTTA(_BrightBoxDetector(), min_sizes=(160,), max_size=1000, flip=True, merge="nms")
    (out,) = tta([{"image": img, "height": 80, "width": 100}])
    # x2 bilinear upsampling blurs the edges by <= 1 input pixel -> <= 0.5 original pixel
    torch.testing.assert_close(
        out["instances"].pred_boxes.tensor, torch.tensor([[10.0, 20, 30, 40]]), atol=0.5, rtol=0
    )


def test_scale_range_filtering():
    boxes = torch.tensor([[0.0, 0, 20, 20], [0, 0, 50, 50], [0, 0, 150, 120], [0, 0, 25, 110]])
    inst = Instances((200, 200), pred_boxes=Boxes(boxes), scores=torch.ones(4))

    def kept(r):
        return filter_by_scale_range(inst, r).pred_boxes.tensor.tolist()

    # shrunk image, S3FD: max(w, h) > 30
    assert kept((30, -1)) == boxes[[1, 2, 3]].tolist()
    # enlarged image, S3FD: min(w, h) < 100
    assert kept((-1, 100)) == boxes[[0, 1, 3]].tolist()
    assert kept((-1, -1)) == boxes.tolist() and kept(None) == boxes.tolist()
    # in the wrapper: the x0.5 run keeps only big faces, the x2 run only small ones
    table = {
        50: [([2, 2, 10, 10], 0.9), ([5, 5, 45, 45], 0.8)],  # -> 16 px (dropped), 80 px (kept)
        200: [([100, 100, 140, 140], 0.7), ([0, 0, 180, 180], 0.6)],  # -> 20 px (kept), 90 px (dropped)
    }
    tta = _tta(_TableDetector(table), scale_ranges=[(30, -1), (-1, 50)])
    out = _run(tta)
    torch.testing.assert_close(out.pred_boxes.tensor, torch.tensor([[10.0, 10, 90, 90], [50, 50, 70, 70]]))


def test_config_and_validation():
    cfg = add_face_tta_config(get_cfg())
    t = cfg.TEST.FACE_TTA
    assert t.MERGE in ("nms", "vote") and t.VOTE_THRESH == 0.3 and not t.ENABLED
    t.MIN_SIZES = (50, 200)
    t.MAX_SIZE = 1000
    t.FLIP = False
    t.MERGE = "nms"
    t.SCALE_RANGES = [(-1, -1), (-1, -1)]
    tta = FaceDetectorWithTTA(cfg, _TableDetector(TABLE))
    assert len(_run(tta)) == 2
    assert tta.resized_shape(100, 300, 50) == (50, 150)
    assert tta.resized_shape(100, 300, 400) == (333, 1000)  # capped by MAX_SIZE
    with pytest.raises(ValueError):
        FaceDetectorWithTTA(_TableDetector(TABLE), min_sizes=(50, 200), scale_ranges=[(30, -1)])
    with pytest.raises(ValueError):
        FaceDetectorWithTTA(_TableDetector(TABLE), merge="wbf")
