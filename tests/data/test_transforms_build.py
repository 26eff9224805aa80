"""build_face_augmentation (names, order, errors, test mode) and the invariants of every
augmentation: boxes inside the image after every step, occlusion mask aligned with the boxes."""
import numpy as np
import pytest

from detectron2.data import transforms as T

from facelib.config import get_face_cfg
from facelib.data.transforms import (
    TRAIN_AUGMENTATIONS,
    DataAnchorSampling,
    FaceAugInput,
    PhotometricDistortion,
    RandomExpand,
    RandomSquareCrop,
    ResizeSquare,
    TwoPatchSquareCrop,
    build_face_augmentation,
)
from facelib.projects.mogface import SelectiveScaleEnhancement


def _cfg(**kv):
    cfg = get_face_cfg()  # with the plugins' keys and augmentations (MogFace's "sse")
    for k, v in kv.items():
        node = cfg
        parts = k.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = v
    return cfg


def test_build_order_and_types():
    cfg = _cfg(**{"INPUT.FACE_AUG.TRAIN": ["sse", "photometric", "flip", "resize_square", "expand"]})
    augs = build_face_augmentation(cfg, True)
    assert [type(a) for a in augs] == [
        SelectiveScaleEnhancement,
        PhotometricDistortion,
        T.RandomFlip,
        ResizeSquare,
        RandomExpand,
    ]
    assert augs[4].fill == tuple(cfg.MODEL.PIXEL_MEAN)
    cfg = _cfg()
    assert [type(a) for a in build_face_augmentation(cfg, True)] == [
        PhotometricDistortion, RandomExpand, RandomSquareCrop, T.RandomFlip, ResizeSquare
    ]
    for name in TRAIN_AUGMENTATIONS:  # every known name builds from the default config
        assert len(build_face_augmentation(_cfg(**{"INPUT.FACE_AUG.TRAIN": [name]}), True)) == 1


def test_unknown_name_error_lists_known_names():
    cfg = _cfg(**{"INPUT.FACE_AUG.TRAIN": ["photometric", "mosaic"]})
    with pytest.raises(ValueError) as e:
        build_face_augmentation(cfg, True)
    msg = str(e.value)
    assert "'mosaic'" in msg
    for name in TRAIN_AUGMENTATIONS:
        assert name in msg
    with pytest.raises(ValueError, match="resize_shortest_edge"):
        build_face_augmentation(_cfg(**{"INPUT.FACE_AUG.TEST": "bogus"}), False)


def test_test_mode():
    (r,) = build_face_augmentation(_cfg(), False)
    assert isinstance(r, T.ResizeShortestEdge)
    img = np.zeros((400, 600, 3), np.uint8)
    assert r.get_transform(img).new_h == 800
    (s,) = build_face_augmentation(_cfg(**{"INPUT.FACE_AUG.TEST": "resize_square"}), False)
    assert isinstance(s, ResizeSquare) and s.size == 640
    assert build_face_augmentation(_cfg(**{"INPUT.FACE_AUG.TEST": "none"}), False) == []


GEOMETRIC = {
    "expand": lambda: RandomExpand((1.0, 2.0), prob=1.0, fill=(1, 2, 3)),
    "square_crop": lambda: RandomSquareCrop(),
    "two_patch": lambda: TwoPatchSquareCrop(),
    "das": lambda: DataAnchorSampling(prob=1.0, crop_size=256),
    "sse": lambda: SelectiveScaleEnhancement(prob=1.0, crop_size=256),
    "flip": lambda: T.RandomFlip(prob=0.5),
    "resize_square": lambda: ResizeSquare(96),
    "shortest_edge": lambda: T.ResizeShortestEdge((100, 300), 500),
}

BOXES = np.array(
    [[10, 10, 50, 60], [80, 20, 120, 70], [150, 90, 230, 180], [20, 120, 44, 150], [250, 10, 300, 60]],
    np.float32,
)


def _scene():
    img = np.random.RandomState(0).randint(0, 256, (200, 300, 3)).astype(np.uint8)
    mask = np.zeros((200, 300), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(BOXES.astype(int)):
        mask[y0:y1, x0:x1] = k + 1  # one label per face to check alignment face by face
    return img, mask


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _check(boxes, mask, image, tol_inside, what, min_iou=None):
    """Boxes inside the image (up to ``tol_inside``); the mask of every face (>= 4 px) has the
    face box as bounding box: within 1 px (one augmentation) or with IoU >= ``min_iou`` (chains
    of resizes, where nearest-neighbour quantisation errors add up)."""
    h, w = image.shape[:2]
    assert mask.shape == (h, w), what
    assert (boxes >= -tol_inside).all() and (boxes[:, 0::2] <= w + tol_inside).all(), what
    assert (boxes[:, 1::2] <= h + tol_inside).all(), what
    for k, b in enumerate(boxes):
        bw, bh = b[2] - b[0], b[3] - b[1]
        if bw < 4 or bh < 4:
            continue
        ys, xs = np.nonzero(mask == k + 1)
        assert len(xs), what
        mb = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        if min_iou is None:
            np.testing.assert_allclose(mb, b, atol=1.01, err_msg=what)
        else:
            assert _iou(mb, b) >= min_iou, (what, mb, b)


@pytest.mark.parametrize("name", sorted(GEOMETRIC))
def test_boxes_inside_and_mask_aligned_every_geometric_aug(name):
    img, mask = _scene()
    aug = GEOMETRIC[name]()
    for seed in range(40):
        np.random.seed(seed)
        inp = T.AugInput(img, boxes=BOXES.copy(), sem_seg=mask.copy())  # plain detectron2 input
        aug(inp)
        _check(inp.boxes, inp.sem_seg, inp.image, 1e-3, f"{name} seed {seed}")


@pytest.mark.parametrize(
    "names",
    [
        ["photometric", "expand", "random_square_crop", "flip", "resize_square"],  # FAN
        ["photometric", "expand", "two_patch_crop", "flip", "resize_square"],  # RefineFace
        ["photometric", "data_anchor_sampling", "flip", "resize_square"],  # PyramidBox
        ["photometric", "sse", "flip", "resize_square"],  # MogFace
        ["expand", "data_anchor_sampling", "random_square_crop", "sse", "flip", "resize_shortest_edge"],
    ],
)
def test_pipelines_keep_boxes_inside_after_every_step(names):
    cfg = _cfg(**{"INPUT.FACE_AUG.TRAIN": names, "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE": 128,
                  "INPUT.FACE_AUG.DAS.CROP_SIZE": 160, "INPUT.FACE_AUG.SSE.CROP_SIZE": 160,
                  "INPUT.MIN_SIZE_TRAIN": (120,), "INPUT.MAX_SIZE_TRAIN": 200})
    augs = build_face_augmentation(cfg, True)
    img, mask = _scene()
    for seed in range(25):
        np.random.seed(seed)
        inp = FaceAugInput(img, boxes=BOXES.copy(), sem_seg=mask.copy())
        for aug in augs:
            aug(inp)
            # FaceAugInput clips: exactly inside
            _check(inp.boxes, inp.sem_seg, inp.image, 0.0, f"{names} {aug} seed {seed}", min_iou=0.6)
            assert inp.image.dtype == np.uint8


def test_projects_extend_the_augmentation_registry():
    from detectron2.data import transforms as T

    from facelib.data.transforms import AugmentationRegistry

    reg = AugmentationRegistry("augmentation")
    reg.register("a", lambda cfg: T.NoOpTransform())

    @reg.register("b")
    def _b(cfg):
        return T.RandomFlip(prob=1.0)

    assert reg.names() == ["a", "b"] and "b" in reg and reg.get("b") is _b
    with pytest.raises(KeyError, match="already registered"):
        reg.register("a", lambda cfg: None)
    with pytest.raises(ValueError, match="Unknown augmentation 'c'; known names: a, b"):
        reg.get("c")
    # the shared registry: a new name becomes usable in INPUT.FACE_AUG.TRAIN
    name = "test_only_flip_always"
    if name not in TRAIN_AUGMENTATIONS:
        TRAIN_AUGMENTATIONS.register(name, lambda cfg: T.RandomFlip(prob=1.0))
    cfg = get_face_cfg()
    cfg.INPUT.FACE_AUG.TRAIN = [name]
    (aug,) = build_face_augmentation(cfg, is_train=True)
    assert isinstance(aug, T.RandomFlip) and aug.prob == 1.0
