"""The C levels of an FPN backbone next to its P levels, without running the bottom-up twice.

detectron2's :class:`~detectron2.modeling.backbone.FPN` returns only its P levels; methods that
also read the bottom-up network's features (RefineFace's first step on C2..C7, MogFace's HCAM
context from C2..C5) keep them with a forward hook on ``backbone.bottom_up``:

* :class:`BottomUpCapture` -- the hook and the outputs of the last bottom-up forward;
* :class:`FeaturesWithBottomUp` -- the P-level list a ``forward_features`` returns (what the core
  passes on) carrying those outputs in ``bottom_up``;
* :func:`bottom_up_shapes` -- their names and shapes (the FPN's inputs), to build modules on them.
"""
from typing import Dict, List, Sequence

from torch import Tensor, nn

from detectron2.layers import ShapeSpec

__all__ = ["BottomUpCapture", "FeaturesWithBottomUp", "bottom_up_shapes"]


def _bottom_up(backbone: nn.Module, user: str) -> nn.Module:
    bottom_up = getattr(backbone, "bottom_up", None)
    if bottom_up is None:
        raise ValueError(f"{user} reads the C levels of an FPN backbone (its `bottom_up`); "
                         f"{type(backbone).__name__} has none")
    return bottom_up


def bottom_up_shapes(backbone: nn.Module, user: str = "this method") -> Dict[str, ShapeSpec]:
    """Name -> ShapeSpec of the bottom-up features the FPN reads (its ``in_features``)."""
    bottom_up = _bottom_up(backbone, user)
    shapes = bottom_up.output_shape()
    in_features = list(getattr(backbone, "in_features", shapes.keys()))
    return {k: v for k, v in shapes.items() if k in in_features}


class BottomUpCapture:
    """Forward hook on ``backbone.bottom_up`` keeping its last output (a dict of C levels).

    Raises ``ValueError`` naming the backbone when it has no ``bottom_up`` (not an FPN)."""

    def __init__(self, backbone: nn.Module, user: str = "this method"):
        bottom_up = _bottom_up(backbone, user)
        self._outputs: List[Dict[str, Tensor]] = []
        bottom_up.register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output):
        self._outputs.append(output)

    def clear(self) -> None:
        self._outputs.clear()

    def pop(self) -> Dict[str, Tensor]:
        """The last bottom-up output; forgets every kept one."""
        if not self._outputs:
            raise RuntimeError("no bottom-up forward since the last pop()")
        out = self._outputs[-1]
        self._outputs.clear()
        return out


class FeaturesWithBottomUp(list):
    """A list over levels of P features (what :class:`FaceRetinaNet` passes on) with the
    bottom-up outputs in ``bottom_up`` (name -> tensor)."""

    def __init__(self, levels: Sequence[Tensor], bottom_up: Dict[str, Tensor]):
        super().__init__(levels)
        self.bottom_up = dict(bottom_up)
