"""ONNX export of facelib's dense (single-shot) detectors: :func:`export_onnx`.

The graph is the network: input ``image`` (1, 3, H, W) float32, normalised (``(x - PIXEL_MEAN) /
PIXEL_STD`` in ``INPUT.FORMAT`` channel order) and zero-padded to the backbone's size
divisibility; dynamic H and W. It runs the model's own inference hooks
(``forward_features`` -> ``head_outputs`` -> ``inference_predictions`` / ``inference_anchors``,
so a method's inference-time logic, e.g. RefineFace's STC filtering, is in the graph; training-only
branches are never called) and returns per level ``logits_<i>`` (1, R_i, K), ``deltas_<i>`` (1, R_i,
4), ``size_<i>`` (2,) int64 (the feature map's H, W) and, for methods with per-image anchors,
``anchors_<i>`` (1, R_i, 4). Decoding, top-k, NMS and rescaling run in numpy
(:mod:`facelib.export.dense_postprocess`, the rules of :mod:`facelib.modeling.dense_inference`); what
they need (cell anchors, strides, thresholds, box weights, the input normalisation) is stored as
JSON in the model's metadata (``facelib``).

Batch: the exported graph takes one image (batch 1) per call; :class:`facelib.export.onnx_backend.
OnnxFaceDetector` loops over a list. Two-stage models (AOFD's Faster R-CNN) are not exported
(``NotImplementedError``): its RoI stage needs ``torchvision.ops.roi_align`` on proposals whose count
depends on the data, which the tracing exporter records with a fixed count.
"""
import json
import math
import warnings
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from detectron2.structures import ImageList

from .dense_postprocess import PostprocessSpec, grid_anchors

__all__ = ["export_onnx", "postprocess_spec", "ONNX_METADATA_KEY"]

ONNX_METADATA_KEY = "facelib"


def _check_exportable(model):
    from facelib.modeling.face_retinanet import FaceRetinaNet

    if not isinstance(model, FaceRetinaNet):
        raise NotImplementedError(
            f"ONNX export supports facelib's dense detectors (FaceRetinaNet and its subclasses: FAN, RefineFace, "
            f"MogFace, DF2S2); got {type(model).__name__} (two-stage models such as AOFD are not exported)")


class _DenseNetwork(nn.Module):
    """The traced part: normalised, padded image -> per-level predictions (see module docstring)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        m = self.model
        images = ImageList(image, [tuple(image.shape[-2:])])
        features = m.forward_features(images)
        outputs = m.head_outputs(features)
        logits, deltas = m.inference_predictions(images, features, outputs)
        anchors = m.inference_anchors(images, features, outputs)
        out = []
        for i, (lg, dl, f) in enumerate(zip(logits, deltas, features)):
            out += [lg, dl, torch._shape_as_tensor(f)[-2:]]
            if isinstance(anchors[i], torch.Tensor) and anchors[i].dim() == 3:  # per-image anchors
                out.append(anchors[i])
        return tuple(out)


def postprocess_spec(model) -> PostprocessSpec:
    """The numpy post-processor's settings of ``model``."""
    gen = model.anchor_generator
    b2b = model.box2box_transform
    return PostprocessSpec(
        cell_anchors=[c.detach().cpu().numpy().astype(np.float32) for c in gen.cell_anchors],
        strides=[int(s) for s in gen.strides], offset=float(gen.offset),
        box_weights=tuple(float(w) for w in b2b.weights), scale_clamp=float(b2b.scale_clamp),
        score_thresh=float(model.test_score_thresh), topk_candidates=int(model.test_topk_candidates),
        nms_thresh=float(model.test_nms_thresh), max_detections=int(model.max_detections_per_image),
        num_classes=int(model.num_classes))


def _check_anchor_grid(model, spec, example):
    """The numpy grid anchors equal the model's own for the example's feature sizes (a generator
    that lays anchors out differently cannot use the numpy post-processor)."""
    with torch.no_grad():
        features = model.forward_features(ImageList(example, [tuple(example.shape[-2:])]))
        anchors = model.anchors_for(features)
    for lvl, (a, f) in enumerate(zip(anchors, features)):
        ours = grid_anchors(spec.cell_anchors[lvl], spec.strides[lvl], spec.offset, f.shape[-2:])
        if ours.shape != tuple(a.tensor.shape) or not np.allclose(ours, a.tensor.numpy(), atol=1e-4):
            raise NotImplementedError(f"level {lvl}: the anchor generator's layout differs from "
                                      "detectron2's DefaultAnchorGenerator grid; not exportable")


def export_onnx(model, cfg, path: str, example_size=(320, 320), opset: Optional[int] = 17) -> Dict:
    """Export ``model`` (eval mode, CPU) to ``path``; returns the metadata written (see the module
    docstring). ``example_size``: the (H, W) traced with (dynamic axes make any size work)."""
    _check_exportable(model)
    import onnx

    model = model.eval().cpu()
    div = int(getattr(model.backbone, "size_divisibility", 0) or 1)
    h, w = (int(math.ceil(s / div) * div) for s in example_size)
    example = torch.zeros(1, 3, h, w)
    spec = postprocess_spec(model)
    _check_anchor_grid(model, spec, example)
    net = _DenseNetwork(model).eval()
    with torch.no_grad():
        outs = net(example)
    per_level = len(outs) // len(spec.strides)
    names = []
    for i in range(len(spec.strides)):
        names += [f"logits_{i}", f"deltas_{i}", f"size_{i}"] + ([f"anchors_{i}"] if per_level == 4 else [])
    dynamic = {"image": {2: "height", 3: "width"}}
    dynamic.update({n: {1: f"r_{n.split('_')[1]}"} for n in names if not n.startswith("size")})
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about every Python-side shape computation; the dynamic axes cover them
        # (tests check other image sizes against PyTorch)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (example,), path, input_names=["image"], output_names=names,
                          dynamic_axes=dynamic, opset_version=opset, dynamo=False)
    meta = {"postprocess": spec.to_json(), "per_image_anchors": per_level == 4,
            "pixel_mean": [float(v) for v in model.pixel_mean.view(-1)],
            "pixel_std": [float(v) for v in model.pixel_std.view(-1)],
            "size_divisibility": div, "input_format": cfg.INPUT.FORMAT,
            "meta_architecture": cfg.MODEL.META_ARCHITECTURE, "num_levels": len(spec.strides)}
    proto = onnx.load(path)
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(meta)
    onnx.save(proto, path)
    return meta
