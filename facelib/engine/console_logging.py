"""Logger set-up of facelib's tools: detectron2's ``setup_logger`` (console + ``log.txt``), with
the console kept at INFO.

detectron2's ``setup_logger`` gives its console handler level DEBUG, so every DEBUG record of
facelib (the data mapper logs each image whose faces the augmentation drops, over a thousand
lines in the first minutes on the face-mask data) would reach the terminal. The file handler
keeps DEBUG; the console shows INFO and above.
"""
import logging
import sys
from typing import Iterable, Optional

from detectron2.utils.logger import setup_logger

__all__ = ["CONSOLE_LEVEL", "console_to_level", "setup_facelib_logger"]

CONSOLE_LEVEL = logging.INFO


def console_to_level(names: Iterable[str] = ("facelib", "detectron2", "fvcore", "d2"),
                     level: int = CONSOLE_LEVEL) -> int:
    """Set the level of the console handlers (stream handlers on stdout / stderr, not files) of the
    loggers ``names`` to ``level``; returns how many handlers were changed."""
    n = 0
    for name in names:
        for h in logging.getLogger(name).handlers:
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) \
                    and getattr(h, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
                if h.level < level:
                    h.setLevel(level)
                    n += 1
    return n


def setup_facelib_logger(output: Optional[str] = None, distributed_rank: int = 0) -> logging.Logger:
    """The ``facelib`` logger (all of facelib's modules and projects log under it) on the console
    at INFO and, with ``output``, in ``output``/log.txt at DEBUG; also quiets detectron2's and
    fvcore's consoles to INFO when they were set up before."""
    logger = setup_logger(output, distributed_rank=distributed_rank, name="facelib", abbrev_name="facelib")
    console_to_level()
    return logger
