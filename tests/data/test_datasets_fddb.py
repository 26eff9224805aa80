"""FDDB loader: ellipse -> box, folds, clipping, errors, and the real annotation files."""
import logging
import math
import os

import pytest
from PIL import Image

import facelib  # noqa: F401
from facelib.data.datasets.common import DatasetFormatError
from facelib.data.datasets.fddb import ellipse_to_xywh, load_fddb, parse_fddb_ellipse_list
from facelib.paths import shared_data_root

FOLD1 = """\
2002/08/11/big/img_1
2
20.0 10.0 1.5707963267948966 50.0 30.0  1
20.0 10.0 0.0 5.0 40.0  1
2002/08/11/big/img_2
1
20.0 10.0 0.7853981633974483 30.0 30.0  1
"""
FOLD2 = """\
2003/01/01/big/img_3
1
4.0 0.0 0.0 10.0 10.0  1
"""


def _make(tmp_path, images=True, list_files=True):
    d = tmp_path / "fddb"
    folds = d / "FDDB-folds"
    folds.mkdir(parents=True)
    (folds / "FDDB-fold-01-ellipseList.txt").write_text(FOLD1)
    (folds / "FDDB-fold-02-ellipseList.txt").write_text(FOLD2)
    if list_files:
        (folds / "FDDB-fold-01.txt").write_text("2002/08/11/big/img_1\n2002/08/11/big/img_2\n")
        (folds / "FDDB-fold-02.txt").write_text("2003/01/01/big/img_3\n")
    if images:
        for rel, size in [("2002/08/11/big/img_1", (64, 48)), ("2002/08/11/big/img_2", (100, 100)),
                          ("2003/01/01/big/img_3", (30, 30))]:
            p = d / "originalPics" / (rel + ".jpg")
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", size).save(p)
    return str(d)


def test_ellipse_box_formula():
    # major axis vertical (angle pi/2): half-width = minor, half-height = major
    assert ellipse_to_xywh(20, 10, math.pi / 2, 50, 30) == pytest.approx([40, 10, 20, 40])
    assert ellipse_to_xywh(20, 10, 0.0, 5, 40) == pytest.approx([-15, 30, 40, 20])
    h = math.sqrt(250.0)  # 45 degrees: sqrt(20^2/2 + 10^2/2)
    assert ellipse_to_xywh(20, 10, math.pi / 4, 30, 30) == pytest.approx([30 - h, 30 - h, 2 * h, 2 * h])


def test_load_all_folds_clipped(tmp_path, caplog):
    d = _make(tmp_path)
    with caplog.at_level(logging.WARNING):
        dicts = load_fddb(d, folds=[1, 2], dataset_name="fddb_fixture")
    assert [(x["image_id"], x["fold"], x["height"], x["width"]) for x in dicts] == [
        ("2002/08/11/big/img_1", 1, 48, 64), ("2002/08/11/big/img_2", 1, 100, 100),
        ("2003/01/01/big/img_3", 2, 30, 30)]
    a, b = dicts[0]["annotations"]
    assert a["bbox"] == pytest.approx([40, 10, 20, 38])   # y1 = 50 clipped to height 48
    assert b["bbox"] == pytest.approx([0, 30, 25, 18])    # x0 = -15 -> 0, y1 = 50 -> 48
    assert a["attributes"] == {"major_axis_radius": 20.0, "minor_axis_radius": 10.0,
                               "angle": pytest.approx(math.pi / 2), "center_x": 50.0, "center_y": 30.0}
    # the minor radius 0 ellipse is a degenerate (w = 0) box: dropped and counted
    assert dicts[2]["annotations"] == []
    assert any("fddb_fixture" in r.getMessage() and "dropped 1 of 4" in r.getMessage()
               for r in caplog.records)


def test_fold_selection_and_unclipped_annotations_only(tmp_path):
    d = _make(tmp_path, images=False)
    dicts = load_fddb(d, folds=[1], require_images=False)
    assert [x["fold"] for x in dicts] == [1, 1] and "height" not in dicts[0]
    assert dicts[0]["annotations"][1]["bbox"] == pytest.approx([-15, 30, 40, 20])
    with pytest.raises(FileNotFoundError, match="originalPics"):
        load_fddb(d, folds=[1])
    with pytest.raises(ValueError, match="1..10"):
        load_fddb(d, folds=[11], require_images=False)
    with pytest.raises(FileNotFoundError, match="FDDB-fold-03-ellipseList.txt"):
        load_fddb(d, folds=[3], require_images=False)


def test_fold_list_mismatch_is_an_error(tmp_path):
    d = _make(tmp_path, images=False)
    with open(os.path.join(d, "FDDB-folds", "FDDB-fold-02.txt"), "w") as f:
        f.write("2003/01/01/big/other\n")
    with pytest.raises(DatasetFormatError, match="FDDB-fold-02.txt"):
        load_fddb(d, folds=[2], require_images=False)


@pytest.mark.parametrize(
    "text,line",
    [("a/b\n1\n1 2 3 4 1\n", 3), ("a/b\nx\n", 2), ("a/b\n2\n1 2 3 4 5 1\n", 4), ("a/b\n1\n1 2 z 4 5 1\n", 3)],
)
def test_malformed_line_names_file_and_line(tmp_path, text, line):
    p = tmp_path / "FDDB-fold-01-ellipseList.txt"
    p.write_text(text)
    with pytest.raises(DatasetFormatError) as ei:
        parse_fddb_ellipse_list(str(p))
    assert ei.value.file == str(p) and ei.value.line == line and f"{p}:{line}:" in str(ei.value)


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="FDDB-folds/FDDB-fold-XX-ellipseList.txt"):
        load_fddb(str(tmp_path / "fddb"))


def test_real_fddb_counts():
    d = os.path.join(shared_data_root(), "fddb")
    if not os.path.isdir(os.path.join(d, "FDDB-folds")):
        pytest.skip(f"shared FDDB annotations not found in {d}")
    dicts = load_fddb(d, require_images=False)
    assert len(dicts) == 2845 and sum(len(x["annotations"]) for x in dicts) == 5171
    assert sorted({x["fold"] for x in dicts}) == list(range(1, 11))
    assert len(load_fddb(d, folds=[1], require_images=False)) == 290
    if not os.path.isdir(os.path.join(d, "originalPics")):
        with pytest.raises(FileNotFoundError, match="originalPics"):
            load_fddb(d)
