"""facelib: shared library for occlusion-robust face detectors on Detectron2.

Importing facelib is light (no torch, no detectron2): it registers import hooks
(:func:`facelib.d2compat.install_lazy`) so that when detectron2 is imported, ``detectron2._C`` is the
compiled extension if one loads, else facelib's pure-Python stand-in (``detectron2.evaluation`` and
``detectron2.engine`` then import), and ``facelib-zoo://`` checkpoint names resolve as soon as
detectron2's ``PathManager`` exists. So numpy-only parts (``facelib.evaluation.wider_face_protocol``,
``tools/eval_widerface.py``) start without torch.
"""
from . import d2compat as _d2compat


def _register_model_zoo():
    from . import model_zoo  # noqa: F401  (registers the facelib-zoo:// PathManager handler)


_d2compat.install_lazy(post_file_io=_register_model_zoo)

__version__ = "0.1.0"


def __getattr__(name):  # lazy: `from facelib import FaceDetector` without importing the model code up front
    if name in ("FaceDetector", "FaceDetections"):
        from . import api

        return getattr(api, name)
    if name == "USING_D2_STANDIN":  # True when detectron2._C is the stand-in (imports detectron2)
        return _d2compat.install()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
