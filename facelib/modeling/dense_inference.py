"""Batched inference of dense face detectors: decode, score threshold, top-k, NMS and rescaling
for the whole batch in tensor ops.

Per image and level, the (anchor, class) pairs among the level's ``topk_candidates`` best scores
and above ``score_thresh`` are kept (the score threshold over all levels at once, ``topk`` only
where a level has more candidates than that), and only the kept ones decoded, in one call. One
``batched_nms`` over the indices ``image * K + class`` replaces a per-image loop; then each image
keeps its ``max_detections`` best boxes, which are rescaled to the requested
output size, clipped, and emptied boxes removed, as detectron2's ``detector_postprocess`` does.
This gives the detections of detectron2's per-image ``RetinaNet.inference_single_image`` +
``detector_postprocess`` (up to the order of exact score ties).
"""
import itertools
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

from detectron2.layers import batched_nms, nms
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.structures import Boxes, Instances

from .anchor_sets import is_per_image, level_tensors

__all__ = ["FlatDetections", "decode_batched", "apply_box_deltas", "select_per_image", "rescale_and_split"]


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

    Keeps, per image and level, the (anchor, class) pairs that are among the level's
    ``topk_candidates`` best scores and above ``score_thresh`` (detectron2's per-level rule). The
    threshold is applied to all levels at once; a level runs ``topk`` only when some image has more
    than ``topk_candidates`` scores above the threshold there (otherwise all of them are in its
    top-k), and the kept pairs of all levels are decoded in one ``apply_deltas``.

    Args:
        anchors: shared (list of ``Boxes``) or per-image ((N, R_l, 4) tensors) anchors per level.
        pred_logits / pred_deltas: per level (N, R_l, K) / (N, R_l, 4).
    Returns:
        ``FlatDetections`` ordered by image, then level, then anchor and class.
    """
    per_image = is_per_image(anchors)
    anchor_levels = level_tensors(anchors)
    n, _, k = pred_logits[0].shape
    scores = torch.cat(pred_logits, dim=1).sigmoid_().reshape(n, -1)  # (N, R*K)
    keep = scores > score_thresh
    topk = int(topk_candidates)
    if int(keep.sum(1).max()) > topk:  # some level of some image may have more than topk
        ends = list(itertools.accumulate(int(l.shape[1]) * k for l in pred_logits))
        for lo, hi in zip([0] + ends[:-1], ends):
            level_keep = keep[:, lo:hi]
            if int(level_keep.sum(1).max()) > topk:
                in_topk = torch.zeros_like(level_keep)
                in_topk.scatter_(1, scores[:, lo:hi].topk(topk, dim=1).indices, True)
                level_keep &= in_topk
    img_idx, flat_idx = keep.nonzero(as_tuple=True)
    anchor_idx = flat_idx // k if k > 1 else flat_idx
    deltas = torch.cat(pred_deltas, dim=1)[img_idx, anchor_idx]
    if per_image:
        boxes = torch.cat(anchor_levels, dim=1)[img_idx, anchor_idx]
    else:
        boxes = torch.cat(anchor_levels, dim=0)[anchor_idx]
    boxes = apply_box_deltas(box2box_transform, deltas, boxes)
    classes = flat_idx % k if k > 1 else torch.zeros_like(flat_idx)
    return FlatDetections(boxes, scores[img_idx, flat_idx], classes, img_idx)


def apply_box_deltas(box2box_transform, deltas: Tensor, boxes: Tensor) -> Tensor:
    """``box2box_transform.apply_deltas(deltas, boxes)`` for (R, 4) deltas; for detectron2's
    ``Box2BoxTransform`` the same arithmetic on (x, y) pairs (half the tensor ops, the same values
    to the bit), for any other transform its own ``apply_deltas``."""
    if type(box2box_transform) is not Box2BoxTransform or deltas.shape[1] != 4:
        return box2box_transform.apply_deltas(deltas, boxes)
    deltas = deltas.float()  # fp32 decoding, as Box2BoxTransform
    boxes = boxes.to(deltas.dtype)
    wh = boxes[:, 2:] - boxes[:, :2]
    ctr = boxes[:, :2] + 0.5 * wh
    d = deltas / deltas.new_tensor(box2box_transform.weights)
    pred_ctr = d[:, :2] * wh + ctr
    pred_wh = torch.exp(d[:, 2:].clamp(max=box2box_transform.scale_clamp)) * wh
    half = 0.5 * pred_wh
    return torch.cat([pred_ctr - half, pred_ctr + half], dim=1)


def select_per_image(
    dets: FlatDetections, num_images: int, num_classes: int, nms_thresh: float, max_detections: int
) -> FlatDetections:
    """Per-image, per-class NMS (one ``batched_nms``), then the ``max_detections`` best of each
    image; the result is grouped by image, scores descending within an image."""
    if num_images == 1 and num_classes == 1:  # one group: plain NMS, already in score order
        return dets[nms(dets.boxes.float(), dets.scores, nms_thresh)[:max_detections]]
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
    boxes = dets.boxes
    if len(image_sizes) == 1:  # one image: scalars, no per-detection gathers
        ((ih, iw),), ((oh, ow),) = image_sizes, output_sizes
        if (ih, iw) != (oh, ow):
            boxes = boxes * boxes.new_tensor([ow / iw, oh / ih, ow / iw, oh / ih])
        limits = boxes.new_tensor([ow, oh, ow, oh])
    else:
        scale = boxes.new_tensor(
            [[ow / iw, oh / ih, ow / iw, oh / ih] for (ih, iw), (oh, ow) in zip(image_sizes, output_sizes)]
        )
        boxes = boxes * scale[dets.image_idx]
        limits = boxes.new_tensor([[ow, oh, ow, oh] for oh, ow in output_sizes])[dets.image_idx]
    boxes = torch.minimum(boxes.clamp(min=0), limits)
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    scores, classes, image_idx = dets.scores, dets.classes, dets.image_idx
    if not bool(nonempty.all()):
        boxes, scores, classes, image_idx = boxes[nonempty], scores[nonempty], classes[nonempty], image_idx[nonempty]
    if len(image_sizes) == 1:
        parts = [(boxes, scores, classes)]
    else:
        counts = torch.bincount(image_idx, minlength=len(image_sizes)).tolist()
        parts = zip(boxes.split(counts), scores.split(counts), classes.split(counts))
    return [
        Instances(tuple(size), pred_boxes=Boxes(b), scores=s, pred_classes=c)
        for size, (b, s, c) in zip(output_sizes, parts)
    ]
