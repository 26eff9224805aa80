"""WIDER FACE loader: official .txt / .mat formats, placeholder lines, errors, and the real files."""
import logging
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

import facelib  # noqa: F401
from detectron2.structures import BoxMode
from facelib.data.datasets.common import DatasetFormatError
from facelib.data.datasets.wider_face import (
    load_wider_face,
    parse_wider_face_mat,
    parse_wider_face_txt,
)
from facelib.paths import shared_data_root

TXT = """\
0--Parade/0_Parade_a_1.jpg
2
10 20 30 40 1 0 0 0 1 0
5 6 7 8 2 1 1 1 0 1
0--Parade/0_Parade_empty_2.jpg
0
0 0 0 0 0 0 0 0 0 0
1--Handshaking/1_Hand_b_3.jpg
2
1 2 0 5 0 0 0 0 0 0
3 4 5 6 0 0 0 0 2 0
"""

IMAGES = {  # rel path -> (width, height)
    "0--Parade/0_Parade_a_1.jpg": (64, 48),
    "0--Parade/0_Parade_empty_2.jpg": (32, 16),
    "1--Handshaking/1_Hand_b_3.jpg": (20, 30),
}


def _write_images(split_dir, images=IMAGES):
    for rel, (w, h) in images.items():
        p = os.path.join(split_dir, "images", rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        Image.new("RGB", (w, h)).save(p)


def _make_txt_dataset(tmp_path, split="val", text=TXT, images=True):
    d = tmp_path / "widerface"
    (d / "wider_face_split").mkdir(parents=True)
    (d / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt").write_text(text)
    if images:
        _write_images(str(d / f"WIDER_{split}"))
    return str(d)


def test_load_txt_boxes_attributes_and_sizes(tmp_path, caplog):
    d = _make_txt_dataset(tmp_path)
    with caplog.at_level(logging.WARNING):
        dicts = load_wider_face(d, "val", dataset_name="wf_fixture")
    assert [x["image_id"] for x in dicts] == [
        "0--Parade/0_Parade_a_1", "0--Parade/0_Parade_empty_2", "1--Handshaking/1_Hand_b_3"]
    a = dicts[0]
    assert a["file_name"] == os.path.join(d, "WIDER_val", "images", "0--Parade/0_Parade_a_1.jpg")
    assert (a["height"], a["width"], a["event"]) == (48, 64, "0--Parade")
    f0, f1 = a["annotations"]
    assert f0["bbox"] == [10.0, 20.0, 30.0, 40.0] and f0["bbox_mode"] == BoxMode.XYWH_ABS
    assert f0["attributes"] == {"blur": 1, "expression": 0, "illumination": 0, "invalid": 0,
                                "occlusion": 1, "pose": 0}
    assert (f0["ignore"], f0["occluded"], f0["category_id"], f0["iscrowd"]) == (0, True, 0, 0)
    assert f1["bbox"] == [5.0, 6.0, 7.0, 8.0]
    assert (f1["ignore"], f1["occluded"]) == (1, False)
    assert f1["attributes"] == {"blur": 2, "expression": 1, "illumination": 1, "invalid": 1,
                                "occlusion": 0, "pose": 1}
    # the count-0 image: its all-zero placeholder line is not a face
    assert dicts[1]["annotations"] == [] and (dicts[1]["height"], dicts[1]["width"]) == (16, 32)
    # the w = 0 box is dropped and counted, with the dataset name
    assert [x["bbox"] for x in dicts[2]["annotations"]] == [[3.0, 4.0, 5.0, 6.0]]
    assert dicts[2]["annotations"][0]["occluded"] is True
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("wf_fixture" in m and "dropped 1 of 4" in m for m in msgs), msgs


def test_txt_placeholder_count_zero_without_zero_line(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("0--P/x.jpg\n0\n0--P/y.jpg\n1\n1 1 2 2 0 0 0 0 0 0\n")
    recs = parse_wider_face_txt(str(p))
    assert [r[0] for r in recs] == ["0--P/x.jpg", "0--P/y.jpg"]
    assert recs[0][1].shape == (0, 10)
    np.testing.assert_array_equal(recs[1][1], [[1, 1, 2, 2, 0, 0, 0, 0, 0, 0]])


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("0--P/x.jpg\n1\n1 2 3 4 0 0 0 0 0\n", 3, "expected 10 values"),
        ("0--P/x.jpg\ntwo\n", 2, "number of faces"),
        ("0--P/x.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", 4, "file ends"),
        ("0--P/x.jpg\n1\n1 2 3 4 0 0 0 0 a 0\n", 3, "expected numbers"),
        ("0--P/x.jpg\n0\n1 0 0 0 0 0 0 0 0 0\n", 3, "non-zero"),
    ],
)
def test_txt_malformed_line_names_file_and_line(tmp_path, text, line, fragment):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(DatasetFormatError) as ei:
        parse_wider_face_txt(str(p))
    err = ei.value
    assert err.file == str(p) and err.line == line
    assert f"{p}:{line}:" in str(err) and fragment in str(err)


def _cell(items):
    arr = np.empty((len(items), 1), dtype=object)
    for i, it in enumerate(items):
        arr[i, 0] = it
    return arr


def _write_wider_mat(path, events, with_boxes=True):
    """events: [(event, [(name, boxes(N,4), labels(N,6))])] in the official cell layout."""
    data = {
        "event_list": _cell([e for e, _ in events]),
        "file_list": _cell([_cell([n for n, _, _ in imgs]) for _, imgs in events]),
    }
    if with_boxes:
        data["face_bbx_list"] = _cell([_cell([np.asarray(b, dtype=np.int32).reshape(-1, 4)
                                              for _, b, _ in imgs]) for _, imgs in events])
        keys = ["blur", "expression", "illumination", "invalid", "occlusion", "pose"]
        for j, k in enumerate(keys):
            data[f"{k}_label_list"] = _cell([
                _cell([np.asarray(lab, dtype=np.uint8).reshape(-1, 6)[:, j:j + 1] for _, _, lab in imgs])
                for _, imgs in events])
    scipy.io.savemat(path, data)


MAT_EVENTS = [
    ("0--Parade", [("0_Parade_a_1", [[10, 20, 30, 40], [5, 6, 7, 8]],
                    [[1, 0, 0, 0, 1, 0], [2, 1, 1, 1, 0, 1]]),
                   ("0_Parade_empty_2", [[0, 0, 0, 0]], [[0, 0, 0, 0, 0, 0]])]),
    ("1--Handshaking", [("1_Hand_b_3", [[1, 2, 0, 5], [3, 4, 5, 6]],
                         [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 2, 0]])]),
]


def test_mat_parse_matches_txt(tmp_path):
    _write_wider_mat(str(tmp_path / "w.mat"), MAT_EVENTS)
    (tmp_path / "w.txt").write_text(TXT)
    mat = parse_wider_face_mat(str(tmp_path / "w.mat"))
    txt = parse_wider_face_txt(str(tmp_path / "w.txt"))
    assert [r[0] for r in mat] == [r[0] for r in txt]
    np.testing.assert_array_equal(mat[0][1], txt[0][1])
    np.testing.assert_array_equal(mat[2][1], txt[2][1])
    # the .mat face-less placeholder is a single all-zero row (dropped later as degenerate)
    np.testing.assert_array_equal(mat[1][1], np.zeros((1, 10)))


def test_load_prefers_txt_then_mat(tmp_path, caplog):
    d = tmp_path / "widerface"
    (d / "wider_face_split").mkdir(parents=True)
    _write_images(str(d / "WIDER_train"))
    _write_wider_mat(str(d / "wider_face_split" / "wider_face_train.mat"), MAT_EVENTS)
    with caplog.at_level(logging.WARNING):
        dicts = load_wider_face(str(d), "train")
    assert [len(x["annotations"]) for x in dicts] == [2, 0, 1]
    assert dicts[0]["annotations"][1]["ignore"] == 1
    assert any("widerface_train" in r.getMessage() and "dropped 2 of 5" in r.getMessage()
               for r in caplog.records)
    # with a .txt present, the .txt wins (here: a different, single-image file)
    (d / "wider_face_split" / "wider_face_train_bbx_gt.txt").write_text(
        "0--Parade/0_Parade_a_1.jpg\n1\n1 1 9 9 0 0 0 0 0 0\n")
    dicts = load_wider_face(str(d), "train")
    assert len(dicts) == 1 and dicts[0]["annotations"][0]["bbox"] == [1.0, 1.0, 9.0, 9.0]


def test_test_split_has_no_annotations(tmp_path):
    d = tmp_path / "widerface"
    (d / "wider_face_split").mkdir(parents=True)
    _write_wider_mat(str(d / "wider_face_split" / "wider_face_test.mat"), MAT_EVENTS, with_boxes=False)
    dicts = load_wider_face(str(d), "test", require_images=False)
    assert [x["image_id"] for x in dicts] == [
        "0--Parade/0_Parade_a_1", "0--Parade/0_Parade_empty_2", "1--Handshaking/1_Hand_b_3"]
    assert all("annotations" not in x and "height" not in x for x in dicts)
    (d / "wider_face_split" / "wider_face_test_filelist.txt").write_text("2--D/2_D_c_4.jpg\n")
    assert [x["image_id"] for x in load_wider_face(str(d), "test", require_images=False)] == ["2--D/2_D_c_4"]


def test_missing_root_and_images_name_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"WIDER_\{train,val,test\}/images"):
        load_wider_face(str(tmp_path / "nowhere"), "val")
    d = _make_txt_dataset(tmp_path, images=False)
    with pytest.raises(FileNotFoundError, match="WIDER_val/images' does not exist"):
        load_wider_face(d, "val")
    dicts = load_wider_face(d, "val", require_images=False)
    assert len(dicts) == 3 and "height" not in dicts[0]
    os.remove(os.path.join(d, "wider_face_split", "wider_face_val_bbx_gt.txt"))
    with pytest.raises(FileNotFoundError, match="wider_face_val_bbx_gt.txt"):
        load_wider_face(d, "val", require_images=False)


def test_missing_single_image_names_path(tmp_path):
    d = _make_txt_dataset(tmp_path)
    victim = os.path.join(d, "WIDER_val", "images", "1--Handshaking", "1_Hand_b_3.jpg")
    os.remove(victim)
    with pytest.raises(FileNotFoundError, match="1_Hand_b_3.jpg"):
        load_wider_face(d, "val")


# ---------------------------------------------------------------- real files (../shared/data)
def _shared(*parts):
    p = os.path.join(shared_data_root(), *parts)
    if not os.path.exists(p):
        pytest.skip(f"shared data not found: {p}")
    return p


def test_real_val_txt_counts(caplog):
    txt = _shared("widerface", "wider_face_split", "wider_face_val_bbx_gt.txt")
    recs = parse_wider_face_txt(txt)
    assert len(recs) == 3226 and sum(len(r[1]) for r in recs) == 39708
    with caplog.at_level(logging.WARNING):
        dicts = load_wider_face(_shared("widerface"), "val", require_images=False)
    assert len(dicts) == 3226
    # 11 boxes with w or h = 0 (4 of them all-zero face-less placeholders written with count 1)
    assert sum(len(d["annotations"]) for d in dicts) == 39708 - 11
    assert any("dropped 11 of 39708" in r.getMessage() for r in caplog.records)
    assert sum(a["ignore"] for d in dicts for a in d["annotations"]) == 585


def test_real_val_mat_matches_txt():
    mat = dict(parse_wider_face_mat(_shared("widerface", "eval_tools", "ground_truth", "wider_face_val.mat")))
    txt = parse_wider_face_txt(_shared("widerface", "wider_face_split", "wider_face_val_bbx_gt.txt"))
    assert len(mat) == len(txt) == 3226
    # identical boxes and attributes, including the 4 face-less images' all-zero rows
    assert all(np.array_equal(mat[k], v) for k, v in txt)
    assert sum(1 for _, v in txt if len(v) == 1 and not v.any()) == 4


def test_real_train_mat_counts():
    recs = parse_wider_face_mat(_shared("widerface", "wider_face_split", "wider_face_train.mat"))
    assert len(recs) == 12880 and sum(len(r[1]) for r in recs) == 159424


def test_real_val200_with_images():
    d = _shared("widerface_val200")
    dicts = load_wider_face(d, "val", dataset_name="widerface_val200")
    assert len(dicts) == 200
    assert all(x["height"] > 0 and x["width"] > 0 and os.path.isfile(x["file_name"]) for x in dicts)
    assert len({x["image_id"] for x in dicts}) == 200
