"""SSD expand: the image at the offset, mean fill, boxes and mask shifted."""
import numpy as np
from fvcore.transforms.transform import NoOpTransform

from detectron2.data.transforms import AugInput

from facelib.data.transforms import ExpandTransform, RandomExpand


def test_expand_transform_by_hand():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    t = ExpandTransform(2, 1, 3, 0, orig_w=3, orig_h=2, pad_value=(103.53, 116.28, 123.675))
    out = t.apply_image(img)
    assert out.shape == (3, 8, 3)
    np.testing.assert_array_equal(out[1:3, 2:5], img)
    fill = np.array([104, 116, 124], np.uint8)  # the mean rounded for uint8
    np.testing.assert_array_equal(out[0], np.broadcast_to(fill, (8, 3)))
    np.testing.assert_array_equal(out[1:, :2], np.broadcast_to(fill, (2, 2, 3)))
    np.testing.assert_array_equal(out[1:, 5:], np.broadcast_to(fill, (2, 3, 3)))
    np.testing.assert_allclose(t.apply_box(np.array([[0, 0, 3, 2]], np.float32)), [[2, 1, 5, 3]])
    seg = t.apply_segmentation(np.ones((2, 3), np.uint8))
    assert seg.shape == (3, 8) and seg.sum() == 6 and seg[1:3, 2:5].all()
    # float images keep the exact mean
    outf = t.apply_image(img.astype(np.float32))
    np.testing.assert_allclose(outf[0, 0], [103.53, 116.28, 123.675], rtol=1e-6)


def test_random_expand_places_image_at_offset_with_mean_fill():
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (40, 60, 3)).astype(np.uint8)
    boxes = np.array([[5, 6, 25, 30]], np.float32)
    mask = np.zeros((40, 60), np.uint8)
    mask[6:30, 5:25] = 1
    aug = RandomExpand((1.0, 2.0), prob=1.0, fill=(10, 20, 30))
    for seed in range(50):
        np.random.seed(seed)
        inp = AugInput(img, boxes=boxes.copy(), sem_seg=mask)
        t = aug(inp)
        left, top = t.x0, t.y0
        H, W = inp.image.shape[:2]
        assert 40 <= H <= 80 and 60 <= W <= 120
        assert 0 <= left <= W - 60 and 0 <= top <= H - 40
        np.testing.assert_array_equal(inp.image[top : top + 40, left : left + 60], img)
        canvas = np.ones((H, W), bool)
        canvas[top : top + 40, left : left + 60] = False
        np.testing.assert_array_equal(inp.image[canvas], np.broadcast_to([10, 20, 30], (canvas.sum(), 3)))
        np.testing.assert_allclose(inp.boxes, [[5 + left, 6 + top, 25 + left, 30 + top]])
        ys, xs = np.nonzero(inp.sem_seg)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (5 + left, 6 + top, 25 + left, 30 + top)
    np.random.seed(0)
    assert isinstance(RandomExpand(prob=0.0)(AugInput(img)), NoOpTransform)
