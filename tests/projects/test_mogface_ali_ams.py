"""MogFace's Ali-AMS (Algorithm 1) on a hand-made pyramid level (projects/MogFace/mogface/ali_ams.py)."""
import pytest
import torch

from facelib.projects.mogface import ali_ams

# One level: a0..a5 are 10x10 anchors side by side (centres x = 5 .. 55, y = 5); a6 is a large
# 80x60 anchor centred at (46, 5). A second level holds two anchors.
LEVEL0 = [[10.0 * i, 0, 10.0 * i + 10, 10] for i in range(6)] + [[6.0, -25, 86, 35]]
LEVEL1 = [[0.0, 0, 40, 40], [40.0, 0, 80, 40]]
ANCHORS = torch.tensor(LEVEL0 + LEVEL1)
# g0 covers a0..a2; g1 = [37, 52] x [0, 10] (centre 44.5, 5).
GT = torch.tensor([[0.0, 0, 30, 10], [37.0, 0, 52, 10]])
# standard matching: g0 has a0, a1, a2 (A = 3 = T on level 0), g1 only a4 (A = 1: N = 2); level 1:
# one anchor of g0 (T = 1: nothing to compensate there)
MATCHED = torch.tensor([0, 0, 0, -1, 1, -1, -1, 0, -1])
# nearest centres to g1: a4 (0.25), a6 (2.25), a3 (90.25) [a5: 110.25];
# highest IoU with g1: a4 (100/150), a3 (30/220), a5 (20/230) [a6: 150/4800]
SCORES = torch.tensor([0.1, 0.1, 0.1, 0.2, 0.6, 0.5, 0.9, 0.1, 0.95])
SIZES = [7, 2]


@pytest.mark.parametrize("candidates, drop, expected", [
    # candidates {a3, a5, a6} (a4 already positive): a6 .9, a5 .5 -> g1
    ("cpd_iou", "before", [0, 0, 0, -1, 1, 1, 1, 0, -1]),
    # candidates {a6, a3}: both
    ("cpd", "before", [0, 0, 0, 1, 1, -1, 1, 0, -1]),
    # top 2 of {a3, a4, a5, a6} = a6, a4; a4 is already positive and dropped: one new positive
    ("cpd_iou", "after", [0, 0, 0, -1, 1, -1, 1, 0, -1]),
    ("cpd", "after", [0, 0, 0, -1, 1, -1, 1, 0, -1]),
])
def test_algorithm1_on_a_hand_made_level(candidates, drop, expected):
    out = ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, candidates=candidates, drop_positives=drop)
    assert out.tolist() == expected
    level0 = out[:7]
    counts = torch.bincount(level0[level0 >= 0], minlength=2)
    assert int(counts.max()) == 3  # no face above T afterwards
    if drop == "before":
        assert counts.tolist() == [3, 3]  # N_g = T - A[g] new positives each


def test_skipped_level_and_no_faces_are_untouched():
    assert torch.equal(ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, skip_levels=[0]), MATCHED)
    none = torch.full((9,), -1, dtype=torch.int64)
    assert torch.equal(ali_ams(none, ANCHORS, GT, SCORES, SIZES), none)  # G empty on every level
    assert torch.equal(ali_ams(none, ANCHORS, GT[:0], SCORES, SIZES), none)


def test_bad_arguments():
    with pytest.raises(ValueError, match="candidates"):
        ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, candidates="iou")
    with pytest.raises(ValueError, match="drop_positives"):
        ali_ams(MATCHED, ANCHORS, GT, SCORES, SIZES, drop_positives="never")
    with pytest.raises(ValueError, match="levels"):
        ali_ams(MATCHED, ANCHORS, GT, SCORES, [7, 3])
