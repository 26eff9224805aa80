"""Batched inference of dense face detectors: decode, score threshold, top-k, NMS and rescaling
for the whole batch in tensor ops.

Per level, the top ``topk_candidates`` (anchor, class) scores of every image are taken at once
(``Tensor.topk`` on (N, R_l * K)), those not above ``score_thresh`` dropped, and only the kept ones
decoded. One ``batched_nms`` over the indices ``image * K + class`` replaces a per-image loop;
then each image keeps its ``max_detections`` best boxes, which are rescaled to the requested
output size, clipped, and emptied boxes removed, as detectron2's ``detector_postprocess`` does.
This gives the detections of detectron2's per-image ``RetinaNet.inference_single_image`` +
``detector_postprocess`` (up to the order of exact score ties).
"""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

from detectron2.layers import batched_nms
from detectron2.structures import Boxes, Instances

from .anchor_sets import is_per_image, level_tensors

__all__ = ["FlatDetections", "decode_batched", "select_per_image", "rescale_and_split"]


class FlatDetections:
    """Detections of a whole batch as flat tensors: ``boxes`` (D, 4), ``scores`` (D,),
    ``classes`` (D,) int64, ``image_idx`` (D,) int64."""

    __slots__ = ("boxes", "scores", "classes", "image_idx")

    def __init__(self, boxes: Tensor, scores: Tensor, classes: Tensor, image_idx: Tensor):
        self.boxes, self.scores, self.classes, self.image_idx = boxes, scores, classes, image_idx

    def __getitem__(self, idx) -> "FlatDetections":
        return FlatDetections(self.boxes[idx], self.scores[idx], self.classes[idx], self.image_idx[idx])

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def decode_batched(
    anchors,
    pred_logits: List[Tensor],
    pred_deltas: List[Tensor],
    box2box_transform,
    score_thresh: float,
    topk_candidates: int,
) -> FlatDetections:
    """Score threshold + per-level top-k + decoding of the whole batch.

    Args:
        anchors: shared (list of ``Boxes``) or per-image ((N, R_l, 4) tensors) anchors per level.
        pred_logits / pred_deltas: per level (N, R_l, K) / (N, R_l, 4).
    """
    per_image = is_per_image(anchors)
    boxes, scores, classes, images = [], [], [], []
    for anchors_l, logits_l, deltas_l in zip(level_tensors(anchors), pred_logits, pred_deltas):
        n, r, k = logits_l.shape
        flat = logits_l.reshape(n, r * k)
        num_topk = min(int(topk_candidates), r * k)
        top_logits, top_idx = flat.topk(num_topk, dim=1)  # sigmoid is monotonic: rank the logits
        top_scores = top_logits.sigmoid()
        img_idx, j = (top_scores > score_thresh).nonzero(as_tuple=True)
        idx = top_idx[img_idx, j]
        anchor_idx = idx // k
        a = anchors_l[img_idx, anchor_idx] if per_image else anchors_l[anchor_idx]
        boxes.append(box2box_transform.apply_deltas(deltas_l[img_idx, anchor_idx], a))
        scores.append(top_scores[img_idx, j])
        classes.append(idx % k)
        images.append(img_idx)
    return FlatDetections(torch.cat(boxes), torch.cat(scores), torch.cat(classes), torch.cat(images))


def select_per_image(
    dets: FlatDetections, num_images: int, num_classes: int, nms_thresh: float, max_detections: int
) -> FlatDetections:
    """Per-image, per-class NMS (one ``batched_nms``), then the ``max_detections`` best of each
    image; the result is grouped by image, scores descending within an image."""
    keep = batched_nms(dets.boxes, dets.scores, dets.image_idx * num_classes + dets.classes, nms_thresh)
    # keep is ordered by score; group by image without losing that order
    order = torch.sort(dets.image_idx[keep], stable=True).indices
    keep = keep[order]
    img = dets.image_idx[keep]
    counts = torch.bincount(img, minlength=num_images)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(keep), device=keep.device) - starts[img]
    return dets[keep[rank < max_detections]]


def rescale_and_split(
    dets: FlatDetections,
    image_sizes: Sequence[Tuple[int, int]],
    output_sizes: Sequence[Tuple[int, int]],
) -> List[Instances]:
    """Boxes from each input image's (h, w) to its output (height, width), clipped, empty boxes
    dropped (detectron2's ``detector_postprocess`` for the whole batch); one ``Instances`` per
    image with ``pred_boxes``, ``scores``, ``pred_classes``."""
    device = dets.boxes.device
    scale = torch.tensor(
        [[ow / iw, oh / ih, ow / iw, oh / ih] for (ih, iw), (oh, ow) in zip(image_sizes, output_sizes)],
        dtype=dets.boxes.dtype, device=device,
    )
    limits = torch.tensor([[ow, oh, ow, oh] for oh, ow in output_sizes], dtype=dets.boxes.dtype, device=device)
    boxes = dets.boxes * scale[dets.image_idx]
    boxes = torch.minimum(boxes.clamp(min=0), limits[dets.image_idx])
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, classes = boxes[nonempty], dets.scores[nonempty], dets.classes[nonempty]
    counts = torch.bincount(dets.image_idx[nonempty], minlength=len(image_sizes)).tolist()
    out = []
    for size, b, s, c in zip(output_sizes, boxes.split(counts), scores.split(counts), classes.split(counts)):
        inst = Instances(tuple(size))
        inst.pred_boxes = Boxes(b)
        inst.scores = s
        inst.pred_classes = c
        out.append(inst)
    return out
