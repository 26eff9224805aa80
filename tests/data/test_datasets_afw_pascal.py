"""AFW / PASCAL Face loaders (face-eval kit .mat layout) and the real annotation files."""
import logging
import os

import numpy as np
import pytest
import scipy.io

import facelib  # noqa: F401
from facelib.data.datasets.afw_pascal import load_afw, load_pascal_face, parse_face_eval_mat
from facelib.data.datasets.common import DatasetFormatError
from facelib.paths import shared_data_root


def _write_face_eval(path, entries):
    """entries: [(imgname, (w, h), objects N x 6)] as a struct array 'Annotations' (M x 1)."""
    dt = [("imgname", "O"), ("imgsize", "O"), ("objects", "O"), ("flags", "O")]
    arr = np.zeros((len(entries), 1), dtype=dt)
    for i, (name, (w, h), objs) in enumerate(entries):
        arr[i, 0] = (name, np.array([[w], [h], [3]], dtype=np.float64),
                     np.asarray(objs, dtype=np.float64).reshape(-1, 6), np.zeros((1, 1)))
    scipy.io.savemat(path, {"Annotations": arr})


ENTRIES = [
    ("img_a.jpg", (100, 80), [[10, 20, 40, 60, 0, 0], [50, 5, 70, 25, 0, 1]]),
    ("img_b.jpg", (30, 30), [[5, 5, 5, 9, 0, 0]]),
    ("img_c.jpg", (30, 30), np.zeros((0, 6))),
]


def test_pascal_face_eval_layout(tmp_path, caplog):
    d = tmp_path / "pascal_face"
    d.mkdir()
    (d / "images").mkdir()
    _write_face_eval(str(d / "Annotations_Face_PASCALLayout_large_fixed.mat"), ENTRIES)
    with caplog.at_level(logging.WARNING):
        dicts = load_pascal_face(str(d))
    assert [(x["image_id"], x["width"], x["height"]) for x in dicts] == [
        ("img_a", 100, 80), ("img_b", 30, 30), ("img_c", 30, 30)]
    assert dicts[0]["file_name"] == str(d / "images" / "img_a.jpg")
    a, b = dicts[0]["annotations"]
    assert a["bbox"] == [10.0, 20.0, 30.0, 40.0] and a["ignore"] == 0
    assert b["bbox"] == [50.0, 5.0, 20.0, 20.0] and b["ignore"] == 1
    assert b["attributes"] == {"ignore": 1, "col5": 0}
    assert dicts[1]["annotations"] == [] and dicts[2]["annotations"] == []
    assert any("pascal_face" in r.getMessage() and "dropped 1 of 3" in r.getMessage()
               for r in caplog.records)


def test_afw_prefers_face_eval_and_falls_back_to_anno2(tmp_path):
    d = tmp_path / "afw"
    d.mkdir()
    anno = np.empty((1, 4), dtype=object)
    anno[0, 0] = "x1.jpg"
    for j, value in [(1, np.array([[1.0, 2.0], [11.0, 22.0]])),  # [x1 y1; x2 y2]
                     (2, np.array([[45, 0, 15]], dtype=np.uint8)), (3, np.zeros((6, 2)))]:
        cell = np.empty((1, 1), dtype=object)
        cell[0, 0] = value
        anno[0, j] = cell
    scipy.io.savemat(str(d / "anno2.mat"), {"anno": anno})
    dicts = load_afw(str(d), require_images=False)
    assert dicts[0]["image_id"] == "x1" and dicts[0]["annotations"][0]["bbox"] == [1.0, 2.0, 10.0, 20.0]
    assert dicts[0]["annotations"][0]["attributes"]["pose"] == [45, 0, 15]
    assert "height" not in dicts[0]
    _write_face_eval(str(d / "new_annotations_AFW.mat"), ENTRIES[:1])
    dicts = load_afw(str(d), require_images=False)
    assert [x["image_id"] for x in dicts] == ["img_a"]
    assert [a["ignore"] for a in dicts[0]["annotations"]] == [0, 1]


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"afw/new_annotations_AFW\.mat"):
        load_afw(str(tmp_path / "afw"))
    (tmp_path / "afw").mkdir()
    with pytest.raises(FileNotFoundError, match="anno2.mat"):
        load_afw(str(tmp_path / "afw"))
    _write_face_eval(str(tmp_path / "afw" / "new_annotations_AFW.mat"), ENTRIES)
    with pytest.raises(FileNotFoundError, match=r"afw/images' does not exist"):
        load_afw(str(tmp_path / "afw"))
    scipy.io.savemat(str(tmp_path / "wrong.mat"), {"foo": np.zeros(3)})
    with pytest.raises(DatasetFormatError, match=r"wrong\.mat.*Annotations"):
        parse_face_eval_mat(str(tmp_path / "wrong.mat"))
    (tmp_path / "broken.mat").write_bytes(b"not a mat file")
    with pytest.raises(OSError, match=r"broken\.mat"):
        parse_face_eval_mat(str(tmp_path / "broken.mat"))


def _shared(name):
    d = os.path.join(shared_data_root(), name)
    if not os.path.isdir(d):
        pytest.skip(f"shared data not found: {d}")
    return d


def test_real_afw_counts():
    dicts = load_afw(_shared("afw"), require_images=False)
    anns = [a for x in dicts for a in x["annotations"]]
    assert (len(dicts), len(anns), sum(a["ignore"] for a in anns)) == (205, 545, 71)


def test_real_afw_anno2_parses():
    d = _shared("afw")
    if not os.path.isfile(os.path.join(d, "anno2.mat")):
        pytest.skip("anno2.mat not present")
    from facelib.data.datasets.afw_pascal import parse_afw_anno2_mat

    recs = parse_afw_anno2_mat(os.path.join(d, "anno2.mat"))
    assert len(recs) == 205 and sum(len(r["boxes"]) for r in recs) == 468
    assert recs[0]["imgname"] == "1004109301.jpg"
    np.testing.assert_allclose(recs[0]["boxes"][0], [196, 291, 472, 555], atol=1e-6)


def test_real_pascal_counts():
    dicts = load_pascal_face(_shared("pascal_face"), require_images=False)
    anns = [a for x in dicts for a in x["annotations"]]
    assert (len(dicts), len(anns), sum(a["ignore"] for a in anns)) == (851, 1635, 55)
    # imgsize is [width; height; channels]: VOC images are at most 500 wide
    assert max(x["width"] for x in dicts) <= 500 and max(x["height"] for x in dicts) <= 500
