"""Shared loader helpers (facelib/data/datasets/common.py)."""
import logging

import pytest
from PIL import Image

import facelib  # noqa: F401
from detectron2.structures import BoxMode
from facelib.data.datasets.common import (
    DatasetFormatError,
    check_root,
    clip_xywh,
    drop_degenerate_boxes,
    make_face_annotation,
    read_image_size,
)


def test_dataset_format_error():
    e = DatasetFormatError("bad count", file="/x/a.txt", line=7)
    assert isinstance(e, ValueError) and (e.file, e.line) == ("/x/a.txt", 7)
    assert str(e) == "/x/a.txt:7: bad count"
    assert str(DatasetFormatError("no var", file="/x/b.mat")) == "/x/b.mat: no var"


def test_make_face_annotation():
    a = make_face_annotation([1, 2, 3, 4], ignore=1, masked=True, attributes={"k": 1})
    assert a == {"bbox": [1.0, 2.0, 3.0, 4.0], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0,
                 "iscrowd": 0, "ignore": 1, "masked": True, "attributes": {"k": 1}}
    assert "masked" not in make_face_annotation([0, 0, 1, 1]) and "occluded" not in make_face_annotation([0, 0, 1, 1])
    with pytest.raises(ValueError):
        make_face_annotation([1, 2, 3])


def test_drop_degenerate_boxes_counts(caplog):
    dicts = [{"annotations": [make_face_annotation(b) for b in ([0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 1, -2])]},
             {"file_name": "unlabeled"}]
    with caplog.at_level(logging.WARNING):
        assert drop_degenerate_boxes(dicts, "my_set") == 2
    assert [a["bbox"] for a in dicts[0]["annotations"]] == [[0.0, 0.0, 1.0, 1.0]]
    assert "annotations" not in dicts[1]
    (rec,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "my_set" in rec.getMessage() and "dropped 2 of 3" in rec.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert drop_degenerate_boxes(dicts, "my_set") == 0
    assert not caplog.records


def test_clip_and_sizes(tmp_path):
    assert clip_xywh([-5, 2, 20, 50], height=30, width=10) == [0.0, 2.0, 10.0, 28.0]
    assert clip_xywh([12, 2, 5, 5], height=30, width=10)[2] == 0.0
    p = tmp_path / "im.png"
    Image.new("L", (7, 5)).save(p)
    assert read_image_size(str(p)) == (5, 7)
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_image_size(str(tmp_path / "nope.jpg"))
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(OSError, match="junk.jpg"):
        read_image_size(str(tmp_path / "junk.jpg"))
    with pytest.raises(FileNotFoundError, match="LAYOUT-TEXT"):
        check_root(str(tmp_path / "missing"), "ds", "LAYOUT-TEXT")
