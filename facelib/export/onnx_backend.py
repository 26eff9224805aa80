"""Running an exported dense detector with onnxruntime on the CPU: :class:`OnnxDenseRunner`.

``run(image_chw, output_size)`` takes the resized image as facelib's test resize produces it (C x
H x W, ``INPUT.FORMAT`` order, 0..255), normalises and pads it as the model's
``preprocess_image`` does, runs the graph and post-processes in numpy
(:func:`facelib.export.dense_postprocess.postprocess_image`). ``FaceDetector(...,
backend="onnxruntime", onnx_path=...)`` uses it.
"""
import json
import os
from typing import Optional, Tuple

import numpy as np

from .dense_postprocess import PostprocessSpec, postprocess_image

__all__ = ["OnnxDenseRunner"]


class OnnxDenseRunner:
    def __init__(self, path: str, num_threads: Optional[int] = None, score_thresh: Optional[float] = None):
        import onnxruntime as ort

        from .onnx_export import ONNX_METADATA_KEY

        if not os.path.isfile(path):
            raise FileNotFoundError(f"ONNX model not found: {path} (write one with tools/export_onnx.py)")
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = int(num_threads)
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
        if meta is None:
            raise ValueError(f"{path}: no '{ONNX_METADATA_KEY}' metadata; export it with tools/export_onnx.py")
        self.meta = json.loads(meta)
        self.spec = PostprocessSpec.from_json(self.meta["postprocess"])
        if score_thresh is not None:
            self.spec.score_thresh = float(score_thresh)
        self.mean = np.asarray(self.meta["pixel_mean"], dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(self.meta["pixel_std"], dtype=np.float32).reshape(-1, 1, 1)
        self.div = int(self.meta["size_divisibility"])
        self.per_image_anchors = bool(self.meta["per_image_anchors"])
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, image_chw: np.ndarray, output_size: Tuple[int, int]):
        """``(boxes (D, 4) XYXY in output_size pixels, scores (D,), classes (D,))``."""
        c, h, w = image_chw.shape
        x = (image_chw.astype(np.float32) - self.mean) / self.std
        ph, pw = -(-h // self.div) * self.div, -(-w // self.div) * self.div
        if (ph, pw) != (h, w):
            x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)))
        outs = dict(zip(self.output_names, self.session.run(None, {"image": x[None]})))
        n = self.meta["num_levels"]
        logits = [outs[f"logits_{i}"][0] for i in range(n)]
        deltas = [outs[f"deltas_{i}"][0] for i in range(n)]
        sizes = [outs[f"size_{i}"].tolist() for i in range(n)]
        anchors = [outs[f"anchors_{i}"][0] for i in range(n)] if self.per_image_anchors else None
        return postprocess_image(self.spec, logits, deltas, sizes, (h, w), output_size, anchors)
