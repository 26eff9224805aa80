"""FDDB discrete ROC on hand-made cases (TP/FP counts per threshold worked out below)."""
import logging
import math
import uuid

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from facelib.evaluation import fddb as fddb_module
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
    ev = FDDBEvaluator(name, output_dir=str(tmp_path), match="box", fp_points=(0, 3, 4, 1000),
                       distributed=False)
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
    box = FDDBEvaluator(name, match="box", distributed=False).evaluate_predictions(preds)["fddb"]
    ell = FDDBEvaluator(name, match="ellipse", distributed=False).evaluate_predictions(preds)["fddb"]
    default = FDDBEvaluator(name, distributed=False).evaluate_predictions(preds)["fddb"]
    assert box["TPR@1000FP"] == pytest.approx(100.0)
    assert ell["TPR@1000FP"] == pytest.approx(0.0)
    assert default == ell  # the official overlap is the default


def test_ellipse_mode_needs_ellipses(names):
    d = {"file_name": "D.jpg", "image_id": "D", "height": 100, "width": 100,
         "annotations": [{"bbox": [0, 0, 10, 10], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0}]}
    name = _register([d])
    names.append(name)
    preds = {"D": (np.array([[0, 0, 10, 10]], dtype=float), np.array([0.9]))}
    # box mode falls back to the annotation bbox
    box = FDDBEvaluator(name, match="box", distributed=False).evaluate_predictions(preds)["fddb"]
    assert box["TPR@1000FP"] == 100.0
    with pytest.raises(ValueError, match="ellipse"):
        FDDBEvaluator(name, distributed=False).evaluate_predictions(preds)
    with pytest.raises(ValueError):
        FDDBEvaluator(name, match="polygon", distributed=False)


# circle of radius 20 at (50, 50): bounding square [30, 30, 40, 40]; the 28 x 28 square Q at
# [36, 36, 28, 28] lies inside the circle (its farthest pixel centre is 13.5 * sqrt(2) = 19.1 from
# the centre). Hand values: region IoU of the circle and its box pi / 4 = 0.785; of the circle
# and Q 784 / (400 pi) = 0.624 (> .5, TP); box IoU of Q 784 / 1600 = 0.49 (FP).
CIRCLE = (20.0, 20.0, 0.0, 50.0, 50.0)
SQUARE_Q = [36.0, 36.0, 28.0, 28.0]


def test_circle_region_iou_hand_values():
    iou = ellipse_rect_iou([CIRCLE], [[30, 30, 40, 40], SQUARE_Q], 100, 100)
    # the pixel count of the circle is within 1% of 400 pi at radius 20
    assert iou[0, 0] == pytest.approx(math.pi / 4, rel=0.01)
    assert iou[1, 0] == pytest.approx(784 / (400 * math.pi), rel=0.01)


def _circle_dict(image_id, **extra):
    return {"file_name": f"{image_id}.jpg", "image_id": image_id, "annotations": [_face(*CIRCLE)], **extra}


def test_circle_box_detection_under_both_rules(names):
    """At the 0.5 threshold: the circle's own box is a TP under both rules (1.0 vs 0.785); Q is a
    TP under the ellipse rule (0.624) and a FP under the box rule (0.49)."""
    name = _register([_circle_dict("E1", height=100, width=100), _circle_dict("E2", height=100, width=100)])
    names.append(name)
    preds = {"E1": (np.array([[30, 30, 40, 40]], dtype=float), np.array([0.9])),
             "E2": (np.array([SQUARE_Q], dtype=float), np.array([0.8]))}
    ell = FDDBEvaluator(name, fp_points=(0,), distributed=False).evaluate_predictions(preds)["fddb"]
    box = FDDBEvaluator(name, match="box", fp_points=(0,), distributed=False)
    box = box.evaluate_predictions(preds)["fddb"]
    assert ell["TPR@0FP"] == pytest.approx(100.0)  # 2 of 2 faces, no FP
    assert box["TPR@0FP"] == pytest.approx(50.0)  # E1 TP; Q is the only FP (at .8, below E1's .9)


def test_ellipse_size_from_image_header(names, tmp_path, monkeypatch, caplog):
    """No height / width in the dict: the size comes from the image file's header."""
    from PIL import Image

    path = tmp_path / "H.png"
    Image.new("RGB", (120, 80)).save(path)  # width 120, height 80
    d = _circle_dict("H")
    d["file_name"] = str(path)
    name = _register([d])
    names.append(name)
    seen = []
    real = fddb_module.ellipse_rect_iou

    def spy(ellipses, boxes, height, width):
        seen.append((height, width))
        return real(ellipses, boxes, height, width)

    monkeypatch.setattr(fddb_module, "ellipse_rect_iou", spy)
    preds = {"H": (np.array([SQUARE_Q], dtype=float), np.array([0.9]))}
    with caplog.at_level(logging.WARNING, logger="facelib.evaluation.fddb"):
        res = FDDBEvaluator(name, distributed=False).evaluate_predictions(preds)["fddb"]
    assert seen == [(80, 120)]
    assert res["TPR@1000FP"] == pytest.approx(100.0)  # Q: region IoU .624 -> TP
    assert not [r for r in caplog.records if "box approximation" in r.getMessage()]


def test_ellipse_falls_back_to_box_without_size(names, tmp_path, caplog):
    """Neither a size in the dict nor an image file: box overlap for that image, one warning."""
    dicts = [_circle_dict("S", height=100, width=100),  # ellipse rule: Q TP
             _circle_dict("M1"), _circle_dict("M2")]  # no size, no file: box rule, Q FP
    for d in dicts[1:]:
        d["file_name"] = str(tmp_path / f"{d['image_id']}.jpg")  # does not exist
    name = _register(dicts)
    names.append(name)
    q = (np.array([SQUARE_Q], dtype=float), np.array([0.9]))
    preds = {"S": q, "M1": q, "M2": q}
    with caplog.at_level(logging.WARNING, logger="facelib.evaluation.fddb"):
        res = FDDBEvaluator(name, distributed=False).evaluate_predictions(preds)["fddb"]
    assert res["TPR@1000FP"] == pytest.approx(100.0 / 3)  # 1 TP (S), 2 FP (M1, M2) of 3 faces
    warnings = [r for r in caplog.records if "box approximation" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "2 of 3 images" in warnings[0].getMessage()
