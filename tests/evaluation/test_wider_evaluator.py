"""WiderFaceEvaluator through detectron2's inference_on_dataset with a fake model."""
import json
import logging
import os

import numpy as np
import pytest
import torch
from scipy.io import savemat

import facelib  # noqa: F401  (detectron2._C stand-in before detectron2.evaluation)
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import inference_on_dataset
from detectron2.structures import Boxes, BoxMode, Instances

from facelib.config import add_facelib_config
from facelib.evaluation import wider_face_protocol as W
from facelib.evaluation.wider_face import WiderFaceEvaluator, wider_gt_from_dataset_dicts



def ann(box, ignore=0, mode=BoxMode.XYWH_ABS):
    return {"bbox": list(map(float, box)), "bbox_mode": mode, "category_id": 0, "iscrowd": 0, "ignore": ignore}


# a: A0 counted, A1 ignored; b: one counted face, the model finds nothing; c: box given in XYXY
DICTS = [
    {"file_name": "a.jpg", "image_id": "0--Ev/a", "height": 300, "width": 300,
     "annotations": [ann([10, 10, 20, 20]), ann([50, 50, 20, 20], ignore=1)]},
    {"file_name": "b.jpg", "image_id": "0--Ev/b", "height": 300, "width": 300,
     "annotations": [ann([0, 0, 30, 30])]},
    {"file_name": "c.jpg", "image_id": "1--Other/c", "height": 300, "width": 300,
     "annotations": [ann([5, 5, 25, 25], mode=BoxMode.XYXY_ABS)]},
]
# XYXY predictions per image: (boxes, scores)
PREDS = {
    "0--Ev/a": ([[10, 10, 30, 30], [50, 50, 70, 70], [200, 200, 220, 220]], [0.9, 0.8, 0.1]),
    "0--Ev/b": ([], []),
    "1--Other/c": ([[5, 5, 25, 25]], [0.5]),
}
# Normalised scores: a 1, 0.875 (ignored face), 0 (background); c 0.5. Faces: A0, B, C (3).
# Recall 1/3 then 2/3 at precision 1; the background box enters last (precision 2/3 at recall 2/3);
# B is never found: AP = 2/3, the same in every setting (derived ground truth).
EXPECTED_AP = 2 / 3


class FakeModel(torch.nn.Module):
    def forward(self, batched_inputs):
        outs = []
        for inp in batched_inputs:
            boxes, scores = PREDS[inp["image_id"]]
            inst = Instances((inp["height"], inp["width"]))
            inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
            inst.scores = torch.tensor(scores, dtype=torch.float32)
            inst.pred_classes = torch.zeros(len(scores), dtype=torch.int64)
            outs.append({"instances": inst})
        return outs


def loader():
    return [[{"image_id": d["image_id"], "height": d["height"], "width": d["width"]}] for d in DICTS]


@pytest.fixture
def dataset():
    names = []

    def register(name, dicts=DICTS, **meta):
        name = f"facelib_test_wider_{name}"
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
        DatasetCatalog.register(name, lambda: [dict(d) for d in dicts])
        MetadataCatalog.get(name).set(thing_classes=["face"], evaluator_type="wider_face", **meta)
        names.append(name)
        return name

    yield register
    for n in names:
        DatasetCatalog.remove(n)
        MetadataCatalog.remove(n)


def test_derived_ground_truth():
    gt = wider_gt_from_dataset_dicts(DICTS)
    assert gt.image_ids == ["0--Ev/a", "0--Ev/b", "1--Other/c"]
    assert gt.boxes[2].tolist() == [[5, 5, 20, 20]]  # XYXY converted
    for s in W.SETTINGS:  # ignored faces are listed but outside every setting
        assert [k.tolist() for k in gt.keep[s]] == [[0], [0], [0]]


@pytest.mark.parametrize("iou_mode", W.IOU_MODES)
def test_inference_on_dataset_derived_gt(dataset, tmp_path, iou_mode, caplog):
    name = dataset("derived")
    out = tmp_path / "inference"
    ev = WiderFaceEvaluator(name, output_dir=str(out), iou_mode=iou_mode)
    with caplog.at_level(logging.INFO, logger="facelib.evaluation.wider_face"):
        res = inference_on_dataset(FakeModel(), loader(), ev)
    assert list(res) == ["wider_face"]
    assert list(res["wider_face"]) == ["easy", "medium", "hard"]
    for s in W.SETTINGS:
        assert res["wider_face"][s] == pytest.approx(100 * EXPECTED_AP, abs=1e-9)  # percent
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "WIDER FACE AP (%)" in logged and "66.667" in logged and "medium" in logged
    # official submission layout, exact numbers
    with open(out / "submission" / "0--Ev" / "a.txt") as f:
        lines = f.read().splitlines()
    assert lines[0] == "a.jpg" and lines[1] == "3"
    x, y, w, h, s = map(float, lines[2].split())
    assert (x, y, w, h) == (10, 10, 20, 20) and s == float(np.float32(0.9))
    assert open(out / "submission" / "0--Ev" / "b.txt").read().splitlines() == ["b.jpg", "0"]
    for s in W.SETTINGS:
        with open(out / f"wider_pr_curve_{s}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.load(open(out / "wider_face_results.json"))
    assert saved["ap_percent"]["hard"] == pytest.approx(100 * EXPECTED_AP)
    curves = np.load(out / "wider_pr_curves.npz")
    assert curves["precision_easy"].shape == (1000,)


def test_evaluate_twice_and_reset(dataset):
    name = dataset("reset")
    ev = WiderFaceEvaluator(name, distributed=False)
    model = FakeModel()
    r1 = inference_on_dataset(model, loader(), ev)
    r2 = inference_on_dataset(model, loader(), ev)  # inference_on_dataset resets the evaluator
    assert r1 == r2


def test_missing_prediction_counts_as_empty(dataset, caplog):
    name = dataset("missing")
    ev = WiderFaceEvaluator(name, distributed=False)
    ev.reset()
    model = FakeModel()
    for batch in loader()[:2]:  # image c never processed
        ev.process(batch, model(batch))
    with caplog.at_level(logging.WARNING, logger="facelib.evaluation.wider_face"):
        res = ev.evaluate()
    assert any("have no predictions" in r.getMessage() for r in caplog.records)
    # a: TP at 1, ignored, background at 0: recall 1/3 at precision 1 -> AP 1/3
    assert res["wider_face"]["easy"] == pytest.approx(100 / 3)


def _cells(items):
    a = np.empty((len(items), 1), dtype=object)
    for i, x in enumerate(items):
        a[i, 0] = x
    return a


def write_gt_mat(gt_dir, events):
    os.makedirs(gt_dir, exist_ok=True)
    ev = list(events)
    savemat(os.path.join(gt_dir, "wider_face_val.mat"), {
        "event_list": _cells(ev),
        "file_list": _cells([_cells([n for n, _, _ in events[e]]) for e in ev]),
        "face_bbx_list": _cells([_cells([np.asarray(b, np.int32).reshape(-1, 4) for _, b, _ in events[e]])
                                 for e in ev]),
    })
    for s in W.SETTINGS:
        savemat(os.path.join(gt_dir, f"wider_{s}_val.mat"), {"gt_list": _cells(
            [_cells([np.asarray(k[s], np.uint8).reshape(-1, 1) for _, _, k in events[e]]) for e in ev])})


def test_official_gt_mat_dir_restricted_to_dataset(dataset, tmp_path, caplog):
    gt_dir = str(tmp_path / "gt")
    # official GT: a has A0 (easy), A1 (medium and hard); b counted everywhere; "0--Ev/zz" is not in
    # the dataset (left out, with its face); the dataset's image c is not in the GT (logged)
    write_gt_mat(gt_dir, {"0--Ev": [
        ("a", [[10, 10, 20, 20], [50, 50, 20, 20]], {"easy": [1], "medium": [1, 2], "hard": [1, 2]}),
        ("b", [[0, 0, 30, 30]], {s: [1] for s in W.SETTINGS}),
        ("zz", [[0, 0, 30, 30]], {s: [1] for s in W.SETTINGS}),
    ]})
    name = dataset("mat", gt_mat_dir=gt_dir)
    out = tmp_path / "out"
    ev = WiderFaceEvaluator(name, output_dir=str(out))
    with caplog.at_level(logging.WARNING, logger="facelib.evaluation.wider_face"):
        res = inference_on_dataset(FakeModel(), loader(), ev)["wider_face"]
    assert any("not in the ground truth" in r.getMessage() for r in caplog.records)
    # normalisation over a's scores only (c is out): 0.9 -> 1, 0.8 -> 0.875, 0.1 -> 0
    # easy: faces A0, B: TP at 1, A1 ignored, background at 0 -> recall 1/2 at precision 1 -> 50
    # medium/hard: A0, A1, B: TPs at 1 and 0.875 -> recall 2/3 at precision 1 -> 66.67
    assert res["easy"] == pytest.approx(50.0)
    assert res["medium"] == pytest.approx(200 / 3) and res["hard"] == pytest.approx(200 / 3)
    # the written submission evaluated by the command-line tool against the same GT restricted to
    # the dataset's images gives the same numbers
    gt = W.load_wider_gt(gt_dir).subset(["0--Ev/a", "0--Ev/b"])
    read = W.read_submission(str(out / "submission"), gt.image_ids)
    assert not read.missing and sorted(os.listdir(out / "submission")) == ["0--Ev"]  # evaluated images only
    again = W.evaluate_wider(gt, read.predictions)
    for s in W.SETTINGS:
        assert 100 * again[s].ap == pytest.approx(res[s], abs=1e-12)


def test_from_config(dataset, tmp_path):
    cfg = get_cfg()
    add_facelib_config(cfg)
    cfg.TEST.WIDER.IOU_MODE = "float"
    cfg.TEST.WIDER.NUM_THRESHOLDS = 100
    cfg.TEST.WIDER.WRITE_SUBMISSION = False
    name = dataset("cfg")
    ev = WiderFaceEvaluator.from_config(cfg, name, output_dir=str(tmp_path))
    assert ev._iou_mode == "float" and ev._num_thresholds == 100
    res = inference_on_dataset(FakeModel(), loader(), ev)
    assert res["wider_face"]["easy"] == pytest.approx(100 * EXPECTED_AP)
    assert not (tmp_path / "submission").exists()
    assert (tmp_path / "wider_pr_curve_easy.png").exists()
    with pytest.raises(ValueError, match="iou_mode"):
        WiderFaceEvaluator(name, iou_mode="nope")
