"""MogFace selective scale enhancement (Sec. 3.2, Algorithm 2): level frequencies, face scales, readings."""
import math

import numpy as np
import pytest

from facelib.data.transforms import FaceAugInput
from facelib.projects.mogface import SSE_SCALE_RANGES_CODE, SelectiveScaleEnhancement


def test_sse_paper_level_frequencies_and_scales():
    """Algorithm 2 with Table 2's ranges: p5 0.2, p6 0.16, else one of p2, p3, p4, p7 (0.16 each)."""
    sse = SelectiveScaleEnhancement()
    np.random.seed(0)
    t = np.array([sse.sample_target_scale(50.0) for _ in range(20000)])
    edges = [8.4, 20.7, 48.2, 106.2, 212.4, 420.8, 640.0]
    freq = np.histogram(t, bins=edges)[0] / len(t)
    assert freq == pytest.approx([0.16, 0.16, 0.16, 0.2, 0.16, 0.16], abs=0.012)
    assert t.min() >= 8.4 and t.max() <= 640.0
    # independent of the face size: it picks a target scale, not a ratio
    np.random.seed(0)
    t2 = np.array([sse.sample_target_scale(400.0) for _ in range(20000)])
    np.testing.assert_array_equal(t, t2)


def test_sse_code_reading():
    """MogFace code: p5 0.2, p6 0.16, else U(16, 106.2), the code's ranges."""
    sse = SelectiveScaleEnhancement(scale_ranges=SSE_SCALE_RANGES_CODE, other_levels="code")
    np.random.seed(0)
    t = np.array([sse.sample_target_scale(50.0) for _ in range(8000)])
    assert t.min() >= 16.0 and t.max() <= 420.8
    assert np.mean(t < 106.2) == pytest.approx(0.64, abs=0.02)
    assert np.mean((t >= 106.2) & (t <= 212.4)) == pytest.approx(0.20, abs=0.02)
    assert np.mean(t > 212.4) == pytest.approx(0.16, abs=0.02)
    with pytest.raises(ValueError, match="other_levels"):
        SelectiveScaleEnhancement(other_levels="uniform")


def test_sse_custom_levels_and_validation():
    sse = SelectiveScaleEnhancement(
        scale_ranges=((10, 20), (20, 40), (40, 80)), main_level=1, aux_level=2, main_prob=1.0, aux_prob=0.0
    )
    np.random.seed(0)
    t = [sse.sample_target_scale(5.0) for _ in range(100)]
    assert min(t) >= 20 and max(t) <= 40
    with pytest.raises(ValueError):
        SelectiveScaleEnhancement(main_level=7)
    with pytest.raises(ValueError):
        SelectiveScaleEnhancement(main_prob=0.9, aux_prob=0.2)


def test_sse_face_size():
    boxes = np.array([[100, 120, 160, 170], [10, 10, 30, 40]], np.float32)
    img = np.zeros((240, 320, 3), np.uint8)
    mask = np.zeros((240, 320), np.uint8)
    mask[120:170, 100:160] = 1
    sse = SelectiveScaleEnhancement(prob=1.0, crop_size=640)
    for seed in range(60):
        np.random.seed(seed)
        inp = FaceAugInput(img, boxes=boxes.copy(), sem_seg=mask.copy())
        sse(inp)
        p = sse.last_params
        assert inp.image.shape == (640, 640, 3)
        b = inp.boxes[p["face_index"]]
        size = math.sqrt((b[2] - b[0]) * (b[3] - b[1]))
        assert size == pytest.approx(p["s_target"], rel=0.02)
        assert 8.4 <= p["s_target"] <= 640.0
        assert (inp.boxes >= 0).all() and (inp.boxes <= 640).all()
        if p["face_index"] == 0:
            ys, xs = np.nonzero(inp.sem_seg)
            np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], b, atol=1.01)
