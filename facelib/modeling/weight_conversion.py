"""Convert ImageNet checkpoints into facelib backbone parameter names, as detectron2 checkpoints.

Sources:

- ``torchvision_resnet``: torchvision ``resnet18/34/50/101/152`` state dicts (``conv1.weight``,
  ``bn1.*``, ``layerN.M.convK.*``, ``layerN.M.bnK.*``, ``layerN.M.downsample.{0,1}.*``) ->
  detectron2 ResNet names (``stem.conv1.*``, ``stem.conv1.norm.*``, ``res{N+1}.M.convK[.norm].*``,
  ``res{N+1}.M.shortcut[.norm].*``), the mapping of detectron2's
  ``tools/convert-torchvision-to-d2.py``. The model needs ``MODEL.RESNETS.STRIDE_IN_1X1 False``.
- ``torchvision_vgg16``: torchvision ``vgg16`` (``features.N.{weight,bias}``) -> ``conv<b>_<i>.*``
  of :class:`facelib.modeling.backbones.vgg.VGG16` (NORM ""); ``classifier.0/3`` (fc6/fc7) are
  dropped, or mapped to ``box_head_prefix`` + ``fc1/fc2`` (detectron2 FastRCNNConvFCHead with two
  4096-d FCs on 7x7 pooled features, as Faster R-CNN VGG16 initialises its box head).
- ``mobilenet_v1``: Pytorch_Retinaface's ImageNet MobileNetV1 (``module.stageS.I.J.*``, ``fc.*``)
  -> :class:`facelib.modeling.backbones.mobilenet.MobileNetV1` names.

``num_batches_tracked`` is dropped: FrozenBatchNorm2d has none, and torch's BatchNorm fills a missing
one in when loading a plain dict. Every other key is mapped or explicitly dropped; an unknown key
raises, so nothing is silently lost. The results are prefixed with the backbone's place in the
detector (``backbone.bottom_up.`` for the FPN backbones, ``backbone.`` for a bare VGG16) and saved
as ``{"model": ..., "__author__": ..., "matching_heuristics": False}``, which
:class:`detectron2.checkpoint.DetectionCheckpointer` loads by exact names (``MODEL.WEIGHTS``).
"""
import os
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch

__all__ = [
    "convert_torchvision_resnet",
    "convert_torchvision_vgg16",
    "convert_mobilenet_v1",
    "load_source_state_dict",
    "convert_state_dict",
    "convert_checkpoint_file",
    "SOURCES",
    "DEFAULT_PREFIX",
    "TORCHVISION_VGG16_CONV_INDICES",
]

# torchvision vgg16 ``features`` indices of the 13 convs, in conv1_1..conv5_3 order.
TORCHVISION_VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_VGG16_CONV_NAMES = tuple(
    "conv{}_{}".format(b, i) for b, n in enumerate((2, 2, 3, 3, 3), start=1) for i in range(1, n + 1)
)

_BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")


def _strip(state_dict, prefix="module."):
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return OrderedDict((k[len(prefix):], v) for k, v in state_dict.items())
    return OrderedDict(state_dict)


def _finish(mapped, unknown, source, prefix):
    if unknown:
        raise KeyError(f"{source}: keys with no known mapping: {sorted(unknown)}")
    return OrderedDict((prefix + k, v) for k, v in mapped.items())


def convert_torchvision_resnet(state_dict: Dict[str, torch.Tensor],
                               prefix: str = "backbone.bottom_up.") -> Dict[str, torch.Tensor]:
    """torchvision ResNet -> detectron2 ResNet names (``fc.*`` and ``num_batches_tracked`` dropped)."""
    mapped, unknown = OrderedDict(), []
    for k, v in _strip(state_dict).items():
        if k.startswith("fc.") or k.endswith("num_batches_tracked"):
            continue
        new = None
        if k == "conv1.weight":
            new = "stem.conv1.weight"
        elif (m := re.fullmatch(r"bn1\.(\w+)", k)) and m.group(1) in _BN_SUFFIXES:
            new = "stem.conv1.norm." + m.group(1)
        elif m := re.fullmatch(r"layer([1-4])\.(\d+)\.(.+)", k):
            stage, block, rest = int(m.group(1)) + 1, m.group(2), m.group(3)
            if r := re.fullmatch(r"conv([1-3])\.weight", rest):
                new_rest = "conv{}.weight".format(r.group(1))
            elif (r := re.fullmatch(r"bn([1-3])\.(\w+)", rest)) and r.group(2) in _BN_SUFFIXES:
                new_rest = "conv{}.norm.{}".format(r.group(1), r.group(2))
            elif rest == "downsample.0.weight":
                new_rest = "shortcut.weight"
            elif (r := re.fullmatch(r"downsample\.1\.(\w+)", rest)) and r.group(1) in _BN_SUFFIXES:
                new_rest = "shortcut.norm." + r.group(1)
            else:
                new_rest = None
            if new_rest is not None:
                new = "res{}.{}.{}".format(stage, block, new_rest)
        if new is None:
            unknown.append(k)
        else:
            mapped[new] = v
    return _finish(mapped, unknown, "torchvision_resnet", prefix)


def convert_torchvision_vgg16(state_dict: Dict[str, torch.Tensor], prefix: str = "backbone.",
                              box_head_prefix: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """torchvision vgg16 -> :class:`VGG16` names. ``classifier.0`` / ``classifier.3`` (fc6, fc7) go
    to ``box_head_prefix + "fc1." / "fc2."`` when given (e.g. ``"roi_heads.box_head."``), else are
    dropped with ``classifier.6`` (the ImageNet classifier)."""
    conv_names = dict(zip(TORCHVISION_VGG16_CONV_INDICES, _VGG16_CONV_NAMES))
    mapped, unknown, head = OrderedDict(), [], OrderedDict()
    for k, v in _strip(state_dict).items():
        m = re.fullmatch(r"features\.(\d+)\.(weight|bias)", k)
        if m and int(m.group(1)) in conv_names:
            mapped["{}.{}".format(conv_names[int(m.group(1))], m.group(2))] = v
            continue
        c = re.fullmatch(r"classifier\.(\d+)\.(weight|bias)", k)
        if c and c.group(1) in ("0", "3", "6"):
            if box_head_prefix is not None and c.group(1) in ("0", "3"):
                fc = {"0": "fc1", "3": "fc2"}[c.group(1)]
                head["{}{}.{}".format(box_head_prefix, fc, c.group(2))] = v
            continue
        unknown.append(k)
    if not unknown and len(mapped) != 2 * len(conv_names):
        missing = sorted({"{}.{}".format(n, s) for n in _VGG16_CONV_NAMES for s in ("weight", "bias")}
                         - set(mapped))
        raise KeyError(f"torchvision_vgg16: source lacks {missing} (vgg16_bn is not supported)")
    out = _finish(mapped, unknown, "torchvision_vgg16", prefix)
    out.update(head)
    return out


def convert_mobilenet_v1(state_dict: Dict[str, torch.Tensor],
                         prefix: str = "backbone.bottom_up.") -> Dict[str, torch.Tensor]:
    """Pytorch_Retinaface MobileNetV1 -> :class:`MobileNetV1` names: ``stageS.0.0`` -> ``stageS.0``
    and ``.1`` -> ``.0.norm`` for the stem conv_bn (stage1.0); ``stageS.I.{0,1,3,4}`` ->
    ``stageS.I.{dw, dw.norm, pw, pw.norm}`` for conv_dw blocks. ``fc.*`` dropped."""
    sd = _strip(state_dict)
    mapped, unknown = OrderedDict(), []
    for k, v in sd.items():
        if k.startswith("fc.") or k.endswith("num_batches_tracked"):
            continue
        m = re.fullmatch(r"(stage[1-3])\.(\d+)\.(\d+)\.(\w+)", k)
        new = None
        if m:
            stage, block, layer, suffix = m.group(1), m.group(2), int(m.group(3)), m.group(4)
            is_stem = stage == "stage1" and block == "0"
            if is_stem:
                target = {0: "", 1: ".norm"}.get(layer)
            else:
                target = {0: ".dw", 1: ".dw.norm", 3: ".pw", 4: ".pw.norm"}.get(layer)
            conv_layer = layer in (0, 3)
            ok = suffix == "weight" if conv_layer else suffix in _BN_SUFFIXES
            if target is not None and ok:
                new = "{}.{}{}.{}".format(stage, block, target, suffix)
        if new is None:
            unknown.append(k)
        else:
            mapped[new] = v
    return _finish(mapped, unknown, "mobilenet_v1", prefix)


SOURCES = {
    "torchvision_resnet": convert_torchvision_resnet,
    "torchvision_vgg16": convert_torchvision_vgg16,
    "mobilenet_v1": convert_mobilenet_v1,
}
# Where each backbone's parameters live in a detectron2 meta-architecture.
DEFAULT_PREFIX = {
    "torchvision_resnet": "backbone.bottom_up.",  # build_face_resnet_fpn_backbone
    "torchvision_vgg16": "backbone.",  # build_vgg16_backbone (no FPN)
    "mobilenet_v1": "backbone.bottom_up.",  # build_mobilenet_v1_fpn_backbone
}


def load_source_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """A state dict from a file holding one directly or under ``state_dict`` / ``model``
    (``module.`` prefixes kept: the converters strip them)."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise TypeError(f"{path}: expected a state dict, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise TypeError(f"{path}: not a state dict (non-tensor entries {bad[:5]})")
    return OrderedDict(obj)


def convert_state_dict(source: str, state_dict, prefix: Optional[str] = None, **kwargs):
    """Convert with the converter of ``source`` (a key of :data:`SOURCES`)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {sorted(SOURCES)}")
    prefix = DEFAULT_PREFIX[source] if prefix is None else prefix
    return SOURCES[source](state_dict, prefix=prefix, **kwargs)


def convert_checkpoint_file(source: str, input_path: str, output_path: str,
                            prefix: Optional[str] = None, **kwargs) -> Dict[str, torch.Tensor]:
    """Read ``input_path``, convert, and save ``{"model", "__author__", "matching_heuristics":
    False}`` to ``output_path`` (its folder created if missing) (loadable through ``MODEL.WEIGHTS``). Returns the converted dict."""
    model = convert_state_dict(source, load_source_state_dict(input_path), prefix, **kwargs)
    model = OrderedDict((k, v.detach().clone().contiguous()) for k, v in model.items())
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    torch.save({"model": model, "__author__": "facelib/" + source, "matching_heuristics": False},
               output_path)
    return model
