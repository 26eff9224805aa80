"""face-eval kit rules (Mathias et al. 2014) on hand-made AFW / PASCAL Face cases."""
import uuid

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from facelib.evaluation.afw_pascal import FaceEvalAPEvaluator, calibrate_boxes, kit_min_det_size
from facelib.evaluation.box_matching import match_image


def _ann(box, ignore=0):
    return {"bbox": list(box), "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 0,
            "ignore": ignore}


@pytest.fixture
def register():
    created = []

    def _reg(dicts, evaluator_type):
        name = f"test_faceeval_{uuid.uuid4().hex[:8]}"
        DatasetCatalog.register(name, lambda: [dict(d) for d in dicts])
        MetadataCatalog.get(name).set(thing_classes=["face"], evaluator_type=evaluator_type)
        created.append(name)
        return name

    yield _reg
    for n in created:
        DatasetCatalog.remove(n)
        MetadataCatalog.remove(n)


def test_kit_min_det_size():
    assert kit_min_det_size() == 21  # int(sqrt(0.5 * 30 * 30)) = int(21.2)


def test_ignore_rules_and_small_detections(register):
    dicts = [
        {"file_name": "1.jpg", "image_id": "1", "height": 500, "width": 500, "annotations": [
            _ann([0, 0, 50, 50]),  # F0 positive
            _ann([100, 0, 25, 25]),  # F1 25 px < 30: ignored by size
            _ann([200, 0, 50, 50], ignore=1),  # F2 flagged ignore
        ]},
        {"file_name": "2.jpg", "image_id": "2", "height": 500, "width": 500, "annotations": [
            _ann([0, 0, 40, 40]),  # F3 positive
        ]},
    ]
    name = register(dicts, "afw")
    preds = {
        "1": (np.array([[0, 0, 50, 50],  # .9 F0 -> TP
                        [100, 0, 25, 25],  # .8 F1 (small face) -> neither
                        [200, 0, 50, 50],  # .7 F2 (ignore flag) -> neither
                        [300, 0, 10, 10],  # .6 10 px <= 21: dropped (else FP)
                        [400, 0, 40, 40],  # .5 nothing -> FP
                        [1, 1, 50, 50]], dtype=float),  # .4 F0 again -> FP
              np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])),
        "2": (np.array([[0, 0, 40, 40], [300, 300, 40, 40]], dtype=float), np.array([0.85, 0.95])),
    }
    ev = FaceEvalAPEvaluator(name, calibration_iters=1, distributed=False)
    out = ev.evaluate_predictions(preds)
    assert list(out) == ["afw"]
    # order: .95 FP, .9 TP, .85 TP, .5 FP, .4 FP (2 positives): recall 0 .5 1 1 1,
    # precision 0 .5 2/3 .5 .4 -> envelope 2/3 up to recall 1 -> AP 66.67
    assert out["afw"]["AP"] == pytest.approx(200 / 3)
    assert out["afw"]["AP_uncalibrated"] == pytest.approx(200 / 3)
    # without the size rules the small face F1 is a positive (.8 TP) and the 10 px box an FP:
    # .95 FP, .9 TP, .85 TP, .8 TP, .6 FP, .5 FP, .4 FP (3 positives): precision .75 at recall 1
    ev = FaceEvalAPEvaluator(name, min_face_size=0, min_det_size=-1, calibration_iters=1, distributed=False)
    assert ev.evaluate_predictions(preds)["afw"]["AP"] == pytest.approx(75.0)


def test_strict_plus_one_overlap():
    # kit overlap: +1 extents. gt [0,0,10,10] -> 11 x 11 = 121, det [5,0,10,10] -> overlap 6 x 11 = 66
    # IoU 66 / 176 = .375 -> FP; a det [1,0,10,10]: overlap 10 x 11 = 110, union 132 -> .833 -> TP
    m = match_image([[5, 0, 10, 10], [1, 0, 10, 10]], [0.9, 0.8], [[0, 0, 10, 10]],
                    strict=True, plus_one=True, tie_break="last")
    assert m.tp.tolist() == [False, True]


def test_calibrate_boxes_by_hand():
    gt = np.array([[10, 10, 20, 20]], dtype=float)  # centre (20, 20)
    det = np.array([[8, 12, 16, 16]], dtype=float)  # centre (16, 20)
    m = match_image(det, [1.0], gt, iou_threshold=0.3)
    assert m.tp.tolist() == [True]
    new, t = calibrate_boxes([(gt, det)], [m])
    # tx = (20 - 16) / 16 = .25, ty = 0, sx = sy = 20 / 16 = 1.25 -> box [10, 10, 20, 20]
    assert t == pytest.approx((0.25, 0.0, 1.25, 1.25))
    np.testing.assert_allclose(new[0], [[10, 10, 20, 20]])
    # no true positive: boxes unchanged, no transform
    m0 = match_image(det, [1.0], np.zeros((0, 4)))
    new0, t0 = calibrate_boxes([(np.zeros((0, 4)), det)], [m0])
    assert t0 is None
    np.testing.assert_allclose(new0[0], det)


def test_calibration_recovers_shifted_detections(register, tmp_path):
    dicts = [{"file_name": f"{i}.jpg", "image_id": str(i), "height": 500, "width": 500,
              "annotations": [_ann([0, 0, 100, 100])]} for i in range(2)]
    name = register(dicts, "pascal_face")
    # +1 IoU: shift 20 -> 81*101 / (2*10201 - 8181) = .669 (TP); shift 40 -> 6161 / 14241 = .433 (FP)
    preds = {"0": (np.array([[20, 0, 100, 100]], dtype=float), np.array([0.9])),
             "1": (np.array([[40, 0, 100, 100]], dtype=float), np.array([0.8]))}
    # one transform (2 rounds): tx = (50 - 70) / 100 = -.2 moves the boxes to shifts 0 and 20: both TP
    ev = FaceEvalAPEvaluator(name, calibration_iters=2, distributed=False)
    res = ev.evaluate_predictions(preds)["pascal_face"]
    assert res["AP_uncalibrated"] == pytest.approx(50.0)  # TP then FP: precision 1 at recall .5
    assert res["AP"] == pytest.approx(100.0)
    assert ev.calibration[0] == pytest.approx((-0.2, 0.0, 1.0, 1.0))
    # the kit default (5 rounds) keeps both true positives
    ev5 = FaceEvalAPEvaluator(name, output_dir=str(tmp_path), distributed=False)
    assert ev5.evaluate_predictions(preds)["pascal_face"]["AP"] == pytest.approx(100.0)
    assert len(ev5.calibration) == 4
    assert (tmp_path / "pascal_face_pr.npz").is_file() and (tmp_path / "pascal_face_pr.png").is_file()
