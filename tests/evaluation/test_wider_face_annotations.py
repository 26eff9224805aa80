"""WIDER FACE ground truth from an annotation file (all faces, attributes, official face lists)."""
import os

import numpy as np
import pytest

from facelib.evaluation.analysis_ground_truth import wider_records
from facelib.evaluation.wider_face_annotations import load_wider_annotations

TXT = """\
0--Parade/0_Parade_a_1.jpg
2
10 20 30 40 1 0 0 0 1 0
5 6 7 8 2 1 1 1 0 1
1--Handshaking/1_Hand_b_3.jpg
2
1 2 0 5 0 0 0 0 0 0
3 4 5 6 0 0 0 0 2 0
"""


def test_every_face_kept_with_attributes_and_invalid_outside_settings(tmp_path):
    split = tmp_path / "wider_face_split"
    split.mkdir()
    (split / "wider_face_val_bbx_gt.txt").write_text(TXT)
    ann = load_wider_annotations(str(tmp_path), "val")
    assert ann.gt.image_ids == ["0--Parade/0_Parade_a_1", "1--Handshaking/1_Hand_b_3"]
    # the degenerate (w = 0) face stays: face i is face i of the official lists
    assert [len(b) for b in ann.gt.boxes] == [2, 2]
    assert ann.attributes[0][1].tolist() == [2, 1, 1, 1, 0, 1]
    assert [k.tolist() for k in ann.gt.keep["hard"]] == [[0], [0, 1]]  # the invalid face is left out
    recs = wider_records(ann)
    r = recs["0--Parade/0_Parade_a_1"]
    assert r["ignore"].tolist() == [False, True]
    assert r["attributes"][0]["occlusion"] == 1 and r["attributes"][1]["pose"] == 1
    assert r["settings"]["hard"].tolist() == [True, False]
    assert r["file_name"].endswith(os.path.join("WIDER_val", "images", "0--Parade", "0_Parade_a_1.jpg"))


def _shared(root, *parts):
    p = os.path.join(root, *parts)
    if not os.path.exists(p):
        pytest.skip(f"{p} not present")
    return p


def test_val200_boxes_of_its_own_file_with_the_official_lists(shared_data):
    """widerface_val200's images are 416 x 416: its boxes come from its own file; the official
    gt_list indices still apply (same faces, same order)."""
    from facelib.data.datasets.wider_face import parse_wider_face_txt
    from facelib.evaluation import wider_face_protocol as wfp

    root = _shared(shared_data, "widerface_val200", "wider_face_split")
    gt_dir = _shared(shared_data, "widerface", "eval_tools", "ground_truth")
    ann = load_wider_annotations(os.path.dirname(root), "val", gt_dir)
    official = wfp.load_wider_gt(gt_dir)
    assert len(ann.gt.image_ids) == 200
    recs = dict(parse_wider_face_txt(os.path.join(root, "wider_face_val_bbx_gt.txt")))
    where = {k: i for i, k in enumerate(official.image_ids)}
    for i, image_id in enumerate(ann.gt.image_ids):
        assert np.allclose(ann.gt.boxes[i], recs[image_id + ".jpg"][:, :4])
        assert np.array_equal(ann.gt.keep["hard"][i], official.keep["hard"][where[image_id]])
    assert max(float((b[:, 0] + b[:, 2]).max()) for b in ann.gt.boxes if len(b)) <= 417


def test_val200_evaluator_uses_its_own_boxes(shared_data):
    """Its annotated boxes as predictions score AP 1 on easy (the full-resolution .mat boxes would not fit)."""
    from detectron2.data import DatasetCatalog

    from facelib.data.datasets import register_all_facelib_datasets
    from facelib.evaluation.wider_face import WiderFaceEvaluator
    _shared(shared_data, "widerface_val200", "WIDER_val")
    _shared(shared_data, "widerface", "eval_tools", "ground_truth")
    register_all_facelib_datasets(shared_data)
    preds = {}
    for d in DatasetCatalog.get("widerface_val200"):
        boxes = np.array([a["bbox"] for a in d["annotations"]], dtype=np.float64).reshape(-1, 4)
        preds[d["image_id"]] = (boxes, np.linspace(1.0, 0.5, len(boxes)))
    ev = WiderFaceEvaluator("widerface_val200", iou_mode="float", distributed=False)
    res = ev.evaluate_predictions(preds)["wider_face"]
    assert res["easy"] > 99.0 and res["hard"] > 90.0
