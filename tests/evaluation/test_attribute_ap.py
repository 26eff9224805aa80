"""Per-attribute AP with the ignore rule and the precision-0.9 operating point, by hand."""
import math

import numpy as np
import pytest

from facelib.evaluation.attribute_ap import (
    attribute_value,
    height_bin,
    precision_operating_point,
    subset_breakdown,
    subset_matches,
)


def _image():
    """Faces A, C (no occlusion), B (heavy), D invalid (ignored); detections d1..d5: on A 0.9, on B
    0.8, background 0.7, on D 0.6, on C 0.5."""
    rec = {
        "boxes": np.array([[0, 0, 10, 10], [20, 0, 10, 10], [40, 0, 10, 10], [60, 0, 10, 10]], dtype=float),
        "ignore": np.array([False, False, False, True]),
        "attributes": [{"occlusion": 0}, {"occlusion": 2}, {"occlusion": 0}, {"occlusion": 0}],
    }
    boxes = np.array([[0, 0, 10, 10], [20, 0, 10, 10], [100, 100, 10, 10], [60, 0, 10, 10], [40, 0, 10, 10]], float)
    return rec, boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5])


def test_breakdown_by_hand():
    out = subset_breakdown([_image()], {"none": attribute_value("occlusion", 0), "heavy": attribute_value("occlusion", 2),
                                        "small": height_bin(0, 16), "large": height_bin(16, math.inf)})
    # all faces: TP, TP, FP, TP (d4 on the invalid face dropped): precisions 1, 1, 2/3, 3/4
    assert out["threshold"] == 0.8  # the last rank with precision >= 0.9 is d2
    assert out["all"]["faces"] == 3
    assert out["all"]["ap"] == pytest.approx(1 / 3 + 1 / 3 + 0.75 / 3)
    assert out["all"]["recall"] == pytest.approx(2 / 3)
    none, heavy = out["subsets"]["none"], out["subsets"]["heavy"]
    # no occlusion (A, C; B ignored so d2 drops): TP, FP, TP -> AP 0.5 * 1 + 0.5 * 2/3; at 0.8 only A
    assert none["faces"] == 2 and none["ap"] == pytest.approx(0.5 + 0.5 * 2 / 3) and none["recall"] == 0.5
    # heavy (B; A and C ignored so d1, d5 drop): TP, FP -> AP 1, found at 0.8
    assert heavy["faces"] == 1 and heavy["ap"] == pytest.approx(1.0) and heavy["recall"] == 1.0
    assert out["subsets"]["small"] == out["all"]
    assert out["subsets"]["large"]["faces"] == 0 and math.isnan(out["subsets"]["large"]["ap"])


def test_operating_point_edge_cases_and_bad_selectors():
    rec, boxes, scores = _image()
    bad = subset_matches([(rec, boxes[2:3], scores[2:3])], lambda r: np.ones(4, bool))  # one FP only
    assert precision_operating_point(bad) == math.inf
    assert precision_operating_point([]) == math.inf
    with pytest.raises(ValueError, match="precision"):
        precision_operating_point(bad, 0.0)
    with pytest.raises(ValueError, match="flags"):
        subset_matches([_image()], lambda r: np.ones(2, bool))
