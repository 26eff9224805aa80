"""Model-zoo names: resolution with the sha256 check, the facelib-zoo:// prefix in detectron2's
PathManager, clear errors; and every listed checkpoint is present, matches and loads."""
import hashlib
import os

import pytest
import torch

import facelib  # noqa: F401
from detectron2.utils.file_io import PathManager

from facelib import model_zoo


def test_resolution_and_errors(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    torch.save({"model": {"x": torch.ones(2)}}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv("FACELIB_MODEL_ZOO", str(tmp_path))
    monkeypatch.setitem(model_zoo.MODELS, "unit", {"file": "w.pth", "sha256": digest, "config": ""})
    assert model_zoo.get_checkpoint_path("unit") == str(path)
    assert PathManager.get_local_path("facelib-zoo://unit") == str(path)
    with PathManager.open("facelib-zoo://unit", "rb") as f:
        assert torch.load(f)["model"]["x"].tolist() == [1.0, 1.0]
    with pytest.raises(KeyError, match="no model-zoo checkpoint 'nope'"):
        model_zoo.get_checkpoint_path("nope")
    monkeypatch.setitem(model_zoo.MODELS, "unit", {"file": "w.pth", "sha256": "0" * 64, "config": ""})
    with pytest.raises(ValueError, match="sha256"):
        model_zoo.get_checkpoint_path("facelib-zoo://unit")
    monkeypatch.setitem(model_zoo.MODELS, "gone", {"file": "missing.pth", "sha256": digest, "config": ""})
    with pytest.raises(FileNotFoundError):
        model_zoo.get_checkpoint_path("gone")


@pytest.mark.parametrize("name", sorted(model_zoo.MODELS))
def test_listed_checkpoints_load_into_their_config(name):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from facelib.config import get_face_cfg
    from tiny_model import ROOT

    path = model_zoo.get_checkpoint_path(name)
    assert os.path.getsize(path) <= 5 * 1024 * 1024
    cfg = get_face_cfg()
    cfg.merge_from_file(os.path.join(ROOT, model_zoo.MODELS[name]["config"]))
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    DetectionCheckpointer(model).load("facelib-zoo://" + name)
    state = torch.load(path, map_location="cpu")["model"]
    loaded = model.state_dict()
    omitted = model_zoo.MODELS[name].get("omitted")  # a training-only module left out on purpose
    expected = {k for k in loaded if not (omitted and k.startswith(omitted))}
    assert set(state) == expected  # every tensor has its place, none is missing
    for key, value in state.items():  # and is loaded as stored (no heuristic renaming; float16 ones cast)
        assert torch.equal(loaded[key], value.to(loaded[key].dtype)), key


def test_earlier_retinaface_names_resolve_with_a_warning(caplog):
    import logging

    from facelib.model_zoo import RENAMED, get_checkpoint_path

    for old, new in RENAMED.items():
        with caplog.at_level(logging.WARNING, logger="facelib.model_zoo"):
            assert get_checkpoint_path("facelib-zoo://" + old) == get_checkpoint_path(new)
        assert any(f"is now '{new}'" in r.getMessage() for r in caplog.records)
