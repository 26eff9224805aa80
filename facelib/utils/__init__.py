"""Small helpers shared by facelib's models and projects (imported lazily: ``facelib.utils.progress``
needs neither torch nor detectron2)."""

__all__ = ["put_scalar"]


def __getattr__(name):
    if name == "put_scalar":
        from .events import put_scalar

        return put_scalar
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
