"""FaceDatasetMapper: reading, fields, dropped-face counting, occlusion mask, test mode."""
import copy
import logging

import cv2
import numpy as np
import pytest
import torch

from detectron2.config import get_cfg
from detectron2.structures import BoxMode

from facelib.config import add_facelib_config
from facelib.data.mapper import FaceDatasetMapper
from facelib.data.transforms import FaceCropTransform


def _ann(x, y, w, h, **kw):
    a = {"bbox": [x, y, w, h], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "iscrowd": 0, "ignore": 0}
    a.update(kw)
    return a


@pytest.fixture
def sample(tmp_path):
    """A 100x120 (h x w) image, pure blue in BGR at the top-left pixel, an occlusion mask (255 =
    occluded) on face B, and five faces."""
    img = np.full((100, 120, 3), 90, np.uint8)
    img[0, 0] = (255, 0, 0)  # BGR blue
    mask = np.zeros((100, 120), np.uint8)
    mask[40:50, 40:60] = 255
    cv2.imwrite(str(tmp_path / "img.png"), img)
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    d = {
        "file_name": str(tmp_path / "img.png"),
        "image_id": "ev/img",
        "height": 100,
        "width": 120,
        "occlusion_mask_file": str(tmp_path / "mask.png"),
        "annotations": [
            _ann(5, 10, 20, 20, masked=False, occluded=False),  # A centre (15, 20): outside the crop
            _ann(35, 35, 30, 20, masked=True, occluded=True),  # B centre (50, 45): kept whole
            _ann(50, 30, 30, 40, ignore=1, masked=False, occluded=False),  # C centre (65, 50): clipped
            _ann(0, 70, 20, 20, masked=False, occluded=False),  # D centre (10, 80): outside
            _ann(30, 2, 2, 2, masked=False, occluded=True),  # E 2x2 at centre (31, 3): too small
        ],
    }
    return d


CROP = FaceCropTransform(20, 0, 50, 60)  # window [20, 70] x [0, 60]


def test_mapper_crop_keeps_exact_faces_and_counts_drops(sample, caplog):
    m = FaceDatasetMapper(
        True, augmentations=[CROP], image_format="BGR", min_face_size=3.0, load_occlusion_mask=True
    )
    with caplog.at_level(logging.DEBUG, logger="facelib.data.mapper"):
        out = m(copy.deepcopy(sample))
    inst = out["instances"]
    np.testing.assert_allclose(inst.gt_boxes.tensor.numpy(), [[15, 35, 45, 55], [30, 30, 50, 60]])
    assert inst.gt_classes.tolist() == [0, 0]
    assert inst.gt_ignore.tolist() == [False, True]
    assert inst.gt_masked.tolist() == [True, False]
    assert inst.gt_occluded.tolist() == [True, False]
    assert inst.image_size == (60, 50)
    assert m.last_dropped == {"outside": 2, "too_small": 1}
    assert out["num_dropped_faces"] == 3 and m.total_dropped == 3 and m.num_faces_seen == 5
    assert "dropped 3 of 5 faces" in caplog.text
    # image / fields
    assert out["image"].shape == (3, 60, 50) and out["image"].dtype == torch.uint8
    assert (out["height"], out["width"]) == (100, 120)
    assert out["image_id"] == "ev/img" and out["file_name"] == sample["file_name"]
    assert "annotations" not in out and "occlusion_mask_file" not in out
    # occlusion mask: binary, cropped with the image, aligned with face B
    om = out["occlusion_mask"]
    assert om.dtype == torch.uint8 and om.shape == (60, 50) and set(om.unique().tolist()) == {0, 1}
    ys, xs = np.nonzero(om.numpy())
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (20, 40, 40, 50)
    # running totals accumulate over calls
    m(copy.deepcopy(sample))
    assert m.total_dropped == 6 and m.dropped_counts["outside"] == 4 and m.num_faces_seen == 10
    m.reset_counts()
    assert m.total_dropped == 0


def test_mapper_reads_bgr_and_rgb(sample):
    out = FaceDatasetMapper(True, augmentations=[], image_format="BGR")(copy.deepcopy(sample))
    assert out["image"][:, 0, 0].tolist() == [255, 0, 0]
    out = FaceDatasetMapper(True, augmentations=[], image_format="RGB")(copy.deepcopy(sample))
    assert out["image"][:, 0, 0].tolist() == [0, 0, 255]
    # no augmentation: nothing dropped (min size 1), boxes exact
    m = FaceDatasetMapper(True, augmentations=[], image_format="BGR")
    out = m(copy.deepcopy(sample))
    assert len(out["instances"]) == 5 and m.total_dropped == 0 and out["num_dropped_faces"] == 0
    np.testing.assert_allclose(out["instances"].gt_boxes.tensor[1].numpy(), [35, 35, 65, 55])
    assert "occlusion_mask" not in out  # not asked for


def test_mapper_clips_input_boxes_and_omits_unknown_occluded(sample):
    d = copy.deepcopy(sample)
    d["annotations"] = [_ann(100, 90, 40, 30)]  # sticks out of the 120x100 image, no occluded key
    out = FaceDatasetMapper(True, augmentations=[], image_format="BGR")(d)
    np.testing.assert_allclose(out["instances"].gt_boxes.tensor.numpy(), [[100, 90, 120, 100]])
    assert not out["instances"].has("gt_occluded")
    assert out["instances"].gt_masked.tolist() == [False]


def test_mapper_test_mode(sample):
    m = FaceDatasetMapper(False, augmentations=[], image_format="BGR")
    out = m(copy.deepcopy(sample))
    assert "instances" not in out and "annotations" not in out
    m = FaceDatasetMapper(False, augmentations=[], image_format="BGR", keep_annotations_in_test=True)
    assert len(m(copy.deepcopy(sample))["instances"]) == 5


def test_mapper_unreadable_image_names_path(tmp_path, sample):
    d = copy.deepcopy(sample)
    d["file_name"] = str(tmp_path / "missing.jpg")
    with pytest.raises(OSError, match="missing.jpg"):
        FaceDatasetMapper(True, augmentations=[], image_format="BGR")(d)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    d["file_name"] = str(tmp_path / "broken.jpg")
    with pytest.raises(OSError, match="broken.jpg"):
        FaceDatasetMapper(True, augmentations=[], image_format="BGR")(d)


def test_mapper_from_config_default_pipeline(sample):
    cfg = get_cfg()
    add_facelib_config(cfg)
    cfg.INPUT.FACE_AUG.LOAD_OCCLUSION_MASK = True
    m = FaceDatasetMapper(cfg, True)
    assert m.min_face_size == 1.0 and m.load_occlusion_mask
    n_in = 0
    for seed in range(20):
        np.random.seed(seed)
        out = m(copy.deepcopy(sample))
        assert out["image"].shape == (3, 640, 640) and out["occlusion_mask"].shape == (640, 640)
        b = out["instances"].gt_boxes.tensor
        assert (b >= 0).all() and (b <= 640).all()
        assert ((b[:, 2:] - b[:, :2]) >= 1.0).all()
        n_in += 5
        assert len(out["instances"]) + out["num_dropped_faces"] == 5
    assert m.num_faces_seen == n_in
    assert m.total_dropped == sum(m.dropped_counts.values()) > 0  # crops removed some faces
    # test mode: shortest edge 800
    out = FaceDatasetMapper(cfg, False)(copy.deepcopy(sample))
    assert out["image"].shape == (3, 800, 960) and "instances" not in out
