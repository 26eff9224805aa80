"""Small helpers shared by facelib's models and projects."""
from .events import put_scalar

__all__ = ["put_scalar"]
