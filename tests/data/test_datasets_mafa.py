"""MAFA loader on hand-made .mat fixtures mimicking the official struct layout (no MAFA files
exist on these machines)."""
import logging
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

import facelib  # noqa: F401
from facelib.data.datasets.common import DatasetFormatError
from facelib.data.datasets.mafa import load_mafa, parse_mafa_mat

# one training face: box, two eyes, occluder (relative), occ_type, degree, gender, race,
# orientation, glasses (absent)
TRAIN_ROW = [56, 170, 185, 185, 140, 198, 196, 208, 41, 56, 147, 182, 1, 3, 1, 1, 4, -1, -1, -1, -1]
TEST_ROWS = [
    [10, 20, 30, 40, 1, 2, 15, 26, 20, 2, 2, 2, 1, 3, 3, 4, 20, 8],   # masked, with glasses
    [50, 60, 20, 20, 2, -1, -1, -1, -1, -1, -1, 1, 2, 5, -1, -1, -1, -1],  # unmasked
    [5, 5, 8, 0, 3, 0, 0, 0, 0, 1, 1, -1, -1, 3, -1, -1, -1, -1],     # invalid, h = 0
    [1, 1, 9, 9, 3, 0, 0, 0, 0, 1, 1, -1, -1, 3, -1, -1, -1, -1],     # invalid -> ignore
]


def _struct(fields, rows):
    arr = np.zeros((1, len(rows)), dtype=[(f, "O") for f in fields])
    for i, r in enumerate(rows):
        arr[0, i] = tuple(r)
    return arr


def _make(tmp_path, nested=False, images=True):
    d = tmp_path / "mafa"
    d.mkdir()
    train_mat = d / ("MAFA-Label-Train" if nested else "") / "LabelTrainAll.mat"
    test_mat = d / ("MAFA-Label-Test" if nested else "") / "LabelTestAll.mat"
    train_mat.parent.mkdir(exist_ok=True)
    test_mat.parent.mkdir(exist_ok=True)
    scipy.io.savemat(str(train_mat), {"label_train": _struct(
        ["orgImgName", "imgName", "label"],
        [("add_11.jpg", "train_00000003.jpg", np.array([TRAIN_ROW], dtype=np.int16))])})
    scipy.io.savemat(str(test_mat), {"LabelTest": _struct(
        ["name", "label"],
        [("test_00000001.jpg", np.array(TEST_ROWS, dtype=np.int16)),
         ("test_00000002.jpg", np.zeros((0, 18), dtype=np.int16))])})
    if images:
        for split, names in [("train", ["train_00000003.jpg"]),
                             ("test", ["test_00000001.jpg", "test_00000002.jpg"])]:
            img_dir = d / f"{split}-images" / ("images" if not nested else "")
            img_dir.mkdir(parents=True, exist_ok=True)
            for k, n in enumerate(names):
                Image.new("RGB", (400 + k, 300)).save(img_dir / n)
    return str(d)


def test_test_split_fields(tmp_path, caplog):
    d = _make(tmp_path)
    with caplog.at_level(logging.WARNING):
        dicts = load_mafa(d, "test")
    assert [x["image_id"] for x in dicts] == ["test_00000001", "test_00000002"]
    assert dicts[0]["file_name"] == os.path.join(d, "test-images", "images", "test_00000001.jpg")
    assert (dicts[0]["height"], dicts[0]["width"], dicts[1]["width"]) == (300, 400, 401)
    masked, unmasked, invalid = dicts[0]["annotations"]
    assert masked["bbox"] == [10.0, 20.0, 30.0, 40.0]
    assert (masked["masked"], masked["ignore"]) == (True, 0)
    assert masked["attributes"] == {
        "face_type": 1, "occluder_box": [2.0, 15.0, 26.0, 20.0], "occluder_box_abs": [12.0, 35.0, 26.0, 20.0],
        "occluder_type": 2, "occlusion_degree": 2, "gender": 2, "race": 1, "orientation": 3,
        "glasses_box": [3.0, 4.0, 20.0, 8.0]}
    assert (unmasked["masked"], unmasked["ignore"], unmasked["attributes"]["face_type"]) == (False, 0, 2)
    assert (invalid["masked"], invalid["ignore"], invalid["bbox"]) == (False, 1, [1.0, 1.0, 9.0, 9.0])
    assert dicts[1]["annotations"] == []
    assert any("mafa_test" in r.getMessage() and "dropped 1 of 4" in r.getMessage() for r in caplog.records)


def test_train_split_fields_nested_layout(tmp_path):
    d = _make(tmp_path, nested=True)
    (x,) = load_mafa(d, "train")
    assert x["image_id"] == "train_00000003" and x["org_name"] == "add_11.jpg"
    assert x["file_name"] == os.path.join(d, "train-images", "train_00000003.jpg")
    (a,) = x["annotations"]
    assert a["bbox"] == [56.0, 170.0, 185.0, 185.0] and a["masked"] is True and a["ignore"] == 0
    assert a["attributes"] == {
        "eyes": [140.0, 198.0, 196.0, 208.0], "occluder_box": [41.0, 56.0, 147.0, 182.0],
        "occluder_box_abs": [97.0, 226.0, 147.0, 182.0], "occluder_type": 1, "occlusion_degree": 3,
        "gender": 1, "race": 1, "orientation": 4, "glasses_box": [-1.0, -1.0, -1.0, -1.0]}


def test_wrong_columns_names_file_and_entry(tmp_path):
    p = tmp_path / "LabelTestAll.mat"
    scipy.io.savemat(str(p), {"LabelTest": _struct(["name", "label"], [("a.jpg", np.zeros((2, 17)))])})
    with pytest.raises(DatasetFormatError, match=r"LabelTestAll\.mat: entry 1 .*a\.jpg.*N x 18"):
        parse_mafa_mat(str(p), "test")
    scipy.io.savemat(str(p), {"other": np.zeros(2)})
    with pytest.raises(DatasetFormatError, match="LabelTest"):
        parse_mafa_mat(str(p), "test")


def test_missing_root_labels_and_images(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"LabelTestAll\.mat"):
        load_mafa(str(tmp_path / "mafa"), "test")
    (tmp_path / "mafa").mkdir()
    with pytest.raises(FileNotFoundError, match="MAFA-Label-Test"):
        load_mafa(str(tmp_path / "mafa"), "test")
    (tmp_path / "x").mkdir()
    d = _make(tmp_path / "x", images=False)
    with pytest.raises(FileNotFoundError, match=r"test-images/images' does not exist"):
        load_mafa(d, "test")
    assert len(load_mafa(d, "test", require_images=False)) == 2


def test_cell_array_variant(tmp_path):
    """Some copies store ``label_train`` as a 1 x M cell of {orgImgName, imgName, label} cells."""
    cells = np.empty((1, 2), dtype=object)
    for i in range(2):
        entry = np.empty((1, 3), dtype=object)
        entry[0, 0], entry[0, 1] = f"org_{i}.jpg", f"train_{i}.jpg"
        entry[0, 2] = np.array([TRAIN_ROW], dtype=np.int16)
        cells[0, i] = entry
    p = tmp_path / "LabelTrainAll.mat"
    scipy.io.savemat(str(p), {"label_train": cells})
    recs = parse_mafa_mat(str(p), "train")
    assert [(r["org_name"], r["name"]) for r in recs] == [("org_0.jpg", "train_0.jpg"), ("org_1.jpg", "train_1.jpg")]
    np.testing.assert_array_equal(recs[1]["labels"], [TRAIN_ROW])
