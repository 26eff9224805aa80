"""FaceCheckpointer: a checkpoint that loads none of the backbone's tensors is an error (detectron2
only warns and trains from a random backbone)."""
import pytest
import torch

from detectron2.modeling import build_model

from facelib.engine import BackboneWeightsNotLoaded, FaceCheckpointer
from tiny_model import tiny_cfg


def _save(path, state):
    torch.save({"model": state, "__author__": "test", "matching_heuristics": False}, path)
    return str(path)


def test_backbone_prefix_mismatch_raises_and_match_loads(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    backbone_only = {k: v + 1.0 if v.is_floating_point() else v
                     for k, v in state.items() if k.startswith("backbone.bottom_up.")}
    # the same tensors named for a backbone without the FPN wrapper
    renamed = {k.replace("backbone.bottom_up.", "backbone."): v for k, v in backbone_only.items()}
    with pytest.raises(BackboneWeightsNotLoaded, match="backbone.bottom_up.*--prefix"):
        FaceCheckpointer(model).load(_save(tmp_path / "wrong.pth", renamed))
    FaceCheckpointer(model).load(_save(tmp_path / "right.pth", backbone_only))
    k = next(iter(backbone_only))
    assert torch.equal(model.state_dict()[k], backbone_only[k])
    # a checkpoint without any backbone tensor (e.g. a head) is not this error
    head = {k: v for k, v in state.items() if k.startswith("head.")}
    FaceCheckpointer(model).load(_save(tmp_path / "head.pth", head))


def test_missing_weights_file_says_which_key(tmp_path):
    import torch.nn as nn

    from facelib.engine.checkpoint import FaceCheckpointer

    with pytest.raises(FileNotFoundError, match=r"nope\.pth not found \(MODEL.WEIGHTS\).*facelib-zoo://"):
        FaceCheckpointer(nn.Linear(2, 2)).load(str(tmp_path / "nope.pth"))
    assert FaceCheckpointer(nn.Linear(2, 2)).load("") == {}  # no weights: from scratch, as detectron2
