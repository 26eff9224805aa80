"""TIDE-style error breakdown: each error type and its AP cost on a hand-made image."""
import numpy as np
import pytest

from facelib.evaluation.attribute_ap import attribute_value
from facelib.evaluation.error_breakdown import classify_image, error_breakdown


def _image():
    """Faces A, B, C (heavy occlusion), D; detections: A exact 0.9 (TP), A shifted by 1 px 0.8
    (IoU 0.82: duplicate), background 0.7, D shifted by 5 px 0.6 (IoU 1/3: localisation), B exact
    0.5 (TP). C and D are missed; D is the face of the localisation error."""
    rec = {
        "boxes": np.array([[0, 0, 10, 10], [20, 0, 10, 10], [40, 0, 10, 10], [60, 0, 10, 10]], dtype=float),
        "ignore": np.zeros(4, dtype=bool),
        "attributes": [{"occlusion": 0}, {"occlusion": 0}, {"occlusion": 2}, {"occlusion": 0}],
    }
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [100, 100, 10, 10], [65, 0, 10, 10], [20, 0, 10, 10]], float)
    return rec, boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5])


def test_error_types_by_hand():
    rec, boxes, scores = _image()
    m, kinds, best, missed = classify_image(boxes, scores, rec["boxes"], rec["ignore"])
    assert list(kinds) == ["", "duplicate", "background", "localisation", ""]
    assert best[3] == 3 and best[2] == -1
    assert missed.tolist() == [False, False, True, True]


def test_ap_cost_of_each_error_by_hand():
    out = error_breakdown([_image()], {"heavy": attribute_value("occlusion", 2), "none": attribute_value("occlusion", 0)})
    assert out["counts"] == {"localisation": 1, "duplicate": 1, "background": 1, "missed": 2}
    assert out["missed_by"] == {"heavy": 1, "none": 1}
    # ranked TP FP FP FP TP of 4 faces: 0.25 * 1 + 0.25 * 0.4
    assert out["ap"] == pytest.approx(0.35)
    gain = out["ap_gain"]
    assert gain["duplicate"] == pytest.approx(0.375 - 0.35)  # TP FP FP TP
    assert gain["background"] == pytest.approx(0.375 - 0.35)
    assert gain["localisation"] == pytest.approx(0.55 - 0.35)  # TP FP FP TP TP: .25 + .25 * .6 + .25 * .6
    assert gain["missed"] == pytest.approx((1 / 3 + 0.4 / 3) - 0.35)  # C leaves the ground truth, D stays


def test_ignored_faces_are_neither_errors_nor_misses():
    rec, boxes, scores = _image()
    rec["ignore"] = np.array([False, False, True, True])  # C and D ignored
    out = error_breakdown([(rec, boxes, scores)])
    assert out["counts"]["missed"] == 0
    assert out["counts"]["localisation"] == 0  # its only face is ignored: background now
    assert out["counts"]["background"] == 2
