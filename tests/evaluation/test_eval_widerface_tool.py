"""tools/eval_widerface.py on small official-format ground truth (.mat files written here)."""
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import savemat

from facelib.evaluation import wider_face_protocol as W

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "tools", "eval_widerface.py")
sys.path.insert(0, os.path.join(REPO, "tools"))
import eval_widerface  # noqa: E402

LINE = re.compile(r"^easy: \d\.\d{4} medium: \d\.\d{4} hard: \d\.\d{4}$")


def _cells(items):
    a = np.empty((len(items), 1), dtype=object)
    for i, x in enumerate(items):
        a[i, 0] = x
    return a


def write_gt_mat(gt_dir, events):
    """events: {event: [(name, boxes (N, 4), {setting: 1-based kept indices})]} -> the four official
    .mat files (cell layout of wider_face_val.mat / wider_<setting>_val.mat)."""
    os.makedirs(gt_dir, exist_ok=True)
    ev_names = list(events)
    files = [_cells([n for n, _, _ in events[e]]) for e in ev_names]
    boxes = [_cells([np.asarray(b, dtype=np.int32).reshape(-1, 4) for _, b, _ in events[e]]) for e in ev_names]
    savemat(os.path.join(gt_dir, "wider_face_val.mat"),
            {"event_list": _cells(ev_names), "file_list": _cells(files), "face_bbx_list": _cells(boxes)})
    for s in W.SETTINGS:
        gl = [_cells([np.asarray(k[s], dtype=np.uint16).reshape(-1, 1) for _, _, k in events[e]]) for e in ev_names]
        savemat(os.path.join(gt_dir, f"wider_{s}_val.mat"), {"gt_list": _cells(gl)})


F0, F1, F2 = [0, 0, 10, 10], [100, 100, 10, 10], [200, 200, 10, 10]
ALL = {"easy": [1], "medium": [1, 2], "hard": [1, 2, 3]}


@pytest.fixture
def small(tmp_path):
    """Two events, three images. Easy counts F0 of a; medium F0+F1; hard all three faces of a, plus
    the face of b in every setting; c has one face counted nowhere (an ignore face)."""
    gt_dir = str(tmp_path / "gt")
    write_gt_mat(gt_dir, {
        "0--Ev": [("a", [F0, F1, F2], ALL), ("b", [F0], {s: [1] for s in W.SETTINGS})],
        "1--Other": [("c", [F1], {s: [] for s in W.SETTINGS})],
    })
    preds = {
        "0--Ev/a": np.array([F0 + [1.0], F1 + [0.5], [300, 300, 10, 10, 0.25]]),
        "0--Ev/b": np.array([F0 + [0.0]]),
        "1--Other/c": np.array([F1 + [0.75]]),  # on an ignore face: neither TP nor FP
    }
    pred_dir = str(tmp_path / "pred")
    W.write_submission(pred_dir, preds)
    return gt_dir, pred_dir, preds


def expected(preds, gt_dir):
    return {s: r.ap for s, r in W.evaluate_wider(W.load_wider_gt(gt_dir), preds).items()}


def test_gt_mat_round_trip(small):
    gt_dir, _, _ = small
    gt = W.load_wider_gt(gt_dir)
    assert gt.image_ids == ["0--Ev/a", "0--Ev/b", "1--Other/c"]
    assert gt.boxes[0].dtype == np.int32 and gt.boxes[0].tolist() == [F0, F1, F2]
    assert [k.tolist() for k in gt.keep["medium"]] == [[0, 1], [0], []]
    assert {s: gt.num_faces(s) for s in W.SETTINGS} == {"easy": 2, "medium": 3, "hard": 4}


def test_line_format_and_values(small, capsys):
    gt_dir, pred_dir, preds = small
    assert eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir]) == 0
    out = capsys.readouterr().out.strip()
    assert LINE.match(out), out
    # by hand. Normalised scores: a: 1, 0.5, 0.25; b: 0; c: 0.75 (ignored).
    # easy (F0 of a, F0 of b): TP at 1; F1 of a is an ignore face; bg FP at 0.25; b's TP at 0:
    #   recall 1/2 at precision 1, then 1 at 2/3 -> AP 0.5 + 0.5 * 2/3 = 0.8333
    # medium (F0, F1 of a, b): TPs at 1 and 0.5, FP, TP at 0 -> 2/3 * 1 + 1/3 * 3/4 = 0.9167
    # hard (F0, F1, F2 of a, b): F2 never found: 2/4 * 1 + 1/4 * 3/4 = 0.6875
    assert out == "easy: 0.8333 medium: 0.9167 hard: 0.6875"
    ap = expected(preds, gt_dir)
    assert ap["easy"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert ap["medium"] == pytest.approx(2 / 3 + 1 / 3 * 3 / 4)
    assert ap["hard"] == pytest.approx(0.5 + 0.25 * 3 / 4)


def test_json_output(small, capsys):
    gt_dir, pred_dir, preds = small
    assert eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    res = json.loads(lines[0])
    ap = expected(preds, gt_dir)
    for s in W.SETTINGS:
        assert res[s] == ap[s]
    assert res["iou_mode"] == "official" and res["missing"] == 0 and res["num_images"] == 3
    assert res["num_faces"] == {"easy": 2, "medium": 3, "hard": 4}


def test_missing_files_one_warning(small, capsys, caplog):
    gt_dir, pred_dir, preds = small
    os.remove(W.prediction_path(pred_dir, "0--Ev/b"))
    with caplog.at_level(logging.WARNING):
        assert eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir]) == 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "1 of 3 prediction files missing" in msg and "0--Ev/b.txt" in msg
    # the face of b still counts: same as evaluating without b's predictions
    ap = expected({k: v for k, v in preds.items() if k != "0--Ev/b"}, gt_dir)
    assert capsys.readouterr().out.strip() == W.format_results_line(ap)


def test_many_missing_files_name_the_first_few(tmp_path, caplog, capsys):
    gt_dir = str(tmp_path / "gt")
    names = [(f"img_{i}", [F0], {s: [1] for s in W.SETTINGS}) for i in range(9)]
    write_gt_mat(gt_dir, {"0--Ev": names})
    pred_dir = str(tmp_path / "pred")
    W.write_submission(pred_dir, {"0--Ev/img_0": np.array([F0 + [1.0], F2 + [0.0]])})
    with caplog.at_level(logging.WARNING):
        assert eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("8 of 9 prediction files missing")
    assert "0--Ev/img_1.txt" in warnings[0] and warnings[0].endswith("and 3 more")
    assert capsys.readouterr().out.strip() == "easy: 0.1111 medium: 0.1111 hard: 0.1111"


def test_invalid_file_counts_as_empty(small, caplog, capsys):
    gt_dir, pred_dir, preds = small
    with open(W.prediction_path(pred_dir, "0--Ev/b"), "w") as f:
        f.write("b.jpg\n3\n1 2 3 4 0.5\n")  # 3 boxes announced, 1 given: read_pred.m rejects it
    with caplog.at_level(logging.WARNING):
        eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir])
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "invalid format" in warnings[0]
    ap = expected({k: v for k, v in preds.items() if k != "0--Ev/b"}, gt_dir)
    assert capsys.readouterr().out.strip() == W.format_results_line(ap)


def test_iou_mode_flag(tmp_path, capsys):
    # the first-face rule: the prediction is exactly face 2, which overlaps face 1 (IoU 0.69, rounded 1)
    gt_dir = str(tmp_path / "gt")
    f0, f1 = [0, 0, 10, 10], [2, 0, 10, 10]
    write_gt_mat(gt_dir, {"0--Ev": [("a", [f0, f1], {s: [2] for s in W.SETTINGS}),
                                    ("z", [F2], {s: [] for s in W.SETTINGS})]})
    pred_dir = str(tmp_path / "pred")
    W.write_submission(pred_dir, {"0--Ev/a": np.array([f1 + [1.0]]), "0--Ev/z": np.array([F0 + [0.0]])})
    eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir, "--iou-mode", "official"])
    eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir, "--iou-mode", "float"])
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["easy: 0.0000 medium: 0.0000 hard: 0.0000", "easy: 1.0000 medium: 1.0000 hard: 1.0000"]


def test_bad_arguments(tmp_path, capsys):
    assert eval_widerface.main(["--pred", str(tmp_path / "nope"), "--gt", str(tmp_path)]) == 2
    os.makedirs(tmp_path / "p")
    assert eval_widerface.main(["--pred", str(tmp_path / "p"), "--gt", str(tmp_path)]) == 2
    assert "wider_face_val.mat" in capsys.readouterr().err


def test_command_line(small, tmp_path):
    gt_dir, pred_dir, _ = small
    os.remove(W.prediction_path(pred_dir, "1--Other/c"))
    plots = tmp_path / "plots"
    proc = subprocess.run([sys.executable, TOOL, "--pred", pred_dir, "--gt", gt_dir, "--plot-dir", str(plots)],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["easy: 0.8333 medium: 0.9167 hard: 0.6875"]
    warn = [ln for ln in proc.stderr.splitlines() if ln.startswith("WARNING")]
    assert warn == ["WARNING: 1 of 3 prediction files missing (counted as no detections): 1--Other/c.txt"]
    for s in W.SETTINGS:
        with open(plots / f"wider_pr_curve_{s}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("line", ["0 0 10 10 nan", "0 0 10 10 inf", "nan 0 10 10 0.5", "0 0 -inf 10 0.5",
                                  "0 0 10 10 0.5 nan"])
def test_non_finite_line_makes_the_file_invalid(small, caplog, capsys, line):
    """A nan / inf score or coordinate: the file is invalid (counted as no detections, in the one
    warning), like a non-numeric line; columns after the fifth are ignored as read_pred.m does."""
    gt_dir, pred_dir, preds = small
    with open(W.prediction_path(pred_dir, "0--Ev/b"), "w") as f:
        f.write(f"b.jpg\n1\n{line}\n")
    if line.endswith("0.5 nan"):
        assert W.read_prediction_file(W.prediction_path(pred_dir, "0--Ev/b")).tolist() == [[0, 0, 10, 10, 0.5]]
        return
    with pytest.raises(W.WiderFormatError, match="line 3 has a non-finite value"):
        W.read_prediction_file(W.prediction_path(pred_dir, "0--Ev/b"))
    with caplog.at_level(logging.WARNING):
        assert eval_widerface.main(["--pred", pred_dir, "--gt", gt_dir]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "invalid format" in warnings[0] and "0--Ev/b" in warnings[0]
    ap = expected({k: v for k, v in preds.items() if k != "0--Ev/b"}, gt_dir)
    assert capsys.readouterr().out.strip() == W.format_results_line(ap)
