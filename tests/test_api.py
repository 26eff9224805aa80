"""facelib.api.FaceDetector on a tiny random FaceRetinaNet (ResNet-18 FPN, GN, 128 px test size):
weight loading, single / list / path inputs, batching == one by one, test resize, channel order,
occlusion outputs, bad-input errors."""

import cv2
import numpy as np
import pytest
import torch

import facelib  # noqa: F401
from facelib.api import FaceDetections, FaceDetector
from facelib.modeling.face_retinanet import FaceRetinaNet
from tiny_model import save_tiny_checkpoint
from tiny_model import tiny_cfg as _tiny_cfg

THRESH = 0.3


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread (on a loaded 2-core machine, 2 OpenMP threads made these
    tests ~50x slower); the previous setting is restored."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_cfg(**test_resize):
    return _tiny_cfg(detections_per_image=10, **test_resize)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_tiny_checkpoint(tiny_cfg(), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def detector(ckpt):
    return FaceDetector(tiny_cfg(), weights=ckpt, confidence_threshold=THRESH, batch_size=4)


def _img(h, w, seed):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)


def _check(det, h, w):
    assert isinstance(det, FaceDetections)
    n = len(det)
    assert det.boxes.shape == (n, 4) and det.boxes.dtype == np.float32
    assert det.scores.shape == (n,) and det.scores.dtype == np.float32
    assert det.image_size == (h, w)
    assert (det.scores >= THRESH).all()
    b = det.boxes
    assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
    assert (b[:, 2] >= b[:, 0]).all() and (b[:, 3] >= b[:, 1]).all()


def test_weights_loaded_and_eval_mode(detector):
    assert not detector.model.training
    assert torch.all(detector.model.head.cls_score.bias == 0)  # a fresh model has -log(99)
    assert detector.weights.endswith("tiny.pth")
    assert detector.cfg.MODEL.RETINANET.SCORE_THRESH_TEST == THRESH


def test_detect_one_image(detector):
    det = detector.detect(_img(96, 128, 0))
    _check(det, 96, 128)
    assert len(det) > 0  # zero-bias checkpoint: scores ~0.5 > THRESH
    assert det["boxes"] is det.boxes and set(det.keys()) == {"boxes", "scores", "image_size"}
    assert det.occlusion_masks is None and det.occlusion_mask is None


def test_detect_list_and_paths(detector, tmp_path):
    path = tmp_path / "a.png"
    img_path = _img(70, 90, 3)
    cv2.imwrite(str(path), img_path)
    images = [_img(96, 128, 1), _img(60, 50, 2), str(path)]
    dets = detector.detect(images)
    assert isinstance(dets, list) and len(dets) == 3
    for det, (h, w) in zip(dets, [(96, 128), (60, 50), (70, 90)]):
        _check(det, h, w)
    assert dets[2].file_name == str(path) and dets[0].file_name is None
    # a path gives the same result as the BGR array it holds
    same = detector.detect(img_path)
    np.testing.assert_allclose(dets[2].boxes, same.boxes, atol=1e-3)
    assert detector.detect([]) == []
    assert len(detector(images[:1])) == 1  # __call__


def test_batched_equals_one_by_one(detector, monkeypatch):
    images = [_img(96, 128, s) for s in range(3)] + [_img(60, 50, 9), _img(96, 128, 7)]
    batched = detector.detect(images, batch_size=3)
    single = [detector.detect(im) for im in images]
    for a, b in zip(batched, single):
        assert len(a) == len(b)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
    # same-shape images share batches (chunked by batch_size), the odd one runs alone
    inputs = [detector.preprocess(im) for im in images]
    assert list(detector._batches(inputs, 3)) == [[0, 1, 2], [4], [3]]
    monkeypatch.setattr(detector, "CHUNK_BATCHES", 1)  # read / resize 2 images at a time
    chunked = detector.detect(images, batch_size=2)
    for a, b in zip(chunked, single):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)


def test_test_resize_and_channel_order(detector, ckpt):
    bgr = np.zeros((60, 50, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30
    inp = detector.preprocess(bgr)
    # ResizeShortestEdge(128, max 128): 60x50 -> 128 x 106.7 -> (128, 107)
    assert tuple(inp["image"].shape) == (3, 128, 107) and (inp["height"], inp["width"]) == (60, 50)
    assert inp["image"][0].unique().tolist() == [30]  # cfg.INPUT.FORMAT RGB: R first
    sq = FaceDetector(tiny_cfg(**{"INPUT.FACE_AUG.TEST": "resize_square", "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE": 64,
                                  "INPUT.FORMAT": "BGR"}), weights=ckpt)
    inp = sq.preprocess(bgr)
    assert tuple(inp["image"].shape) == (3, 64, 64) and inp["image"][0].unique().tolist() == [10]
    _check(sq.detect(bgr), 60, 50)
    none = FaceDetector(tiny_cfg(**{"INPUT.FACE_AUG.TEST": "none"}), weights=ckpt, confidence_threshold=THRESH)
    assert tuple(none.preprocess(bgr)["image"].shape) == (3, 60, 50)
    _check(none.detect(_img(40, 72, 0)), 40, 72)


def test_config_yaml_and_threshold_none(tmp_path, ckpt):
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_cfg().dump())
    det = FaceDetector(str(path), weights=ckpt, confidence_threshold=None, opts=["TEST.DETECTIONS_PER_IMAGE", "3"])
    assert det.cfg.MODEL.RETINANET.SCORE_THRESH_TEST == 0.05  # the config's own
    out = det.detect(_img(96, 128, 0))
    assert len(out) == 3


def _patch_occlusion(monkeypatch, per_instance_shape):
    """Make FaceRetinaNet return occlusion outputs, as an AOFD-style model would."""
    orig = FaceRetinaNet.forward

    def forward(self, batched_inputs):
        outs = orig(self, batched_inputs)
        if self.training:
            return outs
        for inp, out in zip(batched_inputs, outs):
            h, w = inp["height"], inp["width"]
            inst = out["instances"]
            n = len(inst)
            if per_instance_shape == "box":
                inst.pred_occlusion_masks = torch.full((n, 1, 14, 14), 0.8)
            else:
                inst.pred_occlusion_masks = torch.zeros((n, h, w), dtype=torch.bool)
            m = torch.zeros(h // 2, w // 2)
            m[: h // 4] = 1.0
            out["occlusion_mask"] = m
        return outs

    monkeypatch.setattr(FaceRetinaNet, "forward", forward)


@pytest.mark.parametrize("kind", ["box", "image"])
def test_occlusion_outputs(detector, monkeypatch, kind):
    _patch_occlusion(monkeypatch, kind)
    det = detector.detect(_img(96, 128, 0))
    n = len(det)
    assert n > 0
    assert det.occlusion_masks.shape == (n, 96, 128)
    assert det.occlusion_mask.shape == (96, 128)
    assert det.binary_occlusion_mask()[:40].all() and not det.binary_occlusion_mask()[60:].any()
    if kind == "box":  # pasted inside each box
        x1, y1, x2, y2 = det.boxes[0]
        cy, cx = int((y1 + y2) / 2), int((x1 + x2) / 2)
        assert det.occlusion_masks.dtype == np.float32 and det.occlusion_masks[0, cy, cx] > 0.5
        assert det.binary_occlusion_masks()[0].sum() <= (x2 - x1 + 2) * (y2 - y1 + 2)
    else:
        assert det.occlusion_masks.dtype == bool
    assert {"occlusion_masks", "occlusion_mask"} <= set(det.keys())


def test_bad_inputs(detector, tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        detector.detect(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detector.detect(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detector.detect([np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 4), np.uint8)])
    with pytest.raises(ValueError, match="empty"):
        detector.detect(np.zeros((0, 32, 3), np.uint8))
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        detector.detect(missing)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="bad.jpg"):
        detector.detect([str(bad)])
    with pytest.raises(TypeError):
        detector.detect(42)
    with pytest.raises(TypeError):
        detector.detect([42])
    with pytest.raises(ValueError, match="batch_size"):
        detector.detect(_img(8, 8, 0), batch_size=0)


def test_bad_construction(tmp_path):
    missing = str(tmp_path / "missing_weights.pth")
    with pytest.raises(FileNotFoundError, match="missing_weights.pth"):
        FaceDetector(tiny_cfg(), weights=missing)
    with pytest.raises(FileNotFoundError, match="no_config.yaml"):
        FaceDetector(str(tmp_path / "no_config.yaml"))
    with pytest.raises(TypeError):
        FaceDetector(123)
    with pytest.raises(ValueError, match="confidence_threshold"):
        FaceDetector(tiny_cfg(), confidence_threshold=1.5)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            FaceDetector(tiny_cfg(), device="cuda")


def test_large_jpeg_path_decoded_reduced_boxes_in_original_pixels(detector, tmp_path):
    """A path to a JPEG much larger than the test size is decoded at reduced size; the result is
    in original pixels and close to detecting on the same picture given at the model's size."""
    import cv2

    y, x = np.mgrid[0:1024, 0:1536]
    big = np.dstack([x * 255 // 1536, y * 255 // 1024, (x // 64 % 2) * 200]).astype(np.uint8)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert detector._decode_max_side() == detector.cfg.INPUT.MAX_SIZE_TEST < 1536 // 2
    det = detector.detect(str(path))
    _check(det, 1024, 1536)
    assert det.file_name == str(path)
    # what the model sees: the same size as from the full decode, nearly the same pixels
    bgr, _, orig = detector._read(str(path), 0)
    assert orig == (1024, 1536) and max(bgr.shape[:2]) <= detector.cfg.INPUT.MAX_SIZE_TEST
    reduced = detector.preprocess(bgr, orig)
    full = detector.preprocess(cv2.imread(str(path)))
    assert reduced["image"].shape == full["image"].shape
    assert (reduced["height"], reduced["width"]) == (full["height"], full["width"]) == (1024, 1536)
    # (bilinear 8x down from the full decode aliases the stripes; the box filter averages them)
    assert (reduced["image"].float() - full["image"].float()).abs().mean() < 6.0
