"""``build_face_optimizer``: detectron2's ``build_optimizer`` plus whole-model gradient clipping.

detectron2 0.7's ``SOLVER.CLIP_GRADIENTS.CLIP_TYPE`` knows ``"value"`` and ``"norm"``, both applied
to each parameter on its own. ``"full_model"`` (the name detectron2's DETR project uses) clips the
norm of all gradients taken as one vector to ``CLIP_VALUE`` (``torch.nn.utils.clip_grad_norm_``
over every parameter, ``NORM_TYPE``), which keeps the direction of the update and only bounds its
size: a rare huge gradient (a spike near the peak learning rate) cannot throw the model far away.
"""
import torch
from detectron2.solver import build_optimizer
from detectron2.solver.build import _generate_optimizer_class_with_gradient_clipping

__all__ = ["CLIP_TYPES", "build_face_optimizer"]

CLIP_TYPES = ("value", "norm", "full_model")


def build_face_optimizer(cfg, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The optimizer of ``cfg.SOLVER`` for ``model``; ``CLIP_TYPE "full_model"`` adds global-norm clipping."""
    clip = cfg.SOLVER.CLIP_GRADIENTS
    if clip.CLIP_TYPE not in CLIP_TYPES:
        raise ValueError(f"SOLVER.CLIP_GRADIENTS.CLIP_TYPE must be one of {CLIP_TYPES}, got {clip.CLIP_TYPE!r}")
    if not (clip.ENABLED and clip.CLIP_TYPE == "full_model"):
        return build_optimizer(cfg, model)
    if not clip.CLIP_VALUE > 0:
        raise ValueError(f"SOLVER.CLIP_GRADIENTS.CLIP_VALUE must be > 0 for full_model clipping, got {clip.CLIP_VALUE}")
    plain = cfg.clone()
    plain.defrost()
    plain.SOLVER.CLIP_GRADIENTS.ENABLED = False
    optimizer = build_optimizer(plain, model)
    max_norm, norm_type = float(clip.CLIP_VALUE), float(clip.NORM_TYPE)

    def clip_all(params):
        torch.nn.utils.clip_grad_norm_(list(params), max_norm, norm_type)

    optimizer.__class__ = _generate_optimizer_class_with_gradient_clipping(type(optimizer), global_clipper=clip_all)
    return optimizer
