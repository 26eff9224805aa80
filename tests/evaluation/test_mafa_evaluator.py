"""MAFA / face-mask AP protocols on a hand-made two-image set (expected APs worked out below)."""
import os
import uuid

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode, Boxes, Instances

from facelib.evaluation.mafa import (
    FaceMaskEvaluator,
    MAFAEvaluator,
    match_protocol,
    protocol_flags,
    square_boxes,
)


def _ann(box, masked=False, ignore=0):
    return {"bbox": list(box), "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 0,
            "ignore": ignore, "masked": masked}


# image "a": F0 masked, F1 unmasked, F2 ignored (face_type 3); image "b": F3 masked
DICTS = [
    {"file_name": "a.jpg", "image_id": "a", "height": 1000, "width": 1000, "annotations": [
        _ann([0, 0, 100, 100], masked=True),
        _ann([200, 0, 100, 100], masked=False),
        _ann([400, 0, 100, 100], masked=True, ignore=1),
    ]},
    {"file_name": "b.jpg", "image_id": "b", "height": 1000, "width": 1000, "annotations": [
        _ann([0, 0, 50, 50], masked=True),
    ]},
]

# predictions (XYWH, score). p0 is a tall box inside F0: IoU 4000/10000 = 0.4 as it is, 1.0 once
# squared with side max(w, h) = 100 around the same centre (50, 50); sqrt(40 * 100) = 63.2 gives 0.4.
PREDS = {
    "a": (np.array([[30, 0, 40, 100],  # p0 .90 -> F0 (only when squared with max)
                    [200, 0, 100, 100],  # p1 .80 -> F1
                    [400, 0, 100, 100],  # p2 .70 -> F2 (ignored face)
                    [600, 600, 50, 50]],  # p3 .60 -> nothing
                   dtype=np.float64), np.array([0.9, 0.8, 0.7, 0.6])),
    "b": (np.array([[0, 0, 50, 50],  # p4 .85 -> F3
                    [300, 300, 50, 50]],  # p5 .95 -> nothing
                   dtype=np.float64), np.array([0.85, 0.95])),
}


@pytest.fixture
def dataset():
    name = f"test_mafa_{uuid.uuid4().hex[:8]}"
    DatasetCatalog.register(name, lambda: [dict(d) for d in DICTS])
    MetadataCatalog.get(name).set(thing_classes=["face"], evaluator_type="mafa")
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_square_boxes():
    sq = square_boxes([[30, 0, 40, 100], [0, 0, 50, 50]], "max")
    np.testing.assert_allclose(sq, [[0, 0, 100, 100], [0, 0, 50, 50]])
    side = np.sqrt(4000.0)
    np.testing.assert_allclose(square_boxes([[30, 0, 40, 100]], "sqrt"),
                               [[50 - side / 2, 50 - side / 2, side, side]])
    np.testing.assert_allclose(square_boxes([[30, 0, 40, 100]], None), [[30, 0, 40, 100]])
    with pytest.raises(ValueError):
        square_boxes([[0, 0, 1, 1]], "min")


def test_protocol_flags():
    ignore = np.array([False, False, True, True])
    masked = np.array([True, False, True, False])
    assert protocol_flags("all", ignore, masked)[0].tolist() == [True, True, False, False]
    assert protocol_flags("masked", ignore, masked)[0].tolist() == [True, False, False, False]
    assert protocol_flags("all_with_ignored", ignore, masked)[0].tolist() == [True] * 4
    # AOFD's rule: same positives as "masked", only the ignore=1 faces are ignored; the unmasked
    # face (index 1) is neither: background
    positive, ignored = protocol_flags("masked_strict", ignore, masked)
    assert positive.tolist() == [True, False, False, False]
    assert ignored.tolist() == [False, False, True, True]
    with pytest.raises(ValueError):
        protocol_flags("unmasked", ignore, masked)


def test_mafa_protocols_square_max(dataset, tmp_path):
    ev = MAFAEvaluator(dataset, output_dir=str(tmp_path), distributed=False)
    res = ev.evaluate_predictions(PREDS)["mafa"]
    assert list(res) == ["AP_all", "AP_masked", "AP_all_with_ignored", "AP_masked_strict"]
    # all (F0 F1 F3 positive, F2 ignored): p5 FP, p0 TP, p4 TP, p1 TP, (p2 ignored), p3 FP
    #   recall 0 1/3 2/3 1 1, precision 0 .5 .667 .75 .6 -> envelope .75 everywhere -> AP 75
    assert res["AP_all"] == pytest.approx(75.0)
    # masked (F0 F3 positive; F1, F2 ignored): p5 FP, p0 TP, p4 TP, (p1, p2 ignored), p3 FP
    #   recall 0 .5 1 1, precision 0 .5 2/3 .5 -> envelope 2/3 -> AP 66.67
    assert res["AP_masked"] == pytest.approx(200.0 / 3)
    # all_with_ignored (4 positives): p5 FP, p0 p4 p1 p2 TP, p3 FP -> precision .8 at recall 1 -> 80
    assert res["AP_all_with_ignored"] == pytest.approx(80.0)
    # masked_strict (F0 F3 positive, F1 background, F2 ignored): p1 now FP (it overlaps no kept
    #   face), the rest as for masked: p5 FP, p0 TP, p4 TP, p1 FP, p3 FP: recall 0 .5 1 1 1,
    #   precision 0 .5 2/3 .5 .4 -> envelope 2/3 -> AP 66.67 (the p1 FP comes after recall 1)
    assert res["AP_masked_strict"] == pytest.approx(200.0 / 3)
    assert os.path.isfile(tmp_path / "mafa_pr.npz")
    assert os.path.getsize(tmp_path / "mafa_pr.png") > 0
    pr = np.load(tmp_path / "mafa_pr.npz")
    np.testing.assert_allclose(pr["masked_recall"], [0, 0.5, 1, 1])


@pytest.mark.parametrize("square", [None, "sqrt"])
def test_mafa_without_max_squaring(dataset, square):
    ev = MAFAEvaluator(dataset, square=square, protocols=["all"], distributed=False)
    res = ev.evaluate_predictions(PREDS)["mafa"]
    # p0 keeps IoU 0.4 -> FP: p5 FP, p0 FP, p4 TP, p1 TP, p3 FP: recall 0 0 1/3 2/3 2/3,
    # precision 0 0 1/3 .5 .4 -> envelope .5 up to 2/3, recall 1 never reached -> AP = 2/3 * .5
    assert list(res) == ["AP_all"]
    assert res["AP_all"] == pytest.approx(100.0 / 3)


def test_facemask_defaults(dataset):
    ev = FaceMaskEvaluator(dataset, distributed=False)
    out = ev.evaluate_predictions(PREDS)
    assert list(out) == ["facemask"]
    res = out["facemask"]
    assert list(res) == ["AP_all", "AP_masked"]
    assert res["AP_all"] == pytest.approx(100.0 / 3)  # no squaring: as in the test above
    # masked: p5 FP, p0 FP, p4 TP, p3 FP -> precision 1/3 at recall .5 -> AP = .5 / 3
    assert res["AP_masked"] == pytest.approx(50.0 / 3)


def test_extra_iou_thresholds_and_false_positives_at_recalls(dataset):
    """"all" (F2 ignored: 3 faces), no squaring. At IoU 0.5 the score order is p5 FP, p0 FP (IoU
    0.4), p4 TP, p1 TP, (p2 ignored), p3 FP: recall 1/3 first at p4 with 2 FPs, 2/3 at p1 with 2,
    1 never (NaN). At IoU 0.3 p0 matches F0: p5 FP, p0 TP, p4 TP, p1 TP, p3 FP -> precision
    envelope 0.75 over the whole recall range: AP 75."""
    ev = FaceMaskEvaluator(dataset, distributed=False, extra_iou_thresholds=[0.3], fp_at_recalls=[0.3, 0.6, 1.0])
    res = ev.evaluate_predictions(PREDS)["facemask"]
    assert res["AP_all"] == pytest.approx(100.0 / 3)
    assert res["AP_all@0.3"] == pytest.approx(75.0)
    assert res["FP@0.3_all"] == 2 and res["FP@0.6_all"] == 2 and np.isnan(res["FP@1_all"])
    # masked (F0, F3): p5 FP, p0 FP, p4 TP (recall .5), p3 FP
    assert res["FP@0.3_masked"] == 2 and np.isnan(res["FP@0.6_masked"])
    with pytest.raises(ValueError, match="fractions"):
        FaceMaskEvaluator(dataset, distributed=False, fp_at_recalls=[30]).evaluate_predictions(PREDS)


# one image: M masked, U unmasked, I ignored (face_type 3, not masked), a detection on each
STRICT_DICTS = [
    {"file_name": "s.jpg", "image_id": "s", "height": 500, "width": 500, "annotations": [
        _ann([0, 0, 100, 100], masked=True),  # M
        _ann([200, 0, 100, 100], masked=False),  # U
        _ann([0, 200, 100, 100], masked=False, ignore=1),  # I
    ]},
]
STRICT_PREDS = {
    "s": (np.array([[200, 0, 100, 100],  # dU .9 -> U
                    [0, 200, 100, 100],  # dI .8 -> I
                    [0, 0, 100, 100]],  # dM .7 -> M
                   dtype=np.float64), np.array([0.9, 0.8, 0.7])),
}


def test_masked_strict_counts_unmasked_detections_as_fp():
    """LLE-CNN / FAN rule vs AOFD's rule on one hand-made image (AP worked out by hand)."""
    name = f"test_mafa_strict_{uuid.uuid4().hex[:8]}"
    DatasetCatalog.register(name, lambda: [dict(d) for d in STRICT_DICTS])
    MetadataCatalog.get(name).set(thing_classes=["face"], evaluator_type="mafa")
    try:
        ev = MAFAEvaluator(name, protocols=["masked", "masked_strict", "all"], distributed=False)
        res = ev.evaluate_predictions(STRICT_PREDS)["mafa"]
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    # masked (LLE-CNN, FAN): dU and dI hit ignored faces; dM TP -> precision 1 at recall 1 -> 100
    assert res["AP_masked"] == pytest.approx(100.0)
    # masked_strict (AOFD): dU FP (U is background), dI still ignored, dM TP:
    #   recall 0 1, precision 0 .5 -> AP .5 (33.3 if dI were a FP too)
    assert res["AP_masked_strict"] == pytest.approx(50.0)
    # all: dU TP, dI ignored, dM TP -> 100
    assert res["AP_all"] == pytest.approx(100.0)
    np.testing.assert_allclose(ev.pr_curves["masked_strict"][0], [0, 1])
    np.testing.assert_allclose(ev.pr_curves["masked_strict"][1], [0, 0.5])


def test_match_protocol_gt_index_refers_to_all_faces():
    rec = {"boxes": np.array([[0, 0, 100, 100], [200, 0, 100, 100], [0, 200, 100, 100]], dtype=float),
           "ignore": np.array([False, False, True]), "masked": np.array([False, True, False])}
    boxes, scores = STRICT_PREDS["s"]
    m = match_protocol("masked_strict", boxes, scores, rec)
    # face 0 (unmasked) is background: dU hits face 1 (TP), dI face 2 (ignored), dM nothing (FP)
    assert m.gt_index.tolist() == [1, 2, -1]
    assert m.tp.tolist() == [True, False, False] and m.fp.tolist() == [False, False, True]
    assert m.num_pos == 1
    # only background faces: every detection is a FP, no positive
    rec_u = {"boxes": rec["boxes"][:1], "ignore": np.array([False]), "masked": np.array([False])}
    m = match_protocol("masked_strict", boxes, scores, rec_u)
    assert m.fp.all() and m.num_pos == 0 and (m.gt_index == -1).all()


def test_process_path_and_missing_image(dataset):
    """Detections go through process() (XYXY instances); image "b" gets none at all."""
    ev = MAFAEvaluator(dataset, protocols=["masked"], distributed=False)
    inst = Instances((1000, 1000))
    boxes = PREDS["a"][0].copy()
    boxes[:, 2:] += boxes[:, :2]
    inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
    inst.scores = torch.tensor(PREDS["a"][1], dtype=torch.float32)
    ev.reset()
    ev.process([{"image_id": "a"}], [{"instances": inst}])
    res = ev.evaluate()["mafa"]
    # masked: p0 TP (F0); p1, p2 ignored; p3 FP; F3 (image b) missed -> precision 1 at recall .5
    assert res["AP_masked"] == pytest.approx(50.0)


def test_bad_arguments(dataset):
    with pytest.raises(ValueError):
        MAFAEvaluator(dataset, protocols=["unmasked"], distributed=False)
    with pytest.raises(ValueError):
        MAFAEvaluator(dataset, square="min", distributed=False)
