"""Face-mask VOC loader: classes, VOC box convention, the N % 5 split rule, errors, real files."""
import logging
import os
import re

import pytest
from PIL import Image

import facelib  # noqa: F401
from facelib.data.datasets.common import DatasetFormatError
from facelib.data.datasets.facemask_voc import facemask_split_of, load_facemask
from facelib.paths import shared_data_root


def _xml(w, h, objects):
    objs = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
        f"<ymax>{d}</ymax></bndbox></object>" for n, a, b, c, d in objects)
    return f"<annotation><size><width>{w}</width><height>{h}</height><depth>3</depth></size>{objs}</annotation>"


def _make(tmp_path, entries):
    """entries: {N: (w, h, objects)}; writes images + XMLs."""
    d = tmp_path / "facemask"
    (d / "images").mkdir(parents=True)
    (d / "annotations").mkdir()
    for n, (w, h, objs) in entries.items():
        (d / "annotations" / f"maksssksksss{n}.xml").write_text(_xml(w, h, objs))
        Image.new("RGB", (w, h)).save(d / "images" / f"maksssksksss{n}.jpg")
    return str(d)


ENTRIES = {
    0: (50, 40, [("con_mascarilla", 11, 21, 20, 30), ("sin_mascarilla", 1, 1, 50, 40)]),
    1: (50, 40, [("mascarilla_mal_puesta", 45, 5, 51, 10), ("sin_mascarilla", 5, 5, 4, 10)]),
    3: (30, 20, [("sin_mascarilla", 2, 3, 4, 5)]),
    4: (30, 20, [("con_mascarilla", 2, 3, 4, 5)]),   # withheld test residue: never loaded
    8: (30, 20, []),
    12: (10, 10, []),
}


def test_split_rule():
    assert [facemask_split_of(n) for n in range(10)] == [
        "train", "train", "train", "val", None, "train", "train", "train", "val", None]


def test_train_boxes_classes_and_withheld(tmp_path, caplog):
    d = _make(tmp_path, ENTRIES)
    with caplog.at_level(logging.WARNING):
        train = load_facemask(d, "train", verify_image_size=True)
    assert [x["image_id"] for x in train] == ["maksssksksss0", "maksssksksss1", "maksssksksss12"]
    a0, a1 = train[0]["annotations"]
    # VOC 1-based inclusive corners: [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]
    assert a0["bbox"] == [10.0, 20.0, 10.0, 10.0] and a0["masked"] is True
    assert a0["attributes"] == {"label": "con_mascarilla"} and a0["ignore"] == 0
    assert a1["bbox"] == [0.0, 0.0, 50.0, 40.0] and a1["masked"] is False
    (b0,) = train[1]["annotations"]  # xmax 51 > width 50: clipped; the xmax < xmin box dropped
    assert b0["bbox"] == [44.0, 4.0, 6.0, 6.0] and b0["masked"] is True
    assert b0["attributes"] == {"label": "mascarilla_mal_puesta"}
    assert (train[0]["height"], train[0]["width"]) == (40, 50)
    assert any("facemask_train" in r.getMessage() and "dropped 1 of 4" in r.getMessage()
               for r in caplog.records)
    val = load_facemask(d, "val")
    assert [x["image_id"] for x in val] == ["maksssksksss3", "maksssksksss8"]
    with pytest.raises(ValueError):
        load_facemask(d, "test")


def test_unknown_class_names_file(tmp_path):
    d = _make(tmp_path, {0: (10, 10, [("with_mask", 1, 1, 5, 5)])})
    with pytest.raises(DatasetFormatError, match=r"maksssksksss0\.xml.*unknown class 'with_mask'"):
        load_facemask(d, "train")


def test_bad_xml_and_size_mismatch(tmp_path):
    d = _make(tmp_path, {0: (10, 10, [])})
    with open(os.path.join(d, "annotations", "maksssksksss5.xml"), "w") as f:
        f.write("<annotation><size><width>10</width>\n<oops></annotation>")
    Image.new("RGB", (10, 10)).save(os.path.join(d, "images", "maksssksksss5.jpg"))
    with pytest.raises(DatasetFormatError, match=r"maksssksksss5\.xml:2:") as ei:
        load_facemask(d, "train")
    assert ei.value.line == 2
    os.remove(os.path.join(d, "annotations", "maksssksksss5.xml"))
    Image.new("RGB", (12, 10)).save(os.path.join(d, "images", "maksssksksss0.jpg"))
    assert len(load_facemask(d, "train")) == 1
    with pytest.raises(DatasetFormatError, match="says 10x10 but image"):
        load_facemask(d, "train", verify_image_size=True)


def test_missing_root_and_image(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"annotations/maksssksksss<N>\.xml"):
        load_facemask(str(tmp_path / "facemask"), "train")
    d = _make(tmp_path, {0: (10, 10, [])})
    os.remove(os.path.join(d, "images", "maksssksksss0.jpg"))
    with pytest.raises(FileNotFoundError, match=r"maksssksksss0\.jpg"):
        load_facemask(d, "train")


def test_real_facemask_splits():
    d = os.path.join(shared_data_root(), "facemask")
    if not os.path.isdir(d):
        pytest.skip(f"shared face-mask set not found at {d}")
    train = load_facemask(d, "train", verify_image_size=True)
    val = load_facemask(d, "val", verify_image_size=True)
    assert (len(train), len(val)) == (513, 170)
    assert (sum(len(x["annotations"]) for x in train), sum(len(x["annotations"]) for x in val)) == (2329, 851)
    nums = [int(re.search(r"(\d+)$", x["image_id"]).group(1)) for x in train + val]
    assert not any(n % 5 == 4 for n in nums)
    assert {n % 5 for n in nums[: len(train)]} == {0, 1, 2} and {n % 5 for n in nums[len(train):]} == {3}
    masked = sum(a["masked"] for x in train + val for a in x["annotations"])
    assert masked == 1826 + 81 + 671 + 23
