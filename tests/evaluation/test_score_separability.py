"""Scale-binned face / background separability (RefineFace Fig. 5 in numbers), hand-computed."""
import math

import numpy as np
import pytest

from facelib.evaluation.score_separability import binned_separability, mann_whitney_auc, score_logits


def test_logits_invert_the_sigmoid():
    x = np.array([-3.0, 0.0, 2.5])
    assert score_logits(1 / (1 + np.exp(-x))) == pytest.approx(x)


def test_mann_whitney_auc_by_hand():
    # pairs (pos, neg): 3>1 3>2 3=3(½) 1=1(½) 1<2 1<3 -> (1 + 1 + .5 + .5) / 6
    assert mann_whitney_auc([3.0, 1.0], [1.0, 2.0, 3.0]) == pytest.approx(3 / 6)
    assert mann_whitney_auc([5.0, 6.0], [1.0]) == 1.0
    assert math.isnan(mann_whitney_auc([], [1.0]))


def test_binned_separability_by_hand():
    scales = [10, 12, 14, 16, 40, 50, 60]
    logits = [2.0, 0.0, 1.0, -1.0, 3.0, -2.0, -3.0]
    face = [True, False, True, False, True, False, False]
    small, large = binned_separability(scales, logits, face, [0, 32, math.inf], low=0.0, high=1.0)
    assert small["bin"] == (0, 32) and (small["faces"], small["background"]) == (2, 2)
    assert small["auc"] == 1.0  # faces 2, 1 above background 0, -1
    assert small["mixed"] == 0.0  # lowest face 1 > highest background 0
    assert (large["faces"], large["background"], large["auc"], large["mixed"]) == (1, 2, 1.0, 0.0)
    # overlapping faces / background: lowest face 0.5, highest background 1.5 -> 3 of 4 inside
    (row,) = binned_separability([5, 5, 5, 5], [0.5, 2.0, 1.5, 1.0], [True, True, False, False], [0, 8],
                                 low=0.0, high=1.0)
    assert row["auc"] == pytest.approx(2 / 4)  # 2.0 beats both, 0.5 neither
    assert row["mixed"] == pytest.approx(3 / 4)


def test_binned_separability_rejects_bad_input():
    with pytest.raises(ValueError, match="length"):
        binned_separability([1, 2], [0.0], [True, False], [0, 8])
    with pytest.raises(ValueError, match="increasing"):
        binned_separability([1], [0.0], [True], [8, 0])


def test_tool_prints_one_row_per_model_and_bin(tmp_path, capsys):
    """tools/score_separability.py end to end on the tiny RefineFace config and its synthetic data
    (two checkpoints, random weights: only the table's shape and counts are checked)."""
    import os
    import sys

    import torch

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(repo, "tools"))
    sys.path.insert(0, os.path.join(repo, "tests"))
    import score_separability
    from tiny_model import config_from_file, seeded_model

    cfg_file = os.path.join(repo, "configs", "refineface_tiny_cpu.yaml")
    model = seeded_model(config_from_file(cfg_file))
    weights = str(tmp_path / "w.pth")
    torch.save({"model": model.state_dict()}, weights)
    score_separability.main(["--config-file", cfg_file, "--weights", weights, "--weights", weights, "--edges", "0,32,inf",
                             "MODEL.RETINANET.SCORE_THRESH_TEST", "0.0"])
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("| ") and "w.pth" in l]
    assert len(lines) == 4
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in lines]
    assert [c[1] for c in cells] == ["[0, 32)", "[32, inf)"] * 2
    assert cells[:2] == cells[2:]  # same weights, same numbers
    assert sum(int(c[2]) + int(c[3]) for c in cells[:2]) > 0
