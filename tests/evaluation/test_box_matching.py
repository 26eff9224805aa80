"""Greedy VOC matching with ignored faces; every expected value is worked out by hand."""
import math

import numpy as np
import pytest

from facelib.evaluation.box_matching import average_precision, match_image, pairwise_iou, precision_recall


def test_pairwise_iou_plain_and_plus_one():
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 10, 10], [20, 20, 5, 5]]
    iou = pairwise_iou(a, b)
    # overlap 5 x 10 = 50, union 100 + 100 - 50 = 150; the second box is disjoint
    assert iou.shape == (1, 2)
    assert iou[0, 0] == pytest.approx(50 / 150)
    assert iou[0, 1] == 0.0
    # +1 convention: extents 11 x 11 = 121 each, overlap (10 - 5 + 1) x 11 = 66, union 176
    assert pairwise_iou(a, b, plus_one=True)[0, 0] == pytest.approx(66 / 176)
    assert pairwise_iou(np.zeros((0, 4)), b).shape == (0, 2)
    assert pairwise_iou(a, np.zeros((0, 4))).shape == (1, 0)


def test_ignored_duplicate_and_far_detections():
    gt = [[0, 0, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]]
    ignore = [False, True, False]
    dets = [
        [0, 0, 10, 10],  # 0.9 on face 0 -> TP
        [0, 0, 10, 10],  # 0.8 face 0 again -> duplicate FP
        [100, 0, 10, 10],  # 0.7 on the ignored face -> neither
        [500, 500, 10, 10],  # 0.6 nothing -> FP
        [201, 0, 10, 10],  # 0.5 IoU 90 / 110 = 0.818 with face 2 -> TP
    ]
    m = match_image(dets, [0.9, 0.8, 0.7, 0.6, 0.5], gt, ignore)
    assert m.tp.tolist() == [True, False, False, False, True]
    assert m.fp.tolist() == [False, True, False, True, False]
    assert m.ignored.tolist() == [False, False, True, False, False]
    assert m.gt_index.tolist() == [0, 0, 1, -1, 2]
    assert m.num_pos == 2
    # PR without the ignored detection: TP FP FP TP -> recall .5 .5 .5 1, precision 1 .5 1/3 .5;
    # envelope 1 1 ... .5 at recall 1 -> AP = .5 * 1 + .5 * .5 = .75
    ap, recall, precision = average_precision([m])
    np.testing.assert_allclose(recall, [0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(precision, [1.0, 0.5, 1 / 3, 0.5])
    assert ap == pytest.approx(0.75)


def test_input_order_does_not_matter():
    gt = [[0, 0, 10, 10]]
    # the lower-scoring exact box comes first in the input; the 0.9 box (IoU 0.818) still wins
    m = match_image([[0, 0, 10, 10], [1, 0, 10, 10]], [0.3, 0.9], gt)
    assert m.tp.tolist() == [False, True]
    assert m.fp.tolist() == [True, False]


def test_equal_scores_keep_input_order():
    gt = [[0, 0, 10, 10]]
    # equal scores: the first detection in the input is visited first, although its IoU is lower
    m = match_image([[2, 0, 10, 10], [0, 0, 10, 10]], [0.5, 0.5], gt)
    assert m.tp.tolist() == [True, False]
    assert m.fp.tolist() == [False, True]


def test_no_fallback_to_second_best_face():
    gt = [[0, 0, 10, 10], [4, 0, 10, 10]]
    # det 1: IoU 90/110 = .818 with face 0 (taken by det 0) and 70/130 = .538 with face 1:
    # VOC takes the best face only, so det 1 is a duplicate FP and face 1 stays missed.
    m = match_image([[0, 0, 10, 10], [1, 0, 10, 10]], [0.9, 0.8], gt)
    assert m.tp.tolist() == [True, False]
    assert m.fp.tolist() == [False, True]
    assert m.gt_index.tolist() == [0, 0]


def test_threshold_equality_strict_and_voc():
    gt = [[0, 0, 10, 20]]
    det = [[0, 0, 10, 10]]  # IoU = 100 / 200 = 0.5 exactly
    assert match_image(det, [1.0], gt).tp.tolist() == [True]  # VOC: >= 0.5
    strict = match_image(det, [1.0], gt, strict=True)
    assert strict.tp.tolist() == [False] and strict.fp.tolist() == [True]


def test_tie_break_between_equal_faces():
    gt = [[0, 0, 10, 10], [0, 0, 10, 10]]  # the same box twice, the second one ignored
    first = match_image([[0, 0, 10, 10]], [1.0], gt, [False, True], tie_break="first")
    last = match_image([[0, 0, 10, 10]], [1.0], gt, [False, True], tie_break="last")
    assert first.tp.tolist() == [True]
    assert last.tp.tolist() == [False] and last.fp.tolist() == [False]  # matched the ignored face
    with pytest.raises(ValueError):
        match_image([[0, 0, 10, 10]], [1.0], gt, tie_break="middle")


def test_empty_images_and_global_order():
    img1 = match_image([[0, 0, 10, 10]], [0.9], [[0, 0, 10, 10]])  # TP at .9
    img2 = match_image([[0, 0, 10, 10]], [0.95], np.zeros((0, 4)))  # no face: FP at .95
    img3 = match_image(np.zeros((0, 4)), [], [[0, 0, 10, 10]])  # missed face
    assert img2.fp.tolist() == [True] and img3.num_pos == 1 and len(img3.tp) == 0
    recall, precision, scores, num_pos = precision_recall([img1, img2, img3])
    # global order: FP (.95) then TP (.9): recall 0, .5; precision 0, .5
    assert num_pos == 2
    np.testing.assert_allclose(scores, [0.95, 0.9])
    np.testing.assert_allclose(recall, [0.0, 0.5])
    np.testing.assert_allclose(precision, [0.0, 0.5])
    # envelope .5 up to recall .5, then 0: AP = .5 * .5 = .25
    assert average_precision([img1, img2, img3])[0] == pytest.approx(0.25)


def test_no_positive_gives_nan():
    m = match_image([[0, 0, 10, 10]], [0.9], [[0, 0, 10, 10]], [True])
    assert m.num_pos == 0 and m.ignored.tolist() == [True]
    assert math.isnan(average_precision([m])[0])
    assert math.isnan(average_precision([])[0])


def test_precomputed_overlap_matrix():
    iou = np.array([[0.2, 0.7], [0.6, 0.1]])
    m = match_image(np.zeros((2, 4)), [0.4, 0.8], np.zeros((2, 4)), iou=iou)
    assert m.gt_index.tolist() == [1, 0]
    assert m.tp.tolist() == [True, True]
