"""Pure-Python stand-in for ``detectron2._C``, used only when no compiled ``_C`` can be imported.

The PyPI wheel ``sal-detectron2`` (upstream detectron2 a59f0563) ships a ``_C`` built for CPython
3.10 only, which the install scripts delete. Without any ``_C``, ``detectron2.evaluation`` does not
import (``fast_eval_api`` imports ``_C`` at module level), so nothing that touches a trainer works.
:func:`install` puts a module in its place whose every op raises :class:`CompiledOpUnavailable`
with a message naming the op and the remedy, and registers the rotated-box ``torch.ops.detectron2``
ops with the same error (instead of PyTorch's bare ``AttributeError``). Everything facelib uses is
pure PyTorch (NMS and RoIAlign come from torchvision); what needs ``_C`` is deformable
convolution, the rotated-box ops and the fast COCOeval (``COCOEvaluator(use_fast_impl=False)``
works). A compiled ``_C`` (detectron2 built from source) is always preferred and left untouched.
"""
import importlib
import importlib.abc
import importlib.machinery
import sys
import types

STANDIN_ORIGIN = "facelib.d2compat (pure-Python stand-in, no compiled ops)"
_HINT = (
    "needs detectron2's compiled extension detectron2._C, which this installation does not have "
    "(facelib installs the pure-Python sal-detectron2 wheel). Build detectron2 from source "
    "(see README, 'Official detectron2 from source') or avoid this op: for COCOEvaluator pass "
    "use_fast_impl=False; deformable convolution and rotated boxes are unavailable."
)

# Schemas of the ops detectron2 registers under torch.ops.detectron2 (detectron2/layers/csrc/vision.cpp).
_TORCH_OPS = {
    "nms_rotated": "nms_rotated(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "box_iou_rotated": "box_iou_rotated(Tensor boxes1, Tensor boxes2) -> Tensor",
    "roi_align_rotated_forward": (
        "roi_align_rotated_forward(Tensor input, Tensor rois, float spatial_scale, "
        "int pooled_height, int pooled_width, int sampling_ratio) -> Tensor"
    ),
    "roi_align_rotated_backward": (
        "roi_align_rotated_backward(Tensor grad, Tensor rois, float spatial_scale, "
        "int pooled_height, int pooled_width, int batch_size, int channels, int height, "
        "int width, int sampling_ratio) -> Tensor"
    ),
}
_torch_library = None  # keeps the torch.library.Library alive


class CompiledOpUnavailable(RuntimeError):
    """Raised when code asks for an op that only detectron2's compiled ``_C`` provides."""


def _unavailable(name):
    def op(*args, **kwargs):
        raise CompiledOpUnavailable(f"detectron2 op '{name}' {_HINT}")

    op.__name__ = name
    return op


def _make_standin():
    mod = types.ModuleType("detectron2._C")
    mod.__doc__ = __doc__
    mod.__file__ = None
    mod.__spec__ = importlib.machinery.ModuleSpec("detectron2._C", None, origin=STANDIN_ORIGIN)
    mod.FACELIB_STANDIN = True
    mod.get_compiler_version = lambda: "none (facelib stand-in)"
    mod.get_cuda_version = lambda: "none (facelib stand-in)"
    mod.has_cuda = lambda: False

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _unavailable(name)

    mod.__getattr__ = __getattr__
    return mod


def _register_torch_ops():
    global _torch_library
    import torch

    missing = [n for n in _TORCH_OPS if not hasattr(torch.ops.detectron2, n)]
    if not missing or _torch_library is not None:
        return
    lib = torch.library.Library("detectron2", "FRAGMENT")
    for name in missing:
        lib.define(_TORCH_OPS[name])
        lib.impl(name, _unavailable(name), "CompositeImplicitAutograd")
    _torch_library = lib


def has_compiled_ops() -> bool:
    """True when a real compiled ``detectron2._C`` is loaded (or loadable)."""
    mod = sys.modules.get("detectron2._C")
    if mod is not None:
        return not getattr(mod, "FACELIB_STANDIN", False)
    try:
        mod = importlib.import_module("detectron2._C")  # through the import hook: may be the stand-in
    except ImportError:
        return False
    return not getattr(mod, "FACELIB_STANDIN", False)


def install() -> bool:
    """Install the stand-in if (and only if) no compiled ``detectron2._C`` imports.

    Returns True when the stand-in is in use. Idempotent; call before importing
    ``detectron2.evaluation`` / ``detectron2.engine`` (``import facelib`` does).
    """
    import detectron2

    if has_compiled_ops():
        return False
    if "detectron2._C" not in sys.modules:
        mod = _make_standin()
        sys.modules["detectron2._C"] = mod
        detectron2._C = mod
    _register_torch_ops()
    return True


# ------------------------------------------------------------------ lazy installation (import hooks)
class _StandinOrCompiledLoader(importlib.abc.Loader):
    """Loads the compiled ``detectron2._C`` when one is on detectron2's path and loads; else the
    stand-in (a ``_C`` that exists but fails to load, e.g. built for another Python, too)."""

    def __init__(self, real_spec):
        self.real_spec = real_spec

    def create_module(self, spec):
        if self.real_spec is not None:
            try:
                return self.real_spec.loader.create_module(self.real_spec)
            except ImportError:
                self.real_spec = None
        return _make_standin()

    def exec_module(self, module):
        if getattr(module, "FACELIB_STANDIN", False):
            _register_torch_ops()
        else:
            self.real_spec.loader.exec_module(module)


class _PostImportLoader(importlib.abc.Loader):
    def __init__(self, loader, callback):
        self.loader, self.callback = loader, callback

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.callback()


class _Detectron2Hooks(importlib.abc.MetaPathFinder):
    """``detectron2._C``: compiled or stand-in (above); ``detectron2.utils.file_io``: after it
    loads, ``post_file_io`` runs (facelib registers its ``facelib-zoo://`` path handler)."""

    def __init__(self, post_file_io):
        self.post_file_io = post_file_io

    def find_spec(self, fullname, path, target=None):
        if fullname == "detectron2._C":
            real = importlib.machinery.PathFinder.find_spec(fullname, path)
            return importlib.machinery.ModuleSpec(
                fullname, _StandinOrCompiledLoader(real),
                origin=real.origin if real is not None else STANDIN_ORIGIN)
        if fullname == "detectron2.utils.file_io" and self.post_file_io is not None:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is not None and spec.loader is not None:
                spec.loader = _PostImportLoader(spec.loader, self.post_file_io)
            return spec
        return None


def install_lazy(post_file_io=None) -> None:
    """Arrange for :func:`install`'s effect without importing detectron2 (or torch) now: an import
    hook supplies ``detectron2._C`` (compiled when it loads, else the stand-in) when detectron2
    first imports it, and runs ``post_file_io`` once ``detectron2.utils.file_io`` has loaded. When
    detectron2 is already imported, installs at once. Idempotent."""
    if not any(isinstance(f, _Detectron2Hooks) for f in sys.meta_path):
        sys.meta_path.insert(0, _Detectron2Hooks(post_file_io))
    if "detectron2" in sys.modules:
        install()
    if post_file_io is not None and "detectron2.utils.file_io" in sys.modules:
        post_file_io()
