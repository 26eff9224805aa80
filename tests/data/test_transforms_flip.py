"""Horizontal flip (detectron2 RandomFlip): exact box coordinates, mask aligned."""
import numpy as np

from detectron2.data.transforms import AugInput, RandomFlip


def test_flip_boxes_exact_and_mask_aligned():
    img = np.zeros((50, 100, 3), np.uint8)
    boxes = np.array([[10, 20, 30, 40], [0, 0, 100, 50]], np.float32)
    mask = np.zeros((50, 100), np.uint8)
    mask[20:40, 10:30] = 1
    inp = AugInput(img, boxes=boxes.copy(), sem_seg=mask)
    RandomFlip(prob=1.0)(inp)
    np.testing.assert_array_equal(inp.boxes, [[70, 20, 90, 40], [0, 0, 100, 50]])
    ys, xs = np.nonzero(inp.sem_seg)
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (70, 90, 20, 40)
