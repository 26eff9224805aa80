"""FaceCropTransform (centre rule + clipping), FAN random square crop, SRN/RefineFace two-patch crop."""
import numpy as np
import pytest
from fvcore.transforms.transform import NoOpTransform

from detectron2.data.transforms import AugInput

from facelib.data.transforms import FaceCropTransform, RandomSquareCrop, TwoPatchSquareCrop


def _image(h, w):
    return (np.arange(h * w * 3) % 251).astype(np.uint8).reshape(h, w, 3)


# window [20, 70] x [0, 60] on a 100x100 image
BOXES = np.array(
    [
        [5, 10, 25, 30],  # A: centre (15, 20) left of the window, overlaps it -> removed
        [35, 35, 65, 55],  # B: centre (50, 45) inside, fully inside -> [15, 35, 45, 55]
        [50, 30, 80, 70],  # C: centre (65, 50) inside, sticks out -> clipped [30, 30, 50, 60]
        [0, 70, 20, 90],  # D: centre (10, 80) outside -> removed
        [60, 50, 80, 70],  # E: centre (70, 60) exactly on the corner: not strictly inside -> removed
    ],
    dtype=np.float32,
)


def test_face_crop_transform_keeps_exactly_centre_inside_faces_clipped():
    t = FaceCropTransform(20, 0, 50, 60, orig_w=100, orig_h=100)
    out = t.apply_box(BOXES.copy())
    np.testing.assert_array_equal(t.keep_mask(BOXES), [False, True, True, False, False])
    np.testing.assert_allclose(out[1], [15, 35, 45, 55])
    np.testing.assert_allclose(out[2], [30, 30, 50, 60])
    for i in (0, 3, 4):  # removed: zero area, inside the window
        assert out[i, 2] == out[i, 0] and out[i, 3] == out[i, 1]
        assert 0 <= out[i, 0] <= 50 and 0 <= out[i, 1] <= 60
    img = _image(100, 100)
    np.testing.assert_array_equal(t.apply_image(img), img[0:60, 20:70])
    mask = np.zeros((100, 100), np.uint8)
    mask[35:55, 35:65] = 1
    np.testing.assert_array_equal(t.apply_segmentation(mask), mask[0:60, 20:70])


def test_face_crop_transform_outside_the_image_is_filled():
    img = np.full((10, 10, 3), 7, np.uint8)
    t = FaceCropTransform(-3, -2, 8, 8, orig_w=10, orig_h=10, pad_value=(1.4, 2.0, 2.6))
    out = t.apply_image(img)
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out[2:, 3:], 7)
    np.testing.assert_array_equal(out[:2, :], np.broadcast_to([1, 2, 3], (2, 8, 3)))
    np.testing.assert_array_equal(out[:, :3], np.broadcast_to([1, 2, 3], (8, 3, 3)))
    seg = t.apply_segmentation(np.ones((10, 10), np.uint8))
    assert seg[:2].sum() == 0 and seg[:, :3].sum() == 0 and seg[2:, 3:].all()
    # a crop reaching beyond bottom/right
    t2 = FaceCropTransform(6, 8, 6, 4, pad_value=0)
    out2 = t2.apply_image(img)
    np.testing.assert_array_equal(out2[:2, :4], 7)
    assert out2[2:].sum() == 0 and out2[:, 4:].sum() == 0
    # box shifted by the negative offset
    np.testing.assert_allclose(t.apply_box(np.array([[1, 1, 3, 3]], np.float32)), [[4, 3, 6, 5]])


def _check_crop(crop, boxes, out_boxes):
    x0, y0, x1, y1 = crop.x0, crop.y0, crop.x0 + crop.w, crop.y0 + crop.h
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1)
    kept = (out_boxes[:, 2] > out_boxes[:, 0]) & (out_boxes[:, 3] > out_boxes[:, 1])
    np.testing.assert_array_equal(kept, inside)
    exp = np.stack(
        [
            np.clip(boxes[:, 0], x0, x1) - x0,
            np.clip(boxes[:, 1], y0, y1) - y0,
            np.clip(boxes[:, 2], x0, x1) - x0,
            np.clip(boxes[:, 3], y0, y1) - y0,
        ],
        axis=1,
    )
    np.testing.assert_allclose(out_boxes[kept], exp[kept], atol=1e-4)
    assert (out_boxes >= 0).all() and (out_boxes[:, 0::2] <= crop.w).all()
    assert (out_boxes[:, 1::2] <= crop.h).all()


def test_random_square_crop_many_seeds():
    img = _image(120, 200)
    boxes = np.array([[10, 10, 40, 50], [90, 30, 130, 60], [150, 80, 199, 119]], np.float32)
    aug = RandomSquareCrop((0.3, 1.0), max_tries=50)
    for seed in range(200):
        np.random.seed(seed)
        inp = AugInput(img, boxes=boxes.copy())
        t = aug(inp)
        assert isinstance(t, FaceCropTransform), seed
        assert t.w == t.h and int(0.3 * 120) <= t.w <= 120
        assert 0 <= t.x0 <= 200 - t.w and 0 <= t.y0 <= 120 - t.h
        assert inp.image.shape == (t.h, t.w, 3)
        _check_crop(t, boxes, inp.boxes)
        assert (inp.boxes[:, 2] > inp.boxes[:, 0]).any()  # at least one face kept


def test_random_square_crop_falls_back_to_no_crop():
    img = _image(100, 100)
    boxes = np.array([[0, 0, 2, 2]], np.float32)  # centre (1, 1): a 30x30 crop keeps it only at (0, 0)
    np.random.seed(3)
    t = RandomSquareCrop((0.3, 0.3), max_tries=3)(AugInput(img, boxes=boxes))
    assert isinstance(t, NoOpTransform)


def test_random_square_crop_without_faces_still_crops():
    np.random.seed(0)
    inp = AugInput(_image(50, 80), boxes=np.zeros((0, 4), np.float32))
    t = RandomSquareCrop((0.5, 0.5))(inp)
    assert isinstance(t, FaceCropTransform) and inp.image.shape[:2] == (25, 25)


@pytest.mark.parametrize("largest_prob", [1.0, 0.0, 0.5])
def test_two_patch_crop(largest_prob):
    img = _image(120, 200)
    boxes = np.array([[10, 10, 40, 50], [90, 30, 130, 60], [150, 80, 199, 119]], np.float32)
    aug = TwoPatchSquareCrop((0.3, 1.0), max_tries=50, largest_prob=largest_prob)
    sides = []
    for seed in range(100):
        np.random.seed(seed)
        inp = AugInput(img, boxes=boxes.copy())
        t = aug(inp)
        assert isinstance(t, FaceCropTransform)
        _check_crop(t, boxes, inp.boxes)
        sides.append(t.w)
        if largest_prob == 1.0:
            assert t.w == t.h == 120 and t.y0 == 0 and 0 <= t.x0 <= 80
        else:
            assert t.w == t.h and 36 <= t.w <= 120
    if largest_prob == 0.5:
        n_largest = sum(s == 120 for s in sides)
        assert 30 <= n_largest <= 70  # about half are the largest square
    if largest_prob == 0.0:
        assert len(set(sides)) > 20
