"""Namespace of facelib's method plugins (``facelib.projects.<method>``).

The method packages live in the repository's ``projects/`` folder and are installed under this
name (``pyproject.toml``'s package-dir mapping); nothing is imported here: :mod:`facelib.plugins`
discovers them through their entry points.
"""
