"""The occlusion report (HTML + JSON + gallery) on hand-made annotations, and its rendering in
headless Chromium (skipped with a reason when no browser is installed)."""
import json
import math
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from facelib.evaluation.analysis_ground_truth import AnalysisGroundTruth
from facelib.evaluation.analysis_report import differences, write_report
from facelib.evaluation.breakdown_subsets import dataset_family
from facelib.evaluation.occlusion_analysis import analyze


def _rec(boxes, labels, file_name):
    boxes = np.asarray(boxes, dtype=np.float64)
    return {"boxes": boxes, "ignore": np.zeros(len(boxes), bool), "masked": np.zeros(len(boxes), bool),
            "attributes": [{"label": lb} for lb in labels], "file_name": file_name,
            "settings": {"all": np.ones(len(boxes), bool)}}


@pytest.fixture
def hand_case(tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray(np.full((80, 100, 3), 120, np.uint8)).save(img)
    # image a (present): a masked face and an unmasked one; image b (file absent): a masked face
    records = {"a": _rec([[0, 0, 10, 10], [20, 0, 10, 10]], ["con_mascarilla", "sin_mascarilla"], str(img)),
               "b": _rec([[0, 0, 20, 20]], ["con_mascarilla"], str(tmp_path / "absent.png"))}
    gt = AnalysisGroundTruth("hand", records, "all", dataset_family(records))
    # model m1: hit on a's masked face (0.9), background box (0.8), hit on b (0.7); misses a's unmasked face
    m1 = {"a": (np.array([[0, 0, 10, 10], [50, 50, 10, 10]], float), np.array([0.9, 0.8])),
          "b": (np.array([[0, 0, 20, 20]], float), np.array([0.7]))}
    # model m2: finds every face, no false positive
    m2 = {"a": (np.array([[0, 0, 10, 10], [20, 0, 10, 10]], float), np.array([0.9, 0.6])),
          "b": (np.array([[0, 0, 20, 20]], float), np.array([0.7]))}
    return gt, [analyze(gt, m1, label="m1"), analyze(gt, m2, label="m2")], tmp_path / "report"


def test_differences_hand_computed(hand_case):
    _, (r1, r2), _ = hand_case
    (d,) = differences([r1, r2])
    ap1 = 1 / 3 + (1 / 3) * (2 / 3)  # TP, FP, TP of 3 faces
    assert d["label"] == "m2" and d["reference"] == "m1"
    assert math.isclose(d["settings"]["all"], 1.0 - ap1)
    # unmasked faces: m1 AP 0 (its hit-less background box), m2 AP 1
    assert math.isclose(d["groups"]["mask"]["without"]["ap"], 1.0)
    assert d["groups"]["mask"]["incorrect"]["ap"] is None  # no such face: undefined on both sides
    # m1's background FP cost 2/3 - ap1; m2 has none
    assert math.isclose(d["ap_gain"]["background"], 0.0 - (2 / 3 - ap1))


def test_report_files_tables_and_gallery(hand_case):
    gt, results, out = hand_case
    index = write_report(str(out), gt, results, sources=["p1", "p2"])
    page = open(index, encoding="utf-8").read()
    tables = re.findall(r'<table data-report="([^"]+)"', page)
    assert tables == ["predictions", "settings", "group:all", "group:mask", "group:height", "errors", "missed_by"]
    srcs = re.findall(r'<img data-report="1" src="([^"]+)"', page)
    assert srcs and all(not os.path.isabs(s) and not s.startswith(("http", "file:")) for s in srcs)
    for s in srcs:
        assert os.path.isfile(out / s), s
    # curves: setting/all + 3 mask values + 5 height bins, one PNG each, both models on it
    assert len([s for s in srcs if "/pr_" in s]) == 9
    # gallery: m1's miss (a, present) and its background FP (a) are drawn; m2 has no error
    tiles = [s for s in srcs if "/g" in s]
    assert sorted(os.path.basename(t) for t in tiles) == ["g0_m1_fp_0.png", "g0_m1_miss_0.png"]
    assert "AP m1" in page and "AP m2" in page and "&Delta; m2" in page
    assert "+" + f"{100 * (1 - (1 / 3 + 2 / 9)):.1f}" in page  # the settings difference, in %
    # m2 has no background error: its lower AP cost is an improvement (green), its higher AP too
    errors = page.split('data-report="errors"')[1].split("</table>")[0]
    bg_row = [r for r in errors.split("<tr>") if r.startswith("<td>background")][0]
    assert '<td class="pos">-11.1</td>' in bg_row
    assert '<td class="pos">+44.4</td>' in page.split('data-report="settings"')[1].split("</table>")[0]
    data = json.load(open(out / "report.json"))
    assert [r["label"] for r in data["results"]] == ["m1", "m2"]
    assert data["results"][0] == json.loads(json.dumps(results[0].to_json()))
    assert data["gallery_skipped_absent"] == [0, 0]


def test_gallery_skips_absent_images(hand_case, tmp_path):
    gt, results, out = hand_case
    gt.records["a"]["file_name"] = str(tmp_path / "gone.png")
    write_report(str(out), gt, results[:1])
    data = json.load(open(out / "report.json"))
    assert data["gallery_skipped_absent"] == [2]
    assert "2 picks skipped: their images are absent" in open(out / "index.html").read()


def test_report_rejects_bad_input(hand_case):
    gt, (r1, r2), out = hand_case
    r2.label = "m1"
    with pytest.raises(ValueError, match="distinct"):
        write_report(str(out), gt, [r1, r2])
    with pytest.raises(ValueError, match="at least one"):
        write_report(str(out), gt, [])


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(hand_case):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium / Chrome found (Debian: apt-get install chromium); .ci/run installs it")
    gt, results, out = hand_case
    index = write_report(str(out), gt, results)
    moved = out.parent / "moved_report"
    shutil.move(str(out), str(moved))  # self-contained: still complete after a move
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
           "--virtual-time-budget=5000", "--dump-dom", "file://" + str(moved / os.path.basename(index))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    n_img = len(re.findall(r"<img ", dom))
    assert n_img == 11  # 9 curves + 2 gallery tiles
    assert re.search(r'data-report-ready="loaded=11;failed=0"', dom), dom[-1500:]
    assert len(re.findall(r'data-loaded="1"', dom)) == n_img and 'data-failed="' not in dom
    assert len(re.findall(r"<table ", dom)) == 7
