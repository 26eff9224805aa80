"""SFS-format loader (docs/data_format.md, "SFS format")."""
import logging
import os

import numpy as np
import pytest
from PIL import Image

import facelib  # noqa: F401
from facelib.data.datasets.common import DatasetFormatError
from facelib.data.datasets.sfs import load_sfs, parse_sfs_faces_txt

FACES = """\
# SFS fixture
images/a.jpg masks/a.png
2
1 2 10 20 1
5.5 6 7 8 0

# an image without faces
images/sub/b.png masks/sub/b.png
0
images/c.jpg masks/c.png
1
3 3 0 4 1
"""


def _make(tmp_path, text=FACES):
    d = tmp_path / "sfs" / "train"
    for rel, size in [("a.jpg", (40, 30)), ("sub/b.png", (16, 12)), ("c.jpg", (8, 8))]:
        for sub in ("images", "masks"):
            p = d / sub / (rel if sub == "images" else os.path.splitext(rel)[0] + ".png")
            p.parent.mkdir(parents=True, exist_ok=True)
            mode = "RGB" if sub == "images" else "L"
            Image.fromarray(np.zeros(size[::-1] + ((3,) if mode == "RGB" else ()), np.uint8), mode).save(p)
    (d / "faces.txt").write_text(text)
    return str(d)


def test_load_sfs(tmp_path, caplog):
    d = _make(tmp_path)
    with caplog.at_level(logging.WARNING):
        dicts = load_sfs(d)
    assert [x["image_id"] for x in dicts] == ["a", "sub/b", "c"]
    a = dicts[0]
    assert a["file_name"] == os.path.join(d, "images/a.jpg")
    assert a["occlusion_mask_file"] == os.path.join(d, "masks/a.png")
    assert (a["height"], a["width"]) == (30, 40)
    f0, f1 = a["annotations"]
    assert f0["bbox"] == [1.0, 2.0, 10.0, 20.0] and f0["occluded"] is True and f0["attributes"] == {"occluded": 1}
    assert f1["bbox"] == [5.5, 6.0, 7.0, 8.0] and f1["occluded"] is False and f1["ignore"] == 0
    assert dicts[1]["annotations"] == [] and (dicts[1]["height"], dicts[1]["width"]) == (12, 16)
    assert dicts[2]["annotations"] == []
    assert any("sfs_train" in r.getMessage() and "dropped 1 of 3" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("# c\nimages/a.jpg\n", 2, "'<image path> <mask path>'"),
        ("images/a.jpg masks/a.png\n1\n1 2 3 4\n", 3, "x y w h occluded"),
        ("images/a.jpg masks/a.png\n1\n1 2 3 4 2\n", 3, "0 or 1"),
        ("images/a.jpg masks/a.png\n# comment\nn\n", 3, "number of faces"),
        ("images/a.jpg masks/a.png\n2\n1 2 3 4 0\n", 4, "file ends"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, text, line, fragment):
    p = tmp_path / "faces.txt"
    p.write_text(text)
    with pytest.raises(DatasetFormatError) as ei:
        parse_sfs_faces_txt(str(p))
    assert ei.value.line == line and f"{p}:{line}:" in str(ei.value) and fragment in str(ei.value)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"masks/<name>\.png"):
        load_sfs(str(tmp_path / "sfs" / "val"), dataset_name="sfs_val")
    d = _make(tmp_path)
    os.remove(os.path.join(d, "masks", "c.png"))
    with pytest.raises(FileNotFoundError, match=r"masks/c\.png"):
        load_sfs(d)
    assert len(load_sfs(d, check_masks=False)) == 3
    os.remove(os.path.join(d, "images", "a.jpg"))
    with pytest.raises(FileNotFoundError, match=r"images/a\.jpg"):
        load_sfs(d, check_masks=False)
