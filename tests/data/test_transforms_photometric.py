"""SSD photometric distortion: hand-computed steps, image only, output in range."""
import numpy as np

from detectron2.data.transforms import AugInput

from facelib.data.transforms import PhotometricDistortion, PhotometricDistortTransform


def test_photometric_by_hand():
    px = np.array([[[5, 100, 250]]], np.uint8)  # BGR
    out = PhotometricDistortTransform(brightness_delta=10).apply_image(px)
    np.testing.assert_array_equal(out, [[[15, 110, 255]]])  # clipped at 255
    out = PhotometricDistortTransform(contrast_alpha=0.5).apply_image(px)
    np.testing.assert_array_equal(out, [[[2, 50, 125]]])  # 2.5 rounds to 2 (banker's rounding)
    # saturation x0 -> grey at V = max channel
    out = PhotometricDistortTransform(saturation_alpha=0.0).apply_image(np.array([[[10, 20, 200]]], np.uint8))
    np.testing.assert_array_equal(out, [[[200, 200, 200]]])
    # hue +120 degrees: red -> green, in both channel orders
    red_bgr = np.array([[[0, 0, 255]]], np.uint8)
    out = PhotometricDistortTransform(hue_delta=120.0, image_format="BGR").apply_image(red_bgr)
    np.testing.assert_array_equal(out, [[[0, 255, 0]]])
    red_rgb = np.array([[[255, 0, 0]]], np.uint8)
    out = PhotometricDistortTransform(hue_delta=120.0, image_format="RGB").apply_image(red_rgb)
    np.testing.assert_array_equal(out, [[[0, 255, 0]]])
    # nothing drawn -> identity
    img = np.random.RandomState(1).randint(0, 256, (8, 9, 3)).astype(np.uint8)
    np.testing.assert_array_equal(PhotometricDistortTransform().apply_image(img), img)


def test_photometric_geometry_untouched_and_in_range():
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (30, 40, 3)).astype(np.uint8)
    boxes = np.array([[1, 2, 10, 20], [5, 5, 39, 29]], np.float32)
    mask = (rng.rand(30, 40) > 0.5).astype(np.uint8)
    aug = PhotometricDistortion(prob=0.5)
    orders, changed = set(), 0
    for seed in range(60):
        np.random.seed(seed)
        for image in (img, img.astype(np.float32)):
            inp = AugInput(image.copy(), boxes=boxes.copy(), sem_seg=mask.copy())
            t = aug(inp)
            assert isinstance(t, PhotometricDistortTransform)
            assert inp.image.shape == image.shape and inp.image.dtype == (
                np.uint8 if image.dtype == np.uint8 else np.float32
            )
            assert inp.image.min() >= 0 and inp.image.max() <= 255
            np.testing.assert_array_equal(inp.boxes, boxes)
            np.testing.assert_array_equal(inp.sem_seg, mask)
            orders.add(t.contrast_first)
            changed += int(not np.array_equal(inp.image, image))
            if t.brightness_delta is not None:
                assert -32 <= t.brightness_delta <= 32
            if t.contrast_alpha is not None:
                assert 0.5 <= t.contrast_alpha <= 1.5
            if t.saturation_alpha is not None:
                assert 0.5 <= t.saturation_alpha <= 1.5
            if t.hue_delta is not None:
                assert -18 <= t.hue_delta <= 18
    assert orders == {True, False}
    assert changed > 60
