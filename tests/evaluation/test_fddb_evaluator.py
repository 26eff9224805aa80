"""FDDB discrete ROC on hand-made cases (TP/FP counts per threshold worked out below)."""
import math
import uuid

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from facelib.evaluation.fddb import (
    FDDBEvaluator,
    discrete_roc,
    ellipse_bbox,
    ellipse_rect_iou,
    image_roc_steps,
    tpr_at_fp,
)


def _face(major, minor, angle, cx, cy, **extra):
    attrs = {"major_axis_radius": major, "minor_axis_radius": minor, "angle": angle,
             "center_x": cx, "center_y": cy}
    return {"bbox": ellipse_bbox(major, minor, angle, cx, cy), "bbox_mode": BoxMode.XYWH_ABS,
            "category_id": 0, "iscrowd": 0, "ignore": 0, "attributes": attrs}


def _register(dicts):
    name = f"test_fddb_{uuid.uuid4().hex[:8]}"
    DatasetCatalog.register(name, lambda: [dict(d) for d in dicts])
    MetadataCatalog.get(name).set(thing_classes=["face"], evaluator_type="fddb")
    return name


@pytest.fixture
def names():
    created = []
    yield created
    for n in created:
        DatasetCatalog.remove(n)
        MetadataCatalog.remove(n)


def test_ellipse_bbox():
    # vertical major axis (angle pi/2): half-width = minor, half-height = major
    np.testing.assert_allclose(ellipse_bbox(20, 10, math.pi / 2, 50, 50), [40, 30, 20, 40], atol=1e-9)
    np.testing.assert_allclose(ellipse_bbox(20, 10, 0.0, 50, 50), [30, 40, 40, 20], atol=1e-9)


def test_ellipse_region_iou():
    # a circle of radius 10 against its bounding square: about pi * 100 / 400 = 0.785
    iou = ellipse_rect_iou([(10, 10, 0.0, 50, 50)], [[40, 40, 20, 20]], 100, 100)
    assert iou[0, 0] == pytest.approx(math.pi / 4, abs=0.01)
    # rotating by pi/2 swaps the axes
    a = ellipse_rect_iou([(20, 8, math.pi / 2, 50, 50)], [[30, 30, 30, 40]], 100, 100)
    b = ellipse_rect_iou([(8, 20, 0.0, 50, 50)], [[30, 30, 30, 40]], 100, 100)
    assert a[0, 0] == pytest.approx(b[0, 0], abs=1e-12)
    # orientation as the official tool draws it (OpenCV at 180 deg - angle, image y down): a
    # positive angle tilts the major axis up to the right, through (64, 36), not (64, 64)
    tilt = ellipse_rect_iou([(20, 5, math.pi / 4, 50, 50)], [[62, 34, 4, 4], [62, 62, 4, 4]], 100, 100)
    assert tilt[0, 0] > 0 and tilt[1, 0] == 0
    # a box outside the image overlaps nothing
    assert ellipse_rect_iou([(10, 10, 0.0, 50, 50)], [[200, 200, 10, 10]], 100, 100)[0, 0] == 0.0


def test_hungarian_on_raw_overlaps_can_lower_tp():
    """The tool maximises the summed raw overlap: adding a 0.45 detection turns the 0.6 pair
    (sum 0.6) into 0.3 + 0.45 = 0.75, with no pair above 0.5 left."""
    iou = np.array([[0.6, 0.3], [0.45, 0.0]])
    thr, d_tp, d_det = image_roc_steps(iou, [0.9, 0.8])
    np.testing.assert_allclose(thr, [0.9, 0.8])
    assert d_tp.tolist() == [1, -1]
    assert d_det.tolist() == [1, 1]


def test_discrete_roc_merges_images():
    # image 1: steps at .9 (+1 TP, +1 det) and .5 (+0, +2); image 2: at .7 (+1, +1); 3 faces
    steps = [(np.array([0.9, 0.5]), np.array([1, 0]), np.array([1, 2])),
             (np.array([0.7]), np.array([1]), np.array([1]))]
    tpr, fp, thr = discrete_roc(steps, 3)
    np.testing.assert_allclose(thr, [0.5, 0.7, 0.9])
    np.testing.assert_allclose(tpr, [2 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(fp, [2, 0, 0])
    assert tpr_at_fp(tpr, fp, 0) == pytest.approx(2 / 3)
    assert tpr_at_fp([0.5], [3], 2) == 0.0


def test_fddb_evaluator_box_mode(names, tmp_path):
    v = math.pi / 2
    dicts = [
        {"file_name": "A.jpg", "image_id": "A", "height": 1000, "width": 1000,
         "annotations": [_face(20, 10, v, 10, 20), _face(20, 10, v, 110, 20)]},  # boxes [0,0,20,40], [100,0,20,40]
        {"file_name": "B.jpg", "image_id": "B", "height": 1000, "width": 1000,
         "annotations": [_face(20, 10, v, 10, 20)]},  # box [0,0,20,40]
    ]
    name = _register(dicts)
    names.append(name)
    preds = {
        "A": (np.array([[0, 0, 20, 40],  # .9 face 0 exact
                        [100, 0, 20, 40],  # .8 face 1 exact
                        [500, 500, 20, 40],  # .7 nothing
                        [0, 0, 20, 40]], dtype=float),  # .6 face 0 again: one-to-one -> FP
              np.array([0.9, 0.8, 0.7, 0.6])),
        "B": (np.array([[0, 0, 20, 16],  # .75 IoU 320/800 = .4 -> FP
                        [600, 600, 20, 20],  # .6 nothing
                        [0, 0, 20, 40]], dtype=float),  # .5 exact -> TP
              np.array([0.75, 0.6, 0.5])),
    }
    ev = FDDBEvaluator(name, output_dir=str(tmp_path), fp_points=(0, 3, 4, 1000), distributed=False)
    res = ev.evaluate_predictions(preds)["fddb"]
    # threshold: TP, FP (3 faces)
    #   .9: 1, 0   .8: 2, 0   .75: 2, 1   .7: 2, 2   .6: 2, 4   .5: 3, 4
    np.testing.assert_allclose(ev.roc["thresholds"], [0.5, 0.6, 0.7, 0.75, 0.8, 0.9])
    np.testing.assert_allclose(ev.roc["fp"], [4, 4, 2, 1, 0, 0])
    np.testing.assert_allclose(ev.roc["tpr"], [1, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1 / 3])
    assert res["TPR@0FP"] == pytest.approx(200 / 3)
    assert res["TPR@3FP"] == pytest.approx(200 / 3)
    assert res["TPR@4FP"] == pytest.approx(100.0)
    assert res["TPR@1000FP"] == pytest.approx(100.0)
    lines = (tmp_path / "DiscROC.txt").read_text().splitlines()
    assert lines[0] == "1 4 0.5"
    assert lines[-1] == "0.333333 0 0.9"
    assert len(lines) == 6


def test_fddb_box_vs_ellipse_mode(names):
    # a circle of radius 10 at (50, 50): box [40, 40, 20, 20]; the detection [36, 36, 28, 28]
    # has box IoU 400/784 = .510 (> .5, TP) but region IoU about 314/784 = .40 (FP)
    dicts = [{"file_name": "C.jpg", "image_id": "C", "height": 100, "width": 100,
              "annotations": [_face(10, 10, 0.0, 50, 50)]}]
    name = _register(dicts)
    names.append(name)
    preds = {"C": (np.array([[36, 36, 28, 28]], dtype=float), np.array([0.9]))}
    box = FDDBEvaluator(name, distributed=False).evaluate_predictions(preds)["fddb"]
    ell = FDDBEvaluator(name, match="ellipse", distributed=False).evaluate_predictions(preds)["fddb"]
    assert box["TPR@1000FP"] == pytest.approx(100.0)
    assert ell["TPR@1000FP"] == pytest.approx(0.0)


def test_ellipse_mode_needs_ellipses(names):
    d = {"file_name": "D.jpg", "image_id": "D", "height": 100, "width": 100,
         "annotations": [{"bbox": [0, 0, 10, 10], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0}]}
    name = _register([d])
    names.append(name)
    preds = {"D": (np.array([[0, 0, 10, 10]], dtype=float), np.array([0.9]))}
    # box mode falls back to the annotation bbox
    assert FDDBEvaluator(name, distributed=False).evaluate_predictions(preds)["fddb"]["TPR@1000FP"] == 100.0
    with pytest.raises(ValueError, match="ellipse"):
        FDDBEvaluator(name, match="ellipse", distributed=False).evaluate_predictions(preds)
    with pytest.raises(ValueError):
        FDDBEvaluator(name, match="polygon", distributed=False)
