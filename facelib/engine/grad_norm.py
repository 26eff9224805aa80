"""``GradientNormHook``: records the global L2 norm of the gradients every iteration.

The norm is taken after ``backward()`` and before the optimizer step, so it is the norm that
``SOLVER.CLIP_GRADIENTS`` (``CLIP_TYPE: "full_model"``) compares with ``CLIP_VALUE`` before
clipping. It goes to the event storage as ``grad_norm`` (``metrics.json`` and TensorBoard), where a
spike, the usual first sign of a learning rate at the edge of stability, is visible next to the
loss it causes. ``TRAINER.LOG_GRAD_NORM`` switches it.
"""
import torch
from detectron2.engine import HookBase

__all__ = ["GradientNormHook", "global_grad_norm"]


def global_grad_norm(parameters, norm_type: float = 2.0) -> float:
    """The norm of all gradients of ``parameters`` taken as one vector (parameters without a
    gradient are skipped; 0.0 when none has one), as ``torch.nn.utils.clip_grad_norm_`` computes it."""
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    return float(torch.nn.utils.get_total_norm(grads, norm_type)) if grads else 0.0


class GradientNormHook(HookBase):
    """Puts the global L2 gradient norm of the trainer's model into the event storage as ``grad_norm``."""

    def __init__(self, norm_type: float = 2.0):
        self.norm_type = float(norm_type)

    def after_backward(self):
        norm = global_grad_norm(self.trainer.model.parameters(), self.norm_type)
        self.trainer.storage.put_scalar("grad_norm", norm, smoothing_hint=False)
