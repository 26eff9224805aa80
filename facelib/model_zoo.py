"""Trained facelib checkpoints kept in the repository's ``model_zoo/`` folder, loadable by name.

    MODEL.WEIGHTS facelib-zoo://retinanet_mnet025_facemask_1000it           (any detectron2 checkpointer)
    get_checkpoint_path("retinanet_mnet025_facemask_1000it")               (a local path)

Each entry names its file, its sha256 (checked on every resolution: a changed or truncated file
is an error, not a silently different model) and the config it was trained with;
``model_zoo/README.md`` lists the command, iterations and AP of each. The folder is the
checkout's ``model_zoo/`` or ``$FACELIB_MODEL_ZOO``.
"""
import hashlib
import logging
import os
from typing import Dict

from iopath.common.file_io import PathHandler

from detectron2.utils.file_io import PathManager

from .paths import _REPO_ROOT

__all__ = ["MODELS", "PREFIX", "model_zoo_root", "get_checkpoint_path"]

PREFIX = "facelib-zoo://"

# name -> {"file", "sha256", "config"[, "omitted": prefix of the tensors left out (training-only)]}
MODELS: Dict[str, Dict[str, str]] = {
    "retinanet_mnet025_facemask_1000it": {
        "file": "retinanet_mnet025_facemask_1000.pth",
        "sha256": "cfdcbe099d02b331b12b80859b10d06d072173d3d8b740f1e34b9c31cfd01573",
        "config": "configs/retinanet_mnet025_facemask.yaml",
    },
    "retinanet_mnet025_facemask_3000it": {
        "file": "retinanet_mnet025_facemask_3000.pth",
        "sha256": "e706851bd1f63fed8ad5e425c58e49b8214cd3f9cb8ee6393fdd2fbf5953dd52",
        "config": "configs/retinanet_mnet025_facemask.yaml",
    },
    "aofd_mnet025_facemask": {
        "file": "aofd_mnet025_facemask.pth",
        "sha256": "edbb7d925ae0a114c06caac5b199136718999977b192dec013b0e044ae43b231",
        "config": "configs/aofd_mnet025_facemask.yaml",
        # float16; inference weights: the training-only adversarial mask generator is left out
        "omitted": "roi_heads.mask_generator.",
    },
    "refineface_mnet025_facemask_3000it": {
        "file": "refineface_mnet025_facemask_3000.pth",
        "sha256": "96da0d8d923f8918693e1327746c2582a656f51b5fecf7da569c6aaca99efb1d",
        "config": "configs/refineface_mnet025_facemask.yaml",
    },
}

# Earlier names (the configs were called retinaface_*; they are RefineFace's RetinaNet baseline,
# not the RetinaFace model): still accepted, with a warning.
RENAMED: Dict[str, str] = {
    "retinaface_mnet025_facemask_1000it": "retinanet_mnet025_facemask_1000it",
    "retinaface_mnet025_facemask_3000it": "retinanet_mnet025_facemask_3000it",
}


def model_zoo_root() -> str:
    return os.environ.get("FACELIB_MODEL_ZOO", os.path.join(_REPO_ROOT, "model_zoo"))


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def get_checkpoint_path(name: str) -> str:
    """Local path of the model-zoo checkpoint ``name`` (with or without the ``facelib-zoo://``
    prefix), after checking its sha256."""
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
    if name in RENAMED:
        logging.getLogger(__name__).warning("model-zoo name %r is now %r", name, RENAMED[name])
        name = RENAMED[name]
    if name not in MODELS:
        raise KeyError(f"no model-zoo checkpoint {name!r}; known: {', '.join(sorted(MODELS))}")
    entry = MODELS[name]
    path = os.path.join(model_zoo_root(), entry["file"])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model-zoo checkpoint {name!r} expected at {path}")
    digest = _sha256(path)
    if digest != entry["sha256"]:
        raise ValueError(f"{path}: sha256 {digest}, the model zoo records {entry['sha256']}")
    return path


class _ModelZooHandler(PathHandler):
    """``facelib-zoo://<name>`` for detectron2's ``PathManager`` (checkpointers, ``MODEL.WEIGHTS``)."""

    def _get_supported_prefixes(self):
        return [PREFIX]

    def _get_local_path(self, path, **kwargs):
        return get_checkpoint_path(path)

    def _open(self, path, mode="r", **kwargs):
        return PathManager.open(get_checkpoint_path(path), mode, **kwargs)

    def _isfile(self, path, **kwargs):
        try:
            get_checkpoint_path(path)
        except (KeyError, FileNotFoundError):
            return False
        return True

    def _exists(self, path, **kwargs):
        return self._isfile(path, **kwargs)


if PREFIX not in PathManager._path_handlers:
    PathManager.register_handler(_ModelZooHandler())
