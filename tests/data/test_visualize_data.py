"""tools/visualize_data.py on a tiny dataset registered here (two images, one with a mask)."""
import importlib.util
import os

import cv2
import numpy as np
import pytest

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

_TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "visualize_data.py")
NAME = "facelib_test_visualize_tiny"


def _tool():
    spec = importlib.util.spec_from_file_location("visualize_data_tool", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def tiny_dataset(tmp_path):
    dicts = []
    for i in range(2):
        img = np.full((120, 160, 3), 60 + 40 * i, np.uint8)
        img[30:70, 40:80] = 200
        cv2.imwrite(str(tmp_path / f"im{i}.png"), img)
        d = {
            "file_name": str(tmp_path / f"im{i}.png"),
            "image_id": f"ev/im{i}",
            "height": 120,
            "width": 160,
            "annotations": [
                {"bbox": [40, 30, 40, 40], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0,
                 "iscrowd": 0, "ignore": 0},
                {"bbox": [100, 80, 20, 20], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0,
                 "iscrowd": 0, "ignore": 1},
            ],
        }
        if i == 0:
            mask = np.zeros((120, 160), np.uint8)
            mask[50:70, 40:80] = 1
            cv2.imwrite(str(tmp_path / "m0.png"), mask)
            d["occlusion_mask_file"] = str(tmp_path / "m0.png")
        dicts.append(d)
    if NAME in DatasetCatalog.list():
        DatasetCatalog.remove(NAME)
        MetadataCatalog.remove(NAME)
    DatasetCatalog.register(NAME, lambda: dicts)
    MetadataCatalog.get(NAME).set(thing_classes=["face"])
    yield NAME
    DatasetCatalog.remove(NAME)
    MetadataCatalog.remove(NAME)


def test_visualize_annotation_and_dataloader(tiny_dataset, tmp_path):
    tool = _tool()
    out = tmp_path / "ann"
    written = tool.main(["--source", "annotation", "--output-dir", str(out), "--num-images", "2",
                         "DATASETS.TRAIN", f"('{tiny_dataset}',)"])
    assert sorted(os.path.basename(p) for p in written) == ["ev__im0.png", "ev__im1.png"]
    assert cv2.imread(written[0]).shape == (120, 160, 3)

    out = tmp_path / "dl"
    written = tool.main(["--source", "dataloader", "--output-dir", str(out), "--num-images", "3",
                         "DATASETS.TRAIN", f"('{tiny_dataset}',)", "SOLVER.IMS_PER_BATCH", "2",
                         "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE", "200"])
    assert len(written) == 3
    for p in written:
        img = cv2.imread(p)
        # before (drawn at the height of the after panel: 160 * 200 / 120 = 266 wide), gap 8, after 200
        assert img.shape[0] == 200 and img.shape[1] in (266 + 8 + 200, 267 + 8 + 200), img.shape
