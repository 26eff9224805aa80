"""build_face_optimizer: SOLVER.CLIP_GRADIENTS.CLIP_TYPE "full_model" clips the norm of all
gradients together (hand-computed update), the per-parameter detectron2 types are unchanged."""
import pytest
import torch
from torch import nn

from facelib.config import get_face_cfg
from facelib.engine.optimizer import build_face_optimizer


class TwoParams(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(2))
        self.b = nn.Parameter(torch.zeros(1))


def _step(clip_type, clip_value, enabled=True):
    cfg = get_face_cfg()
    cfg.merge_from_list(["SOLVER.BASE_LR", 1.0, "SOLVER.MOMENTUM", 0.0, "SOLVER.WEIGHT_DECAY", 0.0,
                         "SOLVER.WEIGHT_DECAY_NORM", 0.0, "SOLVER.CLIP_GRADIENTS.ENABLED", enabled,
                         "SOLVER.CLIP_GRADIENTS.CLIP_TYPE", clip_type, "SOLVER.CLIP_GRADIENTS.CLIP_VALUE", clip_value])
    model = TwoParams()
    opt = build_face_optimizer(cfg, model)
    model.a.grad = torch.tensor([3.0, 4.0])
    model.b.grad = torch.tensor([12.0])  # global L2 norm 13
    opt.step()
    return model.a.detach().tolist(), model.b.detach().tolist()


def test_full_model_clipping_scales_every_gradient_by_the_global_norm():
    a, b = _step("full_model", 6.5)  # 13 -> 6.5: every gradient halved, direction kept
    assert a == pytest.approx([-1.5, -2.0]) and b == pytest.approx([-6.0])
    a, b = _step("full_model", 100.0)  # below the bound: untouched
    assert a == pytest.approx([-3.0, -4.0]) and b == pytest.approx([-12.0])
    a, b = _step("full_model", 1.0, enabled=False)  # ENABLED False: no clipping
    assert b == pytest.approx([-12.0])


def test_per_parameter_norm_clipping_is_detectron2s():
    a, b = _step("norm", 6.5)  # each parameter on its own: |a| = 5 stays, |b| = 12 -> 6.5
    assert a == pytest.approx([-3.0, -4.0]) and b == pytest.approx([-6.5])


def test_bad_clip_settings_raise():
    with pytest.raises(ValueError, match="CLIP_TYPE must be one of"):
        _step("global", 1.0)
    with pytest.raises(ValueError, match="CLIP_VALUE must be > 0"):
        _step("full_model", 0.0)
