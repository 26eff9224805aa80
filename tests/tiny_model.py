"""The tiny random FaceRetinaNet shared by tests/test_api.py, tests/tools/test_demo.py and
tests/tools/test_benchmark.py: ResNet-18 FPN (GN), 64 channels, one head conv, 128 px test size, CPU.

- :func:`tiny_cfg`: the config as a ``CfgNode`` (Base-FaceRetinaNet.yaml + :data:`TINY_SETTINGS`).
- :func:`tiny_yaml` / :func:`write_tiny_config`: the same settings as a YAML file with ``_BASE_``
  (for the tools' ``--config-file``).
- :func:`save_tiny_checkpoint`: seeded random weights with a zero classification bias.

Imported as ``tiny_model`` (``tests/`` is on ``sys.path`` through ``tests/conftest.py``).
"""
import os
from typing import Dict, List, Optional, Tuple

import torch
import yaml

import facelib  # noqa: F401
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model

from facelib.config import get_face_cfg

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BASE_CONFIG = os.path.join(ROOT, "configs", "Base-FaceRetinaNet.yaml")

# Dotted config keys -> values, applied on top of BASE_CONFIG.
TINY_SETTINGS = {
    "MODEL.DEVICE": "cpu",
    "MODEL.RESNETS.DEPTH": 18,
    "MODEL.RESNETS.RES2_OUT_CHANNELS": 64,
    "MODEL.FPN.OUT_CHANNELS": 64,  # GN(32) on the 1x1 P7 of a 128 px input needs >= 2 ch / group
    "MODEL.RETINANET.NUM_CONVS": 1,
    "INPUT.MIN_SIZE_TEST": 128,
    "INPUT.MAX_SIZE_TEST": 128,
}


def _settings(detections_per_image: Optional[int]) -> Dict:
    settings = dict(TINY_SETTINGS)
    if detections_per_image is not None:
        settings["TEST.DETECTIONS_PER_IMAGE"] = detections_per_image
    return settings


def tiny_cfg(detections_per_image: Optional[int] = None, **overrides):
    """The tiny config; ``detections_per_image`` sets ``TEST.DETECTIONS_PER_IMAGE`` (else the base
    value), then ``overrides`` (dotted keys, e.g. ``**{"INPUT.FACE_AUG.TEST": "none"}``) are merged."""
    cfg = get_face_cfg()
    cfg.merge_from_file(BASE_CONFIG)
    for key, value in list(_settings(detections_per_image).items()) + list(overrides.items()):
        cfg.merge_from_list([key, value])
    return cfg


def tiny_yaml(detections_per_image: Optional[int] = None) -> str:
    """The tiny config as YAML text with ``_BASE_: <BASE_CONFIG>``."""
    tree: Dict = {"_BASE_": BASE_CONFIG}
    for key, value in _settings(detections_per_image).items():
        node = tree
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return yaml.safe_dump(tree, sort_keys=False)


def write_tiny_config(path, detections_per_image: Optional[int] = None) -> str:
    """Write :func:`tiny_yaml` to ``path``; returns the path as a string."""
    with open(path, "w") as f:
        f.write(tiny_yaml(detections_per_image))
    return str(path)


def save_tiny_checkpoint(cfg, folder, seed: int = 0, name: str = "tiny") -> str:
    """Random weights of ``build_model(cfg)`` (``torch.manual_seed(seed)`` first) with a zero
    classification bias (scores ~0.5 instead of the prior 0.01, so that loading them is visible in
    the detections), saved as ``<folder>/<name>.pth``; returns that path."""
    torch.manual_seed(seed)
    model = build_model(cfg)
    torch.nn.init.zeros_(model.head.cls_score.bias)
    DetectionCheckpointer(model, save_dir=str(folder)).save(name)
    return os.path.join(str(folder), f"{name}.pth")


def config_from_file(path: str, *opts):
    """``get_face_cfg()`` merged with the YAML at ``path`` (relative to the repo root) and ``opts``."""
    cfg = get_face_cfg()
    cfg.merge_from_file(os.path.join(ROOT, path))
    cfg.merge_from_list(list(opts))
    return cfg


def seeded_model(cfg, seed: int = 0):
    """``build_model(cfg)`` with the weights drawn after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return build_model(cfg)


def bright_face_batch(boxes_per_image, size: int = 128, seed: int = 1):
    """Training inputs: one ``size`` x ``size`` image per entry of ``boxes_per_image`` (lists of
    XYXY faces), dark noise with the faces brightened, ``Instances`` with gt_boxes / gt_classes 0."""
    from detectron2.structures import Boxes, Instances

    g = torch.Generator().manual_seed(seed)
    out = []
    for boxes in boxes_per_image:
        img = torch.rand(3, size, size, generator=g) * 60
        for x1, y1, x2, y2 in boxes:
            img[:, y1:y2, x1:x2] += 150
        inst = Instances((size, size))
        inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        inst.gt_classes = torch.zeros(len(boxes), dtype=torch.int64)
        out.append({"image": img, "instances": inst, "height": size, "width": size})
    return out


def train_on_batch(model, batch, steps: int, lr: float, momentum: float = 0.9):
    """``steps`` SGD steps of ``model`` on one fixed batch (inside an EventStorage); returns the
    loss dicts of every step as floats."""
    from detectron2.utils.events import EventStorage

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    history = []
    with EventStorage():
        for _ in range(steps):
            losses = model(batch)
            history.append({k: v.item() for k, v in losses.items()})
            opt.zero_grad()
            sum(losses.values()).backward()
            opt.step()
    return history


def assert_same_as_baseline(model, baseline, batch, steps: int = 2, lr: float = 0.01):
    """``model`` (a method with its modules off) and ``baseline`` (FaceRetinaNet from the same
    config): the same parameters and random draws, the same losses on ``batch``, and equal up to
    float summation order after ``steps - 1`` SGD steps."""
    import pytest

    sd_m, sd_b = model.state_dict(), baseline.state_dict()
    assert sorted(sd_m) == sorted(sd_b) and all(torch.equal(sd_m[k], sd_b[k]) for k in sd_m)
    hist_m = train_on_batch(model, batch, steps=steps, lr=lr)
    hist_b = train_on_batch(baseline, batch, steps=steps, lr=lr)
    assert hist_m[0] == hist_b[0]
    for later_m, later_b in zip(hist_m[1:], hist_b[1:]):
        assert set(later_m) == set(later_b)
        assert all(later_m[k] == pytest.approx(later_b[k], rel=1e-6) for k in later_b)


def assert_branch_absent_at_inference(model, without, branch, batch) -> Tuple[List[str], List[int]]:
    """A training-only ``branch`` of ``model``: not called at inference, and ``without`` (the same
    config with the branch switched off) loads ``model``'s weights with nothing missing and gives
    the same detections (boxes and scores). Returns the state-dict keys ``without`` does not have
    and the list the branch's calls keep being appended to."""
    calls = []
    branch.register_forward_hook(lambda *a: calls.append(1))
    missing, unexpected = without.load_state_dict(model.state_dict(), strict=False)
    assert missing == [] and unexpected
    model.eval(), without.eval()
    with torch.no_grad():
        with_branch, plain = model(batch), without(batch)
    assert calls == []
    for a, b in zip(with_branch, plain):
        assert torch.equal(a["instances"].pred_boxes.tensor, b["instances"].pred_boxes.tensor)
        assert torch.equal(a["instances"].scores, b["instances"].scores)
    return unexpected, calls
