"""One command-line convention for facelib's tools: config overrides are ``KEY VALUE`` pairs at
the end of the command line, as in detectron2's ``tools/train_net.py``; ``--opts`` before them is
accepted as an alias (detectron2's ``demo/demo.py`` spelling).

:func:`split_config_overrides` cuts the argument list at ``--opts`` or at the first token that is
a config key (dotted upper-case path whose first part is a top-level key of facelib's config,
e.g. ``MODEL.WEIGHTS``, ``OUTPUT_DIR``), so options taking several values (``--input a b``,
``--batch-sizes 1 8``) never swallow the overrides. :func:`parse_args_with_overrides` parses
the part before with the tool's parser and stores the overrides in ``args.opts``.
"""
import argparse
import re
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

__all__ = ["split_config_overrides", "parse_args_with_overrides", "add_overrides_argument"]

_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Za-z0-9_]+)*$")


@lru_cache(maxsize=1)
def _top_level_keys() -> frozenset:
    from facelib.config import get_face_cfg

    return frozenset(get_face_cfg().keys())


def is_config_key(token: str) -> bool:
    return bool(_KEY.match(token)) and token.split(".", 1)[0] in _top_level_keys()


def split_config_overrides(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``(tool arguments, overrides)`` of ``argv`` (see the module docstring)."""
    argv = list(argv)
    for i, tok in enumerate(argv):
        if tok == "--opts":
            return argv[:i], argv[i + 1:]
        if is_config_key(tok) and (i == 0 or argv[i - 1] != "--"):
            return argv[:i], argv[i:]
    return argv, []


def add_overrides_argument(parser: argparse.ArgumentParser) -> None:
    """Declare the overrides (for ``--help``); :func:`parse_args_with_overrides` fills them."""
    parser.add_argument("opts", nargs="*", metavar="KEY VALUE",
                        help="config overrides at the end, e.g. MODEL.WEIGHTS w.pth MODEL.DEVICE cpu "
                             "(--opts before them is accepted)")


def parse_args_with_overrides(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None):
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    before, overrides = split_config_overrides(argv)
    args = parser.parse_args(before)
    extra = list(getattr(args, "opts", None) or [])
    if extra:
        parser.error(f"unrecognized arguments before the config overrides: {' '.join(extra)}")
    if len(overrides) % 2:
        parser.error(f"config overrides must be KEY VALUE pairs, got an odd number: {' '.join(overrides)}")
    args.opts = overrides
    return args
