"""Discovery of the method packages (plugins) that build on facelib.

facelib never names its users. A method package declares itself as an entry point of the group
``facelib.projects`` in its distribution's metadata (this repository's ``pyproject.toml`` declares
``fan`` and ``aofd``, installed as ``facelib.projects.fan`` / ``facelib.projects.aofd`` from the
``projects/`` folder); :func:`load_plugins` imports every one installed, which registers its
meta-architectures, heads and trainers in detectron2's registries and its ``add_<method>_config``
with :func:`facelib.config.register_config_extension`. ``get_face_cfg()``, the tools and
``FaceDetector`` call it, so what they see depends on what is installed, not on the working
directory. A third-party method is a distribution with its own ``facelib.projects`` entry point.
"""
import importlib
from importlib import metadata
from typing import Dict

__all__ = ["ENTRY_POINT_GROUP", "load_plugins", "loaded_plugins"]

ENTRY_POINT_GROUP = "facelib.projects"

_LOADED: Dict[str, str] = {}


def load_plugins() -> Dict[str, str]:
    """Import every installed ``facelib.projects`` entry point (once); returns ``{name: module}``.

    Two distributions declaring the same name for different modules is an error; a plugin that
    fails to import raises (a broken method package is never skipped silently).
    """
    seen: Dict[str, str] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen and seen[ep.name] != ep.value:
            raise RuntimeError(
                f"two {ENTRY_POINT_GROUP} plugins are named {ep.name!r}: {seen[ep.name]} and {ep.value}"
            )
        seen[ep.name] = ep.value
    for name, module in sorted(seen.items()):
        if name not in _LOADED:
            importlib.import_module(module)
            _LOADED[name] = module
    return dict(_LOADED)


def loaded_plugins() -> Dict[str, str]:
    """``{name: module}`` of the plugins imported so far."""
    return dict(_LOADED)
