"""Where facelib looks for datasets and pretrained weights."""
import os

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def datasets_root(root: str = "") -> str:
    """The datasets root: ``root`` if given, else ``$FACELIB_DATASETS``, else ``./datasets``
    (the way detectron2 reads ``DETECTRON2_DATASETS``)."""
    return os.path.expanduser(root or os.environ.get("FACELIB_DATASETS", "datasets"))


def shared_root() -> str:
    """``../shared`` beside the checkout (a folder of datasets, pretrained weights and wheels), or
    ``$FACELIB_SHARED``. May not exist: callers check."""
    return os.environ.get("FACELIB_SHARED", os.path.join(os.path.dirname(_REPO_ROOT), "shared"))


def shared_data_root() -> str:
    return os.path.join(shared_root(), "data")


def cache_root() -> str:
    """Cache for generated data (the embedded synthetic set): ``$FACELIB_CACHE`` or
    ``~/.cache/facelib``."""
    return os.path.expanduser(os.environ.get("FACELIB_CACHE", os.path.join("~", ".cache", "facelib")))
