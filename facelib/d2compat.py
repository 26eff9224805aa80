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
        importlib.import_module("detectron2._C")
    except ImportError:
        return False
    return True


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
