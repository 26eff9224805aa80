"""The baseline FaceRetinaNet, FAN and AOFD give the frozen outputs and losses of
``tests/golden/*.json`` (see :mod:`golden_cases`): boxes to 1e-4 px, scores to 1e-5, losses to 1e-5
relative. Detections are compared as sets (``batched_nms`` may order exact ties differently)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_cases import CASES, golden_path, run_case  # noqa: E402

from detection_asserts import assert_same_detections  # noqa: E402


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_and_losses_unchanged(name):
    with open(golden_path(name)) as f:
        want = json.load(f)
    got = run_case(name)
    assert len(got["detections"]) == len(want["detections"])
    for g, w in zip(got["detections"], want["detections"]):
        assert_same_detections(g, w)
    assert sorted(got["losses"]) == sorted(want["losses"])
    for k, v in want["losses"].items():
        assert got["losses"][k] == pytest.approx(v, rel=1e-5, abs=1e-7), k
