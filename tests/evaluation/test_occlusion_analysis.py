"""The occlusion analysis on hand-made annotations and predictions (values computed by hand)."""
import math

import numpy as np
import pytest

from facelib.evaluation.analysis_ground_truth import AnalysisGroundTruth
from facelib.evaluation.breakdown_subsets import dataset_family, family_subsets
from facelib.evaluation.occlusion_analysis import analyze
from facelib.evaluation.prediction_files import read_predictions, write_face_predictions
from facelib.evaluation import wider_face_protocol as wfp


def _rec(boxes, labels):
    boxes = np.asarray(boxes, dtype=np.float64)
    return {"boxes": boxes, "ignore": np.zeros(len(boxes), bool), "masked": np.zeros(len(boxes), bool),
            "attributes": [{"label": lb} for lb in labels], "file_name": None,
            "settings": {"all": np.ones(len(boxes), bool)}}


def _gt():
    # image a: a masked face and an unmasked one; image b: a masked face
    records = {"a": _rec([[0, 0, 10, 10], [20, 0, 10, 10]], ["con_mascarilla", "sin_mascarilla"]),
               "b": _rec([[0, 0, 20, 20]], ["con_mascarilla"])}
    return AnalysisGroundTruth("hand", records, "all", dataset_family(records))


def _preds():
    # a: a hit on the masked face (0.9), a background box (0.8); b: a hit (0.7); the unmasked face is missed
    return {"a": (np.array([[0, 0, 10, 10], [50, 50, 10, 10]], float), np.array([0.9, 0.8])),
            "b": (np.array([[0, 0, 20, 20]], float), np.array([0.7]))}


def test_family_and_groups():
    gt = _gt()
    assert gt.family == "facemask"
    assert list(family_subsets("facemask")) == ["mask", "height"]
    assert list(family_subsets("wider"))[:5] == ["blur", "expression", "illumination", "occlusion", "pose"]
    with pytest.raises(ValueError, match="unknown dataset family"):
        family_subsets("nope")


def test_hand_computed_breakdown_errors_and_gallery():
    res = analyze(_gt(), _preds(), label="m")
    # all faces: TP (0.9), FP (0.8), TP (0.7) of 3 faces: precision envelope 1 up to recall 1/3, then 2/3
    assert res.settings["all"]["faces"] == 3
    assert math.isclose(res.settings["all"]["ap"], 1 / 3 + (1 / 3) * (2 / 3))
    rows = res.breakdown["groups"]["mask"]
    # masked subset: the unmasked face ignored: 2 faces, recall 1/2 at precision 1, then 1 at 2/3
    assert rows["with"]["faces"] == 2 and math.isclose(rows["with"]["ap"], 0.5 + 0.5 * (2 / 3))
    # unmasked subset: the hits land on ignored faces (neither TP nor FP), the background box is a FP
    assert rows["without"]["faces"] == 1 and rows["without"]["ap"] == 0.0
    assert rows["incorrect"]["faces"] == 0 and math.isnan(rows["incorrect"]["ap"])
    # operating point: precision >= 0.9 holds only for the first detection -> threshold 0.9
    assert res.breakdown["threshold"] == 0.9
    assert math.isclose(rows["with"]["recall"], 0.5) and rows["without"]["recall"] == 0.0
    assert math.isclose(res.breakdown["all"]["recall"], 1 / 3)
    assert res.breakdown["groups"]["height"]["<16"]["faces"] == 2
    e = res.errors
    assert e["counts"] == {"localisation": 0, "duplicate": 0, "background": 1, "missed": 1}
    assert e["missed_by"]["mask"] == {"with": 0, "without": 1, "incorrect": 0}
    # fixing the background FP: TP, TP of 3 faces -> 2/3; fixing the miss: 2 faces, AP 0.5 + 0.5 * 2/3
    assert math.isclose(e["ap_gain"]["background"], 2 / 3 - res.settings["all"]["ap"])
    assert math.isclose(e["ap_gain"]["missed"], 0.5 + 0.5 * (2 / 3) - res.settings["all"]["ap"])
    assert [m["face"] for m in res.gallery["misses"]] == [1]
    assert [(f["image_id"], f["type"], f["score"]) for f in res.gallery["false_positives"]] == [("a", "background", 0.8)]
    js = res.to_json()
    assert js["breakdown"]["groups"]["mask"]["incorrect"]["ap"] is None  # NaN -> null


def test_predictions_json_and_submission_round_trip(tmp_path):
    preds = _preds()
    path = write_face_predictions(str(tmp_path / "face_predictions.json"), preds, "hand")
    for src_path in (path, str(tmp_path)):
        src = read_predictions(src_path, ["a", "b", "c"])
        assert src.kind == "json" and src.missing == ["c"]
        assert np.array_equal(src.predictions["a"][0], preds["a"][0])
        assert np.array_equal(src.predictions["b"][1], preds["b"][1])
    sub = tmp_path / "run" / "submission"
    wfp.write_submission(str(sub), {"ev/a": preds["a"], "ev/b": preds["b"]})
    src = read_predictions(str(tmp_path / "run"), ["ev/a", "ev/b"])
    assert src.kind == "wider_submission" and np.array_equal(src.predictions["ev/a"][1], preds["a"][1])
    with pytest.raises(ValueError, match="no prediction"):
        read_predictions(str(tmp_path / "run"), ["other/x"])
    with pytest.raises(FileNotFoundError):
        read_predictions(str(tmp_path / "absent"), ["a"])
