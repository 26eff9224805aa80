"""Every real-data loader on malformed input: a truncated annotation file, a non-numeric field, a
box entirely outside the image, a zero- / negative-size box and a missing image file.

Errors must name the annotation file and the line (``.mat`` / XML: the entry / object); zero- and
negative-size boxes are dropped and counted in one WARNING naming the dataset (docs/data_format.md)
while the rest loads. Fixtures are the hand-made files of the loaders' own tests, edited here.
"""
import logging
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

import facelib  # noqa: F401
from facelib.data.datasets import (
    DatasetFormatError,
    load_afw,
    load_facemask,
    load_fddb,
    load_mafa,
    load_pascal_face,
    load_sfs,
    load_wider_face,
)
from facelib.data.datasets.common import UnreadableAnnotationError

# the fixture builders of the loaders' own tests (tests/data is on sys.path in pytest's default
# "prepend" import mode)
from test_datasets_afw_pascal import ENTRIES as FACE_EVAL_ENTRIES, _write_face_eval
from test_datasets_facemask import _make as make_facemask, _xml as facemask_xml
from test_datasets_fddb import FOLD1, _make as make_fddb
from test_datasets_mafa import TEST_ROWS as MAFA_TEST_ROWS, _make as make_mafa, _struct as mafa_struct
from test_datasets_sfs import FACES as SFS_FACES, _make as make_sfs
from test_datasets_wider_face import MAT_EVENTS, TXT as WIDER_TXT, _make_txt_dataset, _write_images, _write_wider_mat


def _edit_lines(text, edits):
    """``text`` with 1-based line ``k`` replaced by ``edits[k]`` (``None`` removes it)."""
    lines = text.splitlines()
    out = [edits.get(k, line) for k, line in enumerate(lines, start=1)]
    return "\n".join(line for line in out if line is not None) + "\n"


def _truncate(path, fraction=0.6):
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * fraction)])


def _assert_at_line(err, path, line, fragment=""):
    assert isinstance(err, DatasetFormatError)
    assert (err.file, err.line) == (str(path), line), str(err)
    assert str(err).startswith(f"{path}:{line}: ") and fragment in str(err), str(err)


def _assert_at_item(err, path, item, fragment=""):
    assert isinstance(err, DatasetFormatError)
    assert err.file == str(path) and err.line is None, str(err)
    assert str(err).startswith(f"{path}: {item}: ") and fragment in str(err), str(err)


def _assert_unreadable(err, path):
    assert isinstance(err, UnreadableAnnotationError)
    assert isinstance(err, ValueError) and isinstance(err, OSError)  # old `except OSError` still works
    assert err.file == str(path) and str(err).startswith(f"{path}: ")


def _degenerate_warning(caplog, dataset, dropped, total, first):
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "degenerate" in r.getMessage()]
    assert len(msgs) == 1, msgs  # once per dataset
    assert f"'{dataset}'" in msgs[0] and f"dropped {dropped} of {total}" in msgs[0], msgs[0]
    assert f"the first at {first}" in msgs[0], msgs[0]


# ------------------------------------------------------------------------------- WIDER FACE (.txt)
# WIDER_TXT: line 1 0--Parade/0_Parade_a_1.jpg (64x48), 2 count, 3-4 faces, 5 empty image (32x16),
# 6 count 0, 7 placeholder, 8 1--Handshaking/1_Hand_b_3.jpg (20x30), 9 count, 10 (w = 0) and 11 faces.
def _wider_txt(tmp_path, edits):
    d = _make_txt_dataset(tmp_path, text=_edit_lines(WIDER_TXT, edits))
    return d, os.path.join(d, "wider_face_split", "wider_face_val_bbx_gt.txt")


@pytest.mark.parametrize(
    "edits,line,fragment",
    [
        ({11: None}, 11, "file ends inside the 2 face lines"),            # truncated at a line end
        ({11: "3 4 5"}, 11, "expected 10 values"),                         # truncated inside a line
        ({4: "5 6 seven 8 2 1 1 1 0 1"}, 4, "expected numbers"),           # non-numeric
        ({4: "5 6 nan 8 2 1 1 1 0 1"}, 4, "expected numbers"),             # non-finite
        ({11: "25 4 5 6 0 0 0 0 2 0"}, 11, "entirely outside the 20x30 image"),  # x >= width
    ],
    ids=["truncated", "truncated-line", "non-numeric", "nan", "outside"],
)
def test_wider_txt_errors_name_file_and_line(tmp_path, edits, line, fragment):
    d, ann = _wider_txt(tmp_path, edits)
    with pytest.raises(DatasetFormatError) as ei:
        load_wider_face(d, "val")
    _assert_at_line(ei.value, ann, line, fragment)


def test_wider_txt_zero_and_negative_size_counted(tmp_path, caplog):
    d, ann = _wider_txt(tmp_path, {4: "5 6 -7 8 2 1 1 1 0 1"})  # plus the w = 0 face of line 10
    with caplog.at_level(logging.WARNING):
        dicts = load_wider_face(d, "val", dataset_name="wf_bad")
    assert [len(x["annotations"]) for x in dicts] == [1, 0, 1]
    assert dicts[2]["annotations"][0]["bbox"] == [3.0, 4.0, 5.0, 6.0]
    _degenerate_warning(caplog, "wf_bad", 2, 4, f"{ann}:4")


def test_wider_txt_missing_image_names_file_and_line(tmp_path):
    d, ann = _wider_txt(tmp_path, {})
    os.remove(os.path.join(d, "WIDER_val", "images", "1--Handshaking", "1_Hand_b_3.jpg"))
    with pytest.raises(FileNotFoundError, match="1_Hand_b_3.jpg") as ei:
        load_wider_face(d, "val")
    assert f"listed at {ann}:8" in str(ei.value)


def test_wider_test_filelist_missing_image_names_file_and_line(tmp_path):
    d = tmp_path / "widerface"
    (d / "wider_face_split").mkdir(parents=True)
    ann = d / "wider_face_split" / "wider_face_test_filelist.txt"
    ann.write_text("0--Parade/0_Parade_a_1.jpg\n\n0--Parade/missing.jpg\n")
    _write_images(str(d / "WIDER_test"), {"0--Parade/0_Parade_a_1.jpg": (8, 8)})
    with pytest.raises(FileNotFoundError, match=f"missing.jpg' \\(listed at {ann}:3\\)"):
        load_wider_face(str(d), "test")


# ------------------------------------------------------------------------------- WIDER FACE (.mat)
def _wider_mat(tmp_path, events=MAT_EVENTS):
    d = tmp_path / "widerface"
    (d / "wider_face_split").mkdir(parents=True)
    _write_images(str(d / "WIDER_train"))
    ann = d / "wider_face_split" / "wider_face_train.mat"
    _write_wider_mat(str(ann), events)
    return str(d), str(ann)


def _with_box(events, event, image, box):
    """MAT_EVENTS with the boxes of ``events[event]``'s image ``image`` replaced by ``box`` rows."""
    out = [(e, list(imgs)) for e, imgs in events]
    name, _, labels = out[event][1][image]
    out[event][1][image] = (name, box, labels)
    return out


def test_wider_mat_truncated(tmp_path):
    d, ann = _wider_mat(tmp_path)
    _truncate(ann)
    with pytest.raises(UnreadableAnnotationError) as ei:
        load_wider_face(d, "train")
    _assert_unreadable(ei.value, ann)


def test_wider_mat_non_numeric_names_event_and_image(tmp_path):
    d, ann = _wider_mat(tmp_path)
    mat = scipy.io.loadmat(ann)
    mat["face_bbx_list"][1, 0][0, 0] = np.array(["ten"])  # 1--Handshaking / 1_Hand_b_3
    scipy.io.savemat(ann, {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(DatasetFormatError) as ei:
        load_wider_face(d, "train")
    _assert_at_item(ei.value, ann, "event 2 (1--Handshaking), image 1 (1_Hand_b_3)", "not numeric")


def test_wider_mat_outside_names_event_image_and_face(tmp_path):
    d, ann = _wider_mat(tmp_path, _with_box(MAT_EVENTS, 0, 0, [[10, 20, 30, 40], [5, 48, 7, 8]]))  # y >= 48
    with pytest.raises(DatasetFormatError) as ei:
        load_wider_face(d, "train")
    _assert_at_item(ei.value, ann, "event 1 (0--Parade), image 1 (0_Parade_a_1), face 2", "outside the 64x48")


def test_wider_mat_zero_and_negative_size_counted(tmp_path, caplog):
    d, ann = _wider_mat(tmp_path, _with_box(MAT_EVENTS, 0, 0, [[10, 20, 30, 40], [5, 6, 7, -8]]))
    with caplog.at_level(logging.WARNING):
        dicts = load_wider_face(d, "train")
    # dropped: the h = -8 box, the all-zero face-less placeholder and the w = 0 box of 1_Hand_b_3
    assert [len(x["annotations"]) for x in dicts] == [1, 0, 1]
    _degenerate_warning(caplog, "widerface_train", 3, 5, f"{ann} (event 1 (0--Parade), image 1 (0_Parade_a_1), face 2)")


def test_wider_mat_missing_image_names_event_and_image(tmp_path):
    d, ann = _wider_mat(tmp_path)
    os.remove(os.path.join(d, "WIDER_train", "images", "1--Handshaking", "1_Hand_b_3.jpg"))
    with pytest.raises(FileNotFoundError) as ei:
        load_wider_face(d, "train")
    assert f"listed at {ann} (event 2 (1--Handshaking), image 1 (1_Hand_b_3))" in str(ei.value)


# ---------------------------------------------------------------------------------------- FDDB
# FOLD1: line 1 img_1 (64x48), 2 count, 3-4 ellipses, 5 img_2 (100x100), 6 count, 7 ellipse.
def _fddb(tmp_path, edits):
    d = make_fddb(tmp_path)
    ell = os.path.join(d, "FDDB-folds", "FDDB-fold-01-ellipseList.txt")
    with open(ell, "w") as f:
        f.write(_edit_lines(FOLD1, edits))
    return d, ell


@pytest.mark.parametrize(
    "edits,line,fragment",
    [
        ({7: None}, 7, "file ends inside the 1 ellipse lines"),
        ({4: "20.0 ten 0.0 5.0 40.0  1"}, 4, "expected numbers"),
        ({4: "20.0 10.0 0.0 5.0 inf  1"}, 4, "expected numbers"),
        ({7: "20.0 10.0 0.0 300.0 30.0  1"}, 7, "entirely outside the 100x100 image"),
        ({4: "20.0 -10.0 0.0 5.0 40.0  1"}, 4, "negative ellipse radius"),
    ],
    ids=["truncated", "non-numeric", "inf", "outside", "negative-radius"],
)
def test_fddb_errors_name_file_and_line(tmp_path, edits, line, fragment):
    d, ell = _fddb(tmp_path, edits)
    with pytest.raises(DatasetFormatError) as ei:
        load_fddb(d, folds=[1])
    _assert_at_line(ei.value, ell, line, fragment)


def test_fddb_zero_radius_counted(tmp_path, caplog):
    d, ell = _fddb(tmp_path, {3: "20.0 0.0 1.5707963267948966 50.0 30.0  1"})
    with caplog.at_level(logging.WARNING):
        dicts = load_fddb(d, folds=[1], dataset_name="fddb_bad")
    assert [len(x["annotations"]) for x in dicts] == [1, 1]
    _degenerate_warning(caplog, "fddb_bad", 1, 3, f"{ell}:3")


def test_fddb_missing_image_names_file_and_line(tmp_path):
    d, ell = _fddb(tmp_path, {})
    os.remove(os.path.join(d, "originalPics", "2002", "08", "11", "big", "img_2.jpg"))
    with pytest.raises(FileNotFoundError, match="img_2.jpg") as ei:
        load_fddb(d, folds=[1])
    assert f"listed at {ell}:5" in str(ei.value)


def test_fddb_fold_list_mismatch_names_line(tmp_path):
    d, _ = _fddb(tmp_path, {})
    lst = os.path.join(d, "FDDB-folds", "FDDB-fold-01.txt")
    with open(lst, "w") as f:
        f.write("2002/08/11/big/img_1\n\n2002/08/11/big/other\n")
    with pytest.raises(DatasetFormatError) as ei:
        load_fddb(d, folds=[1])
    _assert_at_line(ei.value, lst, 3, "first difference at image 2")


# ---------------------------------------------------------------------------------------- MAFA
# test_00000001.jpg (400x300) has MAFA_TEST_ROWS (face 3: h = 0); test_00000002.jpg has no faces.
def _mafa(tmp_path, rows=MAFA_TEST_ROWS, label=None):
    d = make_mafa(tmp_path)
    ann = os.path.join(d, "LabelTestAll.mat")
    first = np.array(rows, dtype=np.int16) if label is None else label
    scipy.io.savemat(ann, {"LabelTest": mafa_struct(
        ["name", "label"], [("test_00000001.jpg", first), ("test_00000002.jpg", np.zeros((0, 18), np.int16))])})
    return d, ann


def _mafa_row(k, **cols):
    rows = [list(r) for r in MAFA_TEST_ROWS]
    for c, v in cols.items():
        rows[k]["xywh".index(c)] = v
    return rows


def test_mafa_truncated(tmp_path):
    d, ann = _mafa(tmp_path)
    _truncate(ann)
    with pytest.raises(UnreadableAnnotationError) as ei:
        load_mafa(d, "test")
    _assert_unreadable(ei.value, ann)


def test_mafa_non_numeric_names_entry(tmp_path):
    d, ann = _mafa(tmp_path, label="ten twenty")
    with pytest.raises(DatasetFormatError) as ei:
        load_mafa(d, "test")
    _assert_at_item(ei.value, ann, "entry 1 of 'LabelTest' (test_00000001.jpg)", "not numeric")


def test_mafa_outside_names_entry_and_face(tmp_path):
    d, ann = _mafa(tmp_path, _mafa_row(1, x=-30))  # x + w = -10 <= 0
    with pytest.raises(DatasetFormatError) as ei:
        load_mafa(d, "test")
    _assert_at_item(ei.value, ann, "entry 1 (test_00000001.jpg), face 2", "outside the 400x300")


def test_mafa_zero_and_negative_size_counted(tmp_path, caplog):
    d, ann = _mafa(tmp_path, _mafa_row(1, w=-20))  # plus the h = 0 face 3
    with caplog.at_level(logging.WARNING):
        dicts = load_mafa(d, "test")
    assert [len(x["annotations"]) for x in dicts] == [2, 0]
    assert [a["bbox"] for a in dicts[0]["annotations"]] == [[10.0, 20.0, 30.0, 40.0], [1.0, 1.0, 9.0, 9.0]]
    _degenerate_warning(caplog, "mafa_test", 2, 4, f"{ann} (entry 1 (test_00000001.jpg), face 2)")


def test_mafa_missing_image_names_entry(tmp_path):
    d, ann = _mafa(tmp_path)
    os.remove(os.path.join(d, "test-images", "images", "test_00000002.jpg"))
    with pytest.raises(FileNotFoundError, match="test_00000002.jpg") as ei:
        load_mafa(d, "test")
    assert f"listed at {ann} (entry 2 (test_00000002.jpg))" in str(ei.value)


# ------------------------------------------------------------------- AFW / PASCAL Face (face-eval)
# FACE_EVAL_ENTRIES: img_a (100x80, 2 boxes), img_b (30x30, one w = 0 box), img_c (30x30, none).
FACE_EVAL = [
    pytest.param(load_afw, "afw", "new_annotations_AFW.mat", id="afw"),
    pytest.param(load_pascal_face, "pascal_face", "Annotations_Face_PASCALLayout_large_fixed.mat", id="pascal"),
]


def _face_eval(tmp_path, folder, mat_name, entries=FACE_EVAL_ENTRIES):
    d = tmp_path / folder
    (d / "images").mkdir(parents=True)
    ann = d / mat_name
    _write_face_eval(str(ann), entries)
    return str(d), str(ann)


def _with_objects(k, objects):
    entries = list(FACE_EVAL_ENTRIES)
    entries[k] = (entries[k][0], entries[k][1], objects)
    return entries


@pytest.mark.parametrize("load,folder,mat_name", FACE_EVAL)
def test_face_eval_truncated(tmp_path, load, folder, mat_name):
    d, ann = _face_eval(tmp_path, folder, mat_name)
    _truncate(ann)
    with pytest.raises(UnreadableAnnotationError) as ei:
        load(d)
    _assert_unreadable(ei.value, ann)


@pytest.mark.parametrize("load,folder,mat_name", FACE_EVAL)
def test_face_eval_non_numeric_names_entry(tmp_path, load, folder, mat_name):
    d, ann = _face_eval(tmp_path, folder, mat_name)
    mat = scipy.io.loadmat(ann)
    mat["Annotations"][1, 0]["objects"] = np.array(["5 5 x 9 0 0"])
    scipy.io.savemat(ann, {"Annotations": mat["Annotations"]})
    with pytest.raises(DatasetFormatError) as ei:
        load(d)
    _assert_at_item(ei.value, ann, "entry 2", "could not convert")


@pytest.mark.parametrize("load,folder,mat_name", FACE_EVAL)
def test_face_eval_outside_names_entry_and_object(tmp_path, load, folder, mat_name):
    d, ann = _face_eval(tmp_path, folder, mat_name, _with_objects(1, [[5, 5, 9, 9, 0, 0], [30, 5, 40, 9, 0, 0]]))
    with pytest.raises(DatasetFormatError) as ei:
        load(d)
    _assert_at_item(ei.value, ann, "entry 2 (img_b.jpg), object 2", "outside the 30x30")


@pytest.mark.parametrize("load,folder,mat_name", FACE_EVAL)
def test_face_eval_zero_and_negative_size_counted(tmp_path, load, folder, mat_name, caplog):
    d, ann = _face_eval(tmp_path, folder, mat_name, _with_objects(1, [[5, 5, 9, 9, 0, 0], [20, 5, 10, 9, 0, 0]]))
    entries = scipy.io.loadmat(ann)["Annotations"]
    entries[2, 0]["objects"] = np.array([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]])  # img_c: one w = h = 0 box
    scipy.io.savemat(ann, {"Annotations": entries})
    with caplog.at_level(logging.WARNING):
        dicts = load(d)
    assert [len(x["annotations"]) for x in dicts] == [2, 1, 0]
    _degenerate_warning(caplog, folder, 2, 5, f"{ann} (entry 2 (img_b.jpg), object 2)")


def _write_anno2(path, names):
    anno = np.empty((len(names), 4), dtype=object)
    for i, name in enumerate(names):
        anno[i, 0] = name
        for j, value in [(1, np.array([[1.0, 2.0], [11.0, 22.0]])), (2, np.array([[45, 0, 15]], dtype=np.uint8)),
                         (3, np.zeros((6, 2)))]:
            cell = np.empty((1, 1), dtype=object)
            cell[0, 0] = value
            anno[i, j] = cell
    scipy.io.savemat(path, {"anno": anno})


def test_afw_anno2_missing_image_names_entry(tmp_path):
    d = tmp_path / "afw"
    (d / "images").mkdir(parents=True)
    Image.new("RGB", (40, 40)).save(d / "images" / "x1.jpg")
    _write_anno2(str(d / "anno2.mat"), ["x1.jpg", "x2.jpg"])
    with pytest.raises(FileNotFoundError, match="x2.jpg") as ei:
        load_afw(str(d))
    assert f"listed at {d / 'anno2.mat'} (entry 2 (x2.jpg))" in str(ei.value)


# --------------------------------------------------------------------------------- face-mask VOC
def _facemask(tmp_path, objects, w=50, h=40):
    d = make_facemask(tmp_path, {0: (w, h, objects), 1: (10, 10, [("sin_mascarilla", 1, 1, 5, 5)])})
    return d, os.path.join(d, "annotations", "maksssksksss0.xml")


def test_facemask_truncated_names_file_and_line(tmp_path):
    d, xml = _facemask(tmp_path, [("con_mascarilla", 11, 21, 20, 30)])
    lines = facemask_xml(50, 40, [("con_mascarilla", 11, 21, 20, 30)]).replace("><", ">\n<").splitlines()
    with open(xml, "w") as f:
        f.write("\n".join(lines[:-4]) + "\n")  # ends inside <bndbox>
    with pytest.raises(DatasetFormatError) as ei:
        load_facemask(d, "train")
    _assert_at_line(ei.value, xml, len(lines) - 3, "invalid XML")


def test_facemask_non_numeric_names_object(tmp_path):
    d, xml = _facemask(tmp_path, [("con_mascarilla", 11, 21, 20, 30), ("sin_mascarilla", 1, "one", 5, 5)])
    with pytest.raises(DatasetFormatError) as ei:
        load_facemask(d, "train")
    _assert_at_item(ei.value, xml, "object 2", "<bndbox/ymin> is not a number: 'one'")


def test_facemask_outside_names_object(tmp_path):
    d, xml = _facemask(tmp_path, [("con_mascarilla", 11, 21, 20, 30), ("sin_mascarilla", 52, 5, 60, 10)])
    with pytest.raises(DatasetFormatError) as ei:
        load_facemask(d, "train")
    _assert_at_item(ei.value, xml, "object 2", "outside the 50x40")


def test_facemask_zero_and_negative_size_counted(tmp_path, caplog):
    # xmax = xmin - 1: w = 0; xmax < xmin - 1: w < 0 (VOC corners are inclusive)
    d, xml = _facemask(tmp_path, [("con_mascarilla", 11, 21, 20, 30), ("sin_mascarilla", 5, 5, 4, 10),
                                  ("sin_mascarilla", 9, 5, 2, 10)])
    with caplog.at_level(logging.WARNING):
        dicts = load_facemask(d, "train")
    assert [len(x["annotations"]) for x in dicts] == [1, 1]
    _degenerate_warning(caplog, "facemask_train", 2, 4, f"{xml} (object 2)")


def test_facemask_missing_image_names_xml(tmp_path):
    d, xml = _facemask(tmp_path, [])
    os.remove(os.path.join(d, "images", "maksssksksss0.jpg"))
    with pytest.raises(FileNotFoundError, match="maksssksksss0.jpg") as ei:
        load_facemask(d, "train")
    assert f"of '{xml}'" in str(ei.value)


# ----------------------------------------------------------------------------------------- SFS
# SFS_FACES: line 2 images/a.jpg (40x30), 3 count, 4-5 faces, 8 images/sub/b.png, 9 count 0,
# 10 images/c.jpg (8x8), 11 count, 12 face (w = 0).
def _sfs(tmp_path, edits):
    d = make_sfs(tmp_path, _edit_lines(SFS_FACES, edits))
    return d, os.path.join(d, "faces.txt")


@pytest.mark.parametrize(
    "edits,line,fragment",
    [
        ({12: None}, 12, "file ends inside the 1 face lines"),
        ({5: "5.5 six 7 8 0"}, 5, "expected numbers"),
        ({12: "8 3 2 4 1"}, 12, "entirely outside the 8x8 image"),  # x >= width
    ],
    ids=["truncated", "non-numeric", "outside"],
)
def test_sfs_errors_name_file_and_line(tmp_path, edits, line, fragment):
    d, ann = _sfs(tmp_path, edits)
    with pytest.raises(DatasetFormatError) as ei:
        load_sfs(d)
    _assert_at_line(ei.value, ann, line, fragment)


def test_sfs_zero_and_negative_size_counted(tmp_path, caplog):
    d, ann = _sfs(tmp_path, {5: "5.5 6 -7 8 0"})  # plus the w = 0 face of line 12
    with caplog.at_level(logging.WARNING):
        dicts = load_sfs(d)
    assert [len(x["annotations"]) for x in dicts] == [1, 0, 0]
    _degenerate_warning(caplog, "sfs_train", 2, 3, f"{ann}:5")


@pytest.mark.parametrize("victim", ["images/c.jpg", "masks/c.png"])
def test_sfs_missing_image_or_mask_names_file_and_line(tmp_path, victim):
    d, ann = _sfs(tmp_path, {})
    os.remove(os.path.join(d, victim))
    with pytest.raises(FileNotFoundError, match=victim.replace(".", r"\.")) as ei:
        load_sfs(d)
    assert f"listed at {ann}:10" in str(ei.value)


@pytest.mark.parametrize("load,folder,mat_name", FACE_EVAL)
def test_face_eval_missing_images_counted_in_one_warning(tmp_path, caplog, load, folder, mat_name):
    """Face-eval files carry the sizes, so the images are not opened: with an image folder, the
    listed images absent from it are counted in one WARNING naming the first and its entry."""
    import logging

    d, ann = _face_eval(tmp_path, folder, mat_name)
    with caplog.at_level(logging.WARNING):
        dicts = load(d)
    msgs = [r.getMessage() for r in caplog.records if "listed images are absent" in r.getMessage()]
    assert len(msgs) == 1 and f"{len(dicts)} of {len(dicts)} listed images" in msgs[0]
    assert str(ann) in msgs[0] and "entry 1" in msgs[0]
