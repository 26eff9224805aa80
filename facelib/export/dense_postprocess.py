"""Numpy post-processing of an exported dense detector (no torch): anchors, decoding, score
threshold, per-level top-k, NMS, rescaling, the same rules as :mod:`facelib.modeling.dense_inference`
(detectron2's ``RetinaNet.inference_single_image`` + ``detector_postprocess``) for one image.

The exported graph returns per level ``logits`` (1, R_l, K), ``deltas`` (1, R_l, 4) and the
feature map size (2,); shared anchors are the generator's cell anchors shifted over that grid
(detectron2's ``DefaultAnchorGenerator._grid_anchors``), per-image anchors (e.g. RefineFace's
refined ones) come out of the graph as ``anchors`` (1, R_l, 4).
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["PostprocessSpec", "grid_anchors", "decode_deltas", "nms", "postprocess_image"]


@dataclass
class PostprocessSpec:
    """What the numpy post-processor needs from the model's config, stored in the ONNX file's
    metadata (:func:`facelib.export.onnx_export.export_onnx`)."""

    cell_anchors: List[np.ndarray]  # per level (A, 4) XYXY, centred on 0
    strides: List[int]
    offset: float
    box_weights: Tuple[float, float, float, float]
    scale_clamp: float
    score_thresh: float
    topk_candidates: int
    nms_thresh: float
    max_detections: int
    num_classes: int

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["cell_anchors"] = [a.tolist() for a in self.cell_anchors]
        d["box_weights"] = list(self.box_weights)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "PostprocessSpec":
        d = dict(d)
        d["cell_anchors"] = [np.asarray(a, dtype=np.float32).reshape(-1, 4) for a in d["cell_anchors"]]
        d["box_weights"] = tuple(float(w) for w in d["box_weights"])
        return cls(**d)


def grid_anchors(cell: np.ndarray, stride: int, offset: float, size: Sequence[int]) -> np.ndarray:
    """(H W A, 4) anchors of one level: ``cell`` shifted to every grid point, row-major, as
    detectron2's ``DefaultAnchorGenerator`` (float32)."""
    h, w = int(size[0]), int(size[1])
    xs = np.arange(offset * stride, w * stride, step=stride, dtype=np.float32)[:w]
    ys = np.arange(offset * stride, h * stride, step=stride, dtype=np.float32)[:h]
    sy, sx = np.meshgrid(ys, xs, indexing="ij")
    sx, sy = sx.reshape(-1), sy.reshape(-1)
    shifts = np.stack([sx, sy, sx, sy], axis=1)
    return (shifts[:, None, :] + cell[None, :, :].astype(np.float32)).reshape(-1, 4)


def decode_deltas(deltas: np.ndarray, boxes: np.ndarray, weights, scale_clamp: float) -> np.ndarray:
    """detectron2's ``Box2BoxTransform.apply_deltas`` in float32."""
    deltas = deltas.astype(np.float32)
    boxes = boxes.astype(np.float32)
    wh = boxes[:, 2:] - boxes[:, :2]
    ctr = boxes[:, :2] + np.float32(0.5) * wh
    d = deltas / np.asarray(weights, dtype=np.float32)
    pred_ctr = d[:, :2] * wh + ctr
    pred_wh = np.exp(np.minimum(d[:, 2:], np.float32(scale_clamp))) * wh
    half = np.float32(0.5) * pred_wh
    return np.concatenate([pred_ctr - half, pred_ctr + half], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Greedy NMS (torchvision's rule: drop boxes whose IoU with a kept one is > ``thresh``);
    indices of the kept boxes by descending score."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float32) for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou > thresh)]
    return np.asarray(keep, dtype=np.int64)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float32)))


def postprocess_image(spec: PostprocessSpec, logits: List[np.ndarray], deltas: List[np.ndarray],
                      sizes: List[Sequence[int]], input_size: Tuple[int, int], output_size: Tuple[int, int],
                      anchors: Optional[List[np.ndarray]] = None):
    """``(boxes (D, 4) XYXY in output_size pixels, scores (D,), classes (D,))`` of one image from
    per-level ``logits`` (R_l, K), ``deltas`` (R_l, 4), feature sizes, the (h, w) of the image as
    it entered the network (before padding) and the requested output (height, width)."""
    k = spec.num_classes
    all_boxes, all_scores, all_classes = [], [], []
    for lvl, (lg, dl, size) in enumerate(zip(logits, deltas, sizes)):
        scores = _sigmoid(lg).reshape(-1)
        keep = np.nonzero(scores > spec.score_thresh)[0]
        if keep.size > spec.topk_candidates:
            top = np.argsort(-scores[keep], kind="stable")[: spec.topk_candidates]
            keep = np.sort(keep[top])
        anchor_idx = keep // k
        a = anchors[lvl] if anchors is not None else grid_anchors(spec.cell_anchors[lvl], spec.strides[lvl],
                                                                   spec.offset, size)
        all_boxes.append(decode_deltas(dl[anchor_idx], a[anchor_idx], spec.box_weights, spec.scale_clamp))
        all_scores.append(scores[keep])
        all_classes.append(keep % k)
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0, np.float32)
    classes = np.concatenate(all_classes) if all_classes else np.zeros(0, np.int64)
    kept = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        kept.append(idx[nms(boxes[idx], scores[idx], spec.nms_thresh)])
    keep = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    keep = keep[np.argsort(-scores[keep], kind="stable")][: spec.max_detections]
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    (ih, iw), (oh, ow) = input_size, output_size
    if (ih, iw) != (oh, ow):
        boxes = boxes * np.asarray([ow / iw, oh / ih, ow / iw, oh / ih], dtype=np.float32)
    boxes = np.minimum(np.maximum(boxes, 0), np.asarray([ow, oh, ow, oh], dtype=np.float32))
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[nonempty], scores[nonempty], classes[nonempty].astype(np.int64)
