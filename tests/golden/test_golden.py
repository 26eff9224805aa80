"""The baseline FaceRetinaNet, FAN and AOFD give the frozen outputs and losses of
``tests/golden/*.json`` (see :mod:`golden_cases`): boxes to 1e-4 px, scores to 1e-5, losses to 1e-5
relative. Detections are compared as sets (``batched_nms`` may order exact ties differently)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_cases import CASES, golden_path, run_case  # noqa: E402


def _assert_same_detections(got, want):
    assert len(got["scores"]) == len(want["scores"])
    unused = list(range(len(got["scores"])))
    for box, score, cls in zip(want["boxes"], want["scores"], want["classes"]):
        hit = None
        for j in unused:
            if (
                abs(got["scores"][j] - score) <= 1e-5
                and got["classes"][j] == cls
                and all(abs(a - b) <= 1e-4 for a, b in zip(got["boxes"][j], box))
            ):
                hit = j
                break
        assert hit is not None, f"no detection matches {box} score {score}"
        unused.remove(hit)


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_and_losses_unchanged(name):
    with open(golden_path(name)) as f:
        want = json.load(f)
    got = run_case(name)
    assert len(got["detections"]) == len(want["detections"])
    for g, w in zip(got["detections"], want["detections"]):
        _assert_same_detections(g, w)
    assert sorted(got["losses"]) == sorted(want["losses"])
    for k, v in want["losses"].items():
        assert got["losses"][k] == pytest.approx(v, rel=1e-5, abs=1e-7), k
