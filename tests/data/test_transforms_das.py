"""PyramidBox data-anchor-sampling: anchor choice, target-scale range, resulting face size, crop."""
import math

import numpy as np
import pytest
from fvcore.transforms.transform import NoOpTransform

from detectron2.data.transforms import AugInput

from facelib.data.transforms import DataAnchorSampling, FaceAugInput, FaceCropTransform


def test_anchor_index_by_hand():
    das = DataAnchorSampling()
    assert das.anchor_index(40.0) == 1  # |32-40| = 8 < |64-40| = 24
    assert das.anchor_index(48.0) == 1  # tie 32 / 64 -> the smaller anchor
    assert das.anchor_index(10.0) == 0
    assert das.anchor_index(100.0) == 3  # |128-100| = 28 < |64-100| = 36
    assert das.anchor_index(5000.0) == 5


@pytest.mark.parametrize("s_face,i_max", [(40.0, 2), (10.0, 1), (100.0, 4), (600.0, 5), (300.0, 5)])
def test_target_scale_ranges(s_face, i_max):
    """i_target uniform in {0..min(5, i_anchor + 1)}, s_target uniform in [s_i / 2, 2 s_i]."""
    das = DataAnchorSampling()
    np.random.seed(0)
    t = np.array([das.sample_target_scale(s_face) for _ in range(3000)])
    assert t.min() >= 8.0 and t.max() <= 2 * 16 * 2**i_max
    # only i_target = i_max reaches above 2 * s_(i_max - 1): probability 1/(i_max+1) * 2/3
    frac_top = np.mean(t > 2 * 16 * 2 ** (i_max - 1))
    assert frac_top == pytest.approx(2.0 / 3.0 / (i_max + 1), abs=0.03)
    # only i_target = 0 gives s_target < 16: probability 1/(i_max+1) * (8/24)
    assert np.mean(t < 16) == pytest.approx(1.0 / 3.0 / (i_max + 1), abs=0.03)


def test_uniform_vs_log_uniform():
    np.random.seed(0)
    u = [DataAnchorSampling(anchor_sizes=(64,)).sample_target_scale(64.0) for _ in range(4000)]
    np.random.seed(0)
    lu = [DataAnchorSampling(anchor_sizes=(64,), scale_sampling="log_uniform").sample_target_scale(64.0) for _ in range(4000)]
    assert 32 <= min(u) and max(u) <= 128 and 32 <= min(lu) and max(lu) <= 128
    assert abs(np.mean(u) - 80.0) < 2.0  # uniform on [32, 128]: mean 80
    assert abs(np.median(lu) - 64.0) < 3.0  # log-uniform: median 64
    with pytest.raises(ValueError):
        DataAnchorSampling(scale_sampling="gauss")


def _face_image(h, w, boxes):
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
        img[y0:y1, x0:x1] = 200
        mask[y0:y1, x0:x1] = k + 1
    return img, mask


def test_das_produces_intended_face_size_and_keeps_face():
    boxes = np.array([[100, 120, 140, 160], [300, 50, 310, 60], [20, 200, 100, 280]], np.float32)
    img, mask = _face_image(300, 400, boxes)
    das = DataAnchorSampling(prob=1.0, crop_size=640, fill=(1, 2, 3))
    n_up = n_down = 0
    for seed in range(120):
        np.random.seed(seed)
        inp = FaceAugInput(img, boxes=boxes.copy(), sem_seg=mask.copy())
        das(inp)
        p = das.last_params
        assert inp.image.shape == (640, 640, 3) and inp.sem_seg.shape == (640, 640)
        i = p["face_index"]
        s_face = math.sqrt((boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1]))
        assert p["s_face"] == pytest.approx(s_face)
        b = inp.boxes[i]
        size = math.sqrt((b[2] - b[0]) * (b[3] - b[1]))
        # the chosen face is kept whole (it fits in the window) with the intended size
        assert size == pytest.approx(p["s_target"], rel=0.02), (seed, p)
        assert size == pytest.approx(s_face * p["effective_ratio"], rel=0.01)
        n_up += p["ratio"] > 1
        n_down += p["ratio"] <= 1
        assert (inp.boxes >= 0).all() and (inp.boxes <= 640).all()
        # the mask of the chosen face lies on its box
        ys, xs = np.nonzero(inp.sem_seg == i + 1)
        np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], b, atol=1.01)
    assert n_up > 10 and n_down > 10


def test_das_big_upscale_is_cheap_and_exact():
    # a 2x2 face resized to ~ s_target: the window is cut from the original image first
    img = np.full((1000, 1500, 3), 50, np.uint8)
    boxes = np.array([[700, 500, 702, 502]], np.float32)
    das = DataAnchorSampling(prob=1.0)
    np.random.seed(5)
    inp = AugInput(img, boxes=boxes.copy())
    t = das(inp)
    assert isinstance(t.transforms[0], FaceCropTransform)
    assert inp.image.shape == (640, 640, 3)
    b = inp.boxes[0]
    assert (b[2] - b[0]) == pytest.approx(2 * das.last_params["effective_ratio"], rel=1e-5)


def test_das_window_is_mean_filled_outside_the_image():
    img = np.full((100, 100, 3), 255, np.uint8)
    boxes = np.array([[40, 40, 60, 60]], np.float32)  # s_face = 20 -> i_anchor 0 -> scale <= 64
    das = DataAnchorSampling(prob=1.0, crop_size=640, fill=(10, 20, 30))
    np.random.seed(0)
    inp = AugInput(img, boxes=boxes.copy())
    das(inp)
    # the resized image is at most 100 * 64 / 20 = 320 < 640 pixels: the rest is mean
    assert (inp.image == np.array([10, 20, 30], np.uint8)).all(axis=2).sum() > 640 * 640 - 320 * 320 - 1


def test_das_noop_without_faces_or_prob():
    img = np.zeros((50, 50, 3), np.uint8)
    np.random.seed(0)
    assert isinstance(DataAnchorSampling(prob=1.0)(AugInput(img, boxes=np.zeros((0, 4), np.float32))), NoOpTransform)
    assert isinstance(DataAnchorSampling(prob=0.0)(AugInput(img, boxes=np.array([[1, 1, 9, 9]], np.float32))), NoOpTransform)
