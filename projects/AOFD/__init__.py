"""AOFD -- Adversarial Occlusion-aware Face Detection (Chen, Song, He, BTAS 2018, arXiv 1709.05188)
as a Detectron2 project.

The code is in :mod:`projects.AOFD.aofd`; configs are ``configs/aofd_*.yaml``.
"""
from . import aofd  # noqa: F401
