"""FAN -- Face Attention Network (Wang, Yuan, Yu, arXiv 1711.07246, 2017) as a Detectron2 project.

The code is in :mod:`projects.FAN.fan`; configs are ``configs/fan_*.yaml``.
"""
from . import fan  # noqa: F401
