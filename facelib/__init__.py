"""facelib: shared library for occlusion-robust face detectors on Detectron2.

Importing facelib installs the ``detectron2._C`` stand-in when no compiled one exists
(see :mod:`facelib.d2compat`), so ``detectron2.evaluation`` and ``detectron2.engine`` import.
"""
from . import d2compat as _d2compat

USING_D2_STANDIN = _d2compat.install()

from . import model_zoo as _model_zoo  # noqa: E402,F401  (facelib-zoo:// checkpoint names)

__version__ = "0.1.0"


def __getattr__(name):  # lazy: `from facelib import FaceDetector` without importing the model code up front
    if name in ("FaceDetector", "FaceDetections"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
