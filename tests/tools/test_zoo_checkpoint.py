"""tools/zoo_checkpoint.py: weights only, sha256 printed, the size limit enforced."""
import hashlib
import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
import zoo_checkpoint  # noqa: E402


def test_keeps_only_the_weights_and_prints_the_digest(tmp_path, capsys):
    src, dst = tmp_path / "model_final.pth", tmp_path / "zoo.pth"
    sd = {"a.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.zeros(2)}
    torch.save({"model": sd, "optimizer": {"state": {0: torch.ones(1000)}}, "iteration": 2999}, src)
    zoo_checkpoint.main([str(src), str(dst)])
    out = torch.load(dst, map_location="cpu")
    assert list(out) == ["model"] and all(torch.equal(out["model"][k], sd[k]) for k in sd)
    digest = hashlib.sha256(dst.read_bytes()).hexdigest()
    assert f"2 tensors, sha256 {digest}" in capsys.readouterr().out


def test_refuses_files_over_the_limit_and_non_checkpoints(tmp_path):
    src, dst = tmp_path / "big.pth", tmp_path / "zoo.pth"
    torch.save({"model": {"w": torch.zeros(10000)}}, src)
    with pytest.raises(SystemExit, match="over the limit"):
        zoo_checkpoint.main([str(src), str(dst), "--max-bytes", "1000"])
    assert not dst.exists()
    torch.save({"w": torch.zeros(1)}, src)
    with pytest.raises(SystemExit, match="no 'model' entry"):
        zoo_checkpoint.main([str(src), str(dst)])
