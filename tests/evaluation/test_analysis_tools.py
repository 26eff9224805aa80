"""``TEST.ANALYSIS.ENABLED``'s evaluator and ``tools/analyze.py`` on a hand-made registered dataset:
the evaluator writes face_predictions.json + analysis.json + report, and analyze.py compares it
with a second prediction set (values computed by hand)."""
import json
import math
import os

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, BoxMode, Instances
from PIL import Image

from facelib.config import add_facelib_config
from facelib.evaluation.build import build_face_evaluator
from facelib.evaluation.occlusion_analysis_evaluator import OcclusionAnalysisEvaluator
from tool_loader import load_tool

NAME = "_analysis_hand_facemask"


@pytest.fixture
def hand_dataset(tmp_path):
    img = tmp_path / "a.jpg"
    Image.fromarray(np.full((60, 80, 3), 90, np.uint8)).save(img)

    def ann(box, label):
        return {"bbox": box, "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "attributes": {"label": label}}

    dicts = [{"file_name": str(img), "image_id": "a", "height": 60, "width": 80,
              "annotations": [ann([0, 0, 10, 10], "con_mascarilla"), ann([20, 0, 10, 10], "sin_mascarilla")]},
             {"file_name": str(tmp_path / "b.jpg"), "image_id": "b", "height": 60, "width": 80,
              "annotations": [ann([0, 0, 20, 20], "con_mascarilla")]}]
    if NAME in DatasetCatalog.list():
        DatasetCatalog.remove(NAME)
        MetadataCatalog.remove(NAME)
    DatasetCatalog.register(NAME, lambda: dicts)
    MetadataCatalog.get(NAME).set(evaluator_type="facemask", thing_classes=["face"])
    yield tmp_path
    DatasetCatalog.remove(NAME)
    MetadataCatalog.remove(NAME)


def _output(boxes_xyxy, scores):
    inst = Instances((60, 80))
    inst.pred_boxes = Boxes(torch.tensor(boxes_xyxy, dtype=torch.float32).reshape(-1, 4))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.zeros(len(scores), dtype=torch.int64)
    return {"instances": inst}


def test_eval_key_builds_the_analysis_evaluator(hand_dataset):
    cfg = add_facelib_config(get_cfg())
    assert cfg.TEST.ANALYSIS.ENABLED is False
    assert not any(isinstance(e, OcclusionAnalysisEvaluator)
                   for e in getattr(build_face_evaluator(cfg, NAME, str(hand_dataset)), "_evaluators", []))
    cfg.TEST.ANALYSIS.ENABLED = True
    built = build_face_evaluator(cfg, NAME, str(hand_dataset))
    assert [type(e).__name__ for e in built._evaluators] == ["FaceMaskEvaluator", "OcclusionAnalysisEvaluator"]
    with pytest.raises(ValueError, match="output_dir"):
        build_face_evaluator(cfg, NAME, None)


def test_evaluator_files_and_analyze_tool_comparison(hand_dataset, capsys):
    out_dir = hand_dataset / "run" / "inference" / NAME  # FaceTrainer.build_evaluator's output folder
    ev = OcclusionAnalysisEvaluator(NAME, str(out_dir), label="m1", distributed=False)
    ev.reset()
    # a: hit on the masked face (0.9) and a background box (0.8); b: hit (0.7); a's unmasked face missed
    ev.process([{"image_id": "a"}, {"image_id": "b"}],
               [_output([[0, 0, 10, 10], [50, 40, 60, 50]], [0.9, 0.8]), _output([[0, 0, 20, 20]], [0.7])])
    res = ev.evaluate()["analysis"]
    ap1 = 100 * (1 / 3 + (1 / 3) * (2 / 3))
    assert math.isclose(res["all/AP"], ap1, rel_tol=1e-6)
    assert math.isclose(res["mask=with/AP"], 100 * (0.5 + 0.5 * 2 / 3), rel_tol=1e-6)
    assert res["mask=without/AP"] == 0.0 and math.isnan(res["mask=incorrect/AP"])
    folder = out_dir / "analysis"
    for f in ("face_predictions.json", "analysis.json", "index.html"):
        assert (folder / f).is_file(), f
    saved = json.load(open(folder / "analysis.json"))
    assert saved["errors"]["counts"] == {"localisation": 0, "duplicate": 0, "background": 1, "missed": 1}

    # a second model that finds every face, as a predictions JSON; compared by the CLI
    from facelib.evaluation.prediction_files import write_face_predictions

    other = write_face_predictions(str(hand_dataset / "m2" / "face_predictions.json"), {
        "a": (np.array([[0, 0, 10, 10], [20, 0, 10, 10]], float), np.array([0.9, 0.6])),
        "b": (np.array([[0, 0, 20, 20]], float), np.array([0.7]))}, NAME)
    tool = load_tool("analyze")
    report = hand_dataset / "report"
    # the evaluation run's OUTPUT_DIR is enough: its inference/<dataset>/analysis/ is read
    assert tool.main(["--dataset", NAME, "--pred", f"base={hand_dataset / 'run'}", "--pred", os.path.dirname(other),
                      "--output", str(report)]) == 0
    printed = capsys.readouterr().out
    assert f"base: all: {ap1:.1f}" in printed and "m2: all: 100.0" in printed
    data = json.load(open(report / "report.json"))
    assert [r["label"] for r in data["results"]] == ["base", "m2"]
    assert math.isclose(data["differences"][0]["groups"]["mask"]["without"]["ap"], 1.0)
    assert data["gallery_skipped_absent"] == [0, 0]  # base's picks lie in image a, which exists
    assert (report / "index.html").is_file()
    # bad input: clear errors, exit code 2
    assert tool.main(["--dataset", "nope_dataset", "--pred", str(folder), "--output", str(report)]) == 2
    assert "not registered" in capsys.readouterr().err
    assert tool.main(["--dataset", NAME, "--pred", str(folder), "--pred", str(folder), "--output", str(report)]) == 2
    assert "distinct" in capsys.readouterr().err
    assert tool.main(["--dataset", NAME, "--pred", str(hand_dataset / "absent"), "--output", str(report)]) == 2
