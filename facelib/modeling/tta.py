"""Test-time augmentation for any facelib (detectron2-style) detector: :class:`FaceDetectorWithTTA`.

Like detectron2's ``GeneralizedRCNNWithTTA`` but generic: the wrapped model is only called as a
detectron2 model in eval mode (``model([{"image", "height", "width"}, ...])`` ->
``[{"instances": Instances(pred_boxes, scores, pred_classes)}]`` in ``height`` x ``width``
coordinates), so it works for FaceRetinaNet, its subclasses and R-CNN based detectors alike.

Per image:

1. for each short-side size in ``MIN_SIZES`` (capped by ``MAX_SIZE``, detectron2's
   ``ResizeShortestEdge`` rule; a size <= 0 means "the input image as given"), resize the input
   image (bilinear) and run the model asking for detections in ORIGINAL image coordinates;
2. with ``FLIP``, also run the horizontally flipped image of every size and un-flip the boxes
   (``x1' = W - x2``, ``x2' = W - x1``, W = original width; exact, no "-1");
3. keep from the run of size i only boxes whose size lies in ``SCALE_RANGES[i]``, measured in
   ORIGINAL-image pixels (below);
4. merge all runs by NMS (``MERGE="nms"``, IoU ``NMS_THRESH``, per class) or by box voting
   (``MERGE="vote"``, IoU ``VOTE_THRESH``), keeping ``TEST.DETECTIONS_PER_IMAGE`` boxes.

Scale ranges (the S3FD / DSFD / SRN convention)
-----------------------------------------------
Small faces are found on enlarged images and large faces on shrunk ones, so each test size only
contributes the faces it is good at. The public test scripts filter in original-image pixels:

* S3FD / DSFD ``multi_scale_test`` (``Tencent/FaceDetection-DSFD`` ``widerface_val.py``): on the
  shrunk image (factor 0.5 or 0.75) keep boxes with ``max(w, h) > 30``; on enlarged images
  (factor > 1) keep boxes with ``min(w, h) < 100``; the original and flipped runs keep all.
* SRN (``ChiCheng123/SRN`` ``tools/test.py``): the same 30 / 100 rules, on 0.5x and on 1.5^t x.

Here ``SCALE_RANGES[i] = (lo, hi)`` keeps a box iff ``max(w, h) > lo`` and ``min(w, h) < hi``
(``w``, ``h`` of the box in original pixels, continuous coordinates; the scripts' ``+ 1`` pixel
is not added); ``lo <= 0`` / ``hi <= 0`` disable a bound. S3FD's rule for a shrunk size is
``(30, -1)``, for an enlarged size ``(-1, 100)``, for the original size ``(-1, -1)``.
``SCALE_RANGES = []`` keeps everything at every size.

Box voting (S3FD / DSFD / SRN ``bbox_vote``)
--------------------------------------------
Sort all boxes by score; repeatedly take the top remaining box, collect every remaining box with
IoU >= ``VOTE_THRESH`` with it (itself included) and remove them; the cluster becomes one box
whose coordinates are the score-weighted mean of the cluster's coordinates and whose score is the
cluster's maximum. DSFD / S3FD use IoU 0.3, SRN 0.5. In those scripts a cluster of a single box
is discarded (``if merge_index.shape[0] <= 1: continue``); ``VOTE_DROP_SINGLETONS`` (default
True, as the references) reproduces this. IoU here is detectron2's continuous
``pairwise_iou`` (the scripts add 1 pixel to widths and heights). Voting is done per class.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from detectron2.config import configurable
from detectron2.data.detection_utils import read_image
from detectron2.data.transforms import ResizeShortestEdge
from detectron2.layers import batched_nms
from detectron2.structures import Boxes, Instances, pairwise_iou

from facelib.config import config_defaults, register_config_extension

__all__ = [
    "add_face_tta_config",
    "FaceDetectorWithTTA",
    "box_vote",
    "filter_by_scale_range",
    "hflip_instances",
    "merge_detections",
]

logger = logging.getLogger(__name__)
MERGE_METHODS = ("nms", "vote")


@register_config_extension
def add_face_tta_config(cfg):
    """Add ``TEST.FACE_TTA.*`` to ``cfg`` in place; return ``cfg``. Registered with
    :func:`facelib.config.register_config_extension` (``get_face_cfg()`` applies it); keys that
    already exist are left untouched."""
    _C = config_defaults(cfg.TEST, "FACE_TTA")
    # Use FaceDetectorWithTTA at test time (the trainer wraps the model when True).
    _C.ENABLED = False
    # Short-side sizes of the test pyramid (pixels); <= 0 = the input image as given. FAN and
    # DF2S2 test on several shorter sides in 600..1400; S3FD/DSFD
    # instead use factors of the original (0.5, 1, 1.5, 2, ...) -- approximate them by sizes.
    _C.MIN_SIZES = (600, 800, 1000, 1200, 1400)
    # Longest side cap of every resized image (detectron2 ResizeShortestEdge rule).
    _C.MAX_SIZE = 2000
    # Also run horizontally flipped images (every size), as S3FD / DSFD / SRN "flip_test".
    _C.FLIP = True
    # One (lo, hi) per MIN_SIZES entry, ORIGINAL-image pixels: keep a box iff max(w, h) > lo and
    # min(w, h) < hi; <= 0 disables a bound. [] = keep all. S3FD/DSFD/SRN: shrunk images
    # (30, -1), enlarged images (-1, 100), original (-1, -1). See facelib/modeling/tta.py.
    _C.SCALE_RANGES = []
    # "nms" (detectron2 batched_nms) or "vote" (S3FD/DSFD/SRN bbox_vote, score-weighted mean).
    _C.MERGE = "vote"
    # IoU of the final NMS when MERGE = "nms" (FaceRetinaNet's per-scale NMS: MODEL.RETINANET.NMS_THRESH_TEST).
    _C.NMS_THRESH = 0.4
    # IoU of box voting: DSFD / S3FD widerface_val.py use 0.3, SRN tools/test.py 0.5.
    _C.VOTE_THRESH = 0.3
    # Drop clusters of a single box when voting, as the reference bbox_vote implementations.
    _C.VOTE_DROP_SINGLETONS = True
    # Images per model call.
    _C.BATCH_SIZE = 1
    return cfg


# ---------------------------------------------------------------------- box operations
def hflip_instances(instances: Instances, width: float) -> Instances:
    """Un-flip (or flip) ``pred_boxes`` of detections on a horizontally flipped image of ``width``."""
    out = Instances(instances.image_size, **instances.get_fields())
    b = instances.pred_boxes.tensor
    flipped = torch.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], dim=1)
    out.pred_boxes = Boxes(flipped)
    return out


def filter_by_scale_range(instances: Instances, scale_range: Optional[Sequence[float]]) -> Instances:
    """Keep boxes with ``max(w, h) > lo`` and ``min(w, h) < hi`` (bounds <= 0 are disabled)."""
    if scale_range is None or len(instances) == 0:
        return instances
    lo, hi = float(scale_range[0]), float(scale_range[1])
    b = instances.pred_boxes.tensor
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    keep = torch.ones(len(instances), dtype=torch.bool, device=b.device)
    if lo > 0:
        keep &= torch.maximum(w, h) > lo
    if hi > 0:
        keep &= torch.minimum(w, h) < hi
    return instances[keep]


def box_vote(
    boxes: Tensor, scores: Tensor, iou_thresh: float = 0.3, drop_singletons: bool = True
) -> Tuple[Tensor, Tensor]:
    """Score-weighted box voting of S3FD / DSFD / SRN (``bbox_vote``) for one class.

    Args:
        boxes: (N, 4) XYXY; scores: (N,).
    Returns:
        (M, 4) voted boxes and (M,) scores (cluster maxima), in decreasing score order.
    """
    if boxes.numel() == 0:
        return boxes.reshape(0, 4), scores.reshape(0)
    order = torch.argsort(scores, descending=True, stable=True)
    boxes, scores = boxes[order], scores[order]
    iou = pairwise_iou(Boxes(boxes), Boxes(boxes))
    remaining = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    out_boxes, out_scores = [], []
    for i in range(len(boxes)):
        if not remaining[i]:
            continue
        cluster = remaining & (iou[i] >= iou_thresh)
        cluster[i] = True  # a degenerate (zero-area) box still belongs to its own cluster
        remaining &= ~cluster
        if drop_singletons and int(cluster.sum()) <= 1:
            continue
        w = scores[cluster]
        out_boxes.append((boxes[cluster] * w[:, None]).sum(dim=0) / w.sum())
        out_scores.append(w.max())
    if not out_boxes:
        return boxes.new_zeros((0, 4)), scores.new_zeros((0,))
    return torch.stack(out_boxes), torch.stack(out_scores)


def merge_detections(
    instances: Instances,
    method: str = "nms",
    nms_thresh: float = 0.4,
    vote_thresh: float = 0.3,
    max_detections: int = 750,
    drop_singletons: bool = True,
) -> Instances:
    """Merge the detections of several runs (one ``Instances``, original coordinates), per class."""
    if method not in MERGE_METHODS:
        raise ValueError(f"merge method must be one of {MERGE_METHODS}, got {method!r}")
    boxes = instances.pred_boxes.tensor
    scores = instances.scores
    classes = instances.pred_classes
    if method == "nms":
        keep = batched_nms(boxes, scores, classes, nms_thresh)[:max_detections]
        return instances[keep]
    all_boxes, all_scores, all_classes = [], [], []
    for c in torch.unique(classes).tolist():
        m = classes == c
        b, s = box_vote(boxes[m], scores[m], vote_thresh, drop_singletons)
        all_boxes.append(b)
        all_scores.append(s)
        all_classes.append(torch.full((len(s),), c, dtype=classes.dtype, device=classes.device))
    out = Instances(instances.image_size)
    if all_boxes:
        b, s, c = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_classes)
        order = torch.argsort(s, descending=True, stable=True)[:max_detections]
        out.pred_boxes, out.scores, out.pred_classes = Boxes(b[order]), s[order], c[order]
    else:
        out.pred_boxes = Boxes(boxes.new_zeros((0, 4)))
        out.scores = scores.new_zeros((0,))
        out.pred_classes = classes.new_zeros((0,))
    return out


# ---------------------------------------------------------------------- the wrapper
class FaceDetectorWithTTA(nn.Module):
    """Multi-scale + flip test-time augmentation around any detectron2-style face detector.

    Its ``forward`` has the inference interface of the wrapped model: a list of dicts with
    ``image`` (C, H, W tensor) and optionally ``height`` / ``width`` (the original size; default:
    the image's) and ``file_name`` (read when ``image`` is not at the original size: every scale
    is resized from the original pixels, :meth:`original_image`), returning
    ``[{"instances": Instances}]`` in original coordinates.
    """

    @configurable
    def __init__(
        self,
        model: nn.Module,
        *,
        min_sizes: Sequence[int] = (0,),
        max_size: int = 2000,
        flip: bool = True,
        scale_ranges: Sequence[Sequence[float]] = (),
        merge: str = "vote",
        nms_thresh: float = 0.4,
        vote_thresh: float = 0.3,
        vote_drop_singletons: bool = True,
        max_detections_per_image: int = 750,
        batch_size: int = 1,
    ):
        super().__init__()
        if isinstance(model, DistributedDataParallel):
            model = model.module
        if merge not in MERGE_METHODS:
            raise ValueError(f"TEST.FACE_TTA.MERGE must be one of {MERGE_METHODS}, got {merge!r}")
        min_sizes = [int(s) for s in min_sizes]
        if not min_sizes:
            raise ValueError("TEST.FACE_TTA.MIN_SIZES is empty")
        scale_ranges = [tuple(float(v) for v in r) for r in scale_ranges]
        if scale_ranges and len(scale_ranges) != len(min_sizes):
            raise ValueError(
                f"TEST.FACE_TTA.SCALE_RANGES has {len(scale_ranges)} entries for "
                f"{len(min_sizes)} MIN_SIZES"
            )
        if any(len(r) != 2 for r in scale_ranges):
            raise ValueError(f"each SCALE_RANGES entry must be (lo, hi), got {scale_ranges}")
        self.model = model
        self.min_sizes = min_sizes
        self.max_size = int(max_size)
        self.flip = bool(flip)
        self.scale_ranges = scale_ranges or [None] * len(min_sizes)
        self.merge = merge
        self.nms_thresh = float(nms_thresh)
        self.vote_thresh = float(vote_thresh)
        self.vote_drop_singletons = bool(vote_drop_singletons)
        self.max_detections_per_image = int(max_detections_per_image)
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def from_config(cls, cfg, model):
        t = cfg.TEST.FACE_TTA
        return {
            "model": model,
            "min_sizes": t.MIN_SIZES,
            "max_size": t.MAX_SIZE,
            "flip": t.FLIP,
            "scale_ranges": t.SCALE_RANGES,
            "merge": t.MERGE,
            "nms_thresh": t.NMS_THRESH,
            "vote_thresh": t.VOTE_THRESH,
            "vote_drop_singletons": t.VOTE_DROP_SINGLETONS,
            "max_detections_per_image": cfg.TEST.DETECTIONS_PER_IMAGE,
            "batch_size": t.BATCH_SIZE,
        }

    # -- augmentation
    def resized_shape(self, height: int, width: int, min_size: int) -> Tuple[int, int]:
        """Input-image shape for one pyramid level (ResizeShortestEdge rule; <= 0: unchanged)."""
        if min_size <= 0:
            return height, width
        return ResizeShortestEdge.get_output_shape(height, width, min_size, self.max_size)

    def augment(self, image: Tensor, height: int, width: int) -> List[Dict]:
        """The augmented model inputs of one image, each with ``_tta`` = (size index, flipped)."""
        h, w = image.shape[-2:]
        out = []
        for i, s in enumerate(self.min_sizes):
            nh, nw = self.resized_shape(h, w, s)
            if (nh, nw) == (h, w):
                img = image
            else:
                img = F.interpolate(
                    image[None].float(), size=(nh, nw), mode="bilinear", align_corners=False
                )[0]
            variants = [(img, False)] + ([(img.flip(-1), True)] if self.flip else [])
            for im, flipped in variants:
                out.append({"image": im, "height": height, "width": width, "_tta": (i, flipped)})
        return out

    def _run(self, inputs: List[Dict]) -> List[Instances]:
        outputs = []
        for k in range(0, len(inputs), self.batch_size):
            chunk = [{key: v for key, v in d.items() if key != "_tta"} for d in inputs[k : k + self.batch_size]]
            outputs.extend(o["instances"] for o in self.model(chunk))
        return outputs

    def detections_of_run(self, instances: Instances, tta: Tuple[int, bool], width: int) -> Instances:
        """One run's detections in original coordinates, un-flipped and scale-range filtered."""
        size_idx, flipped = tta
        if flipped:
            instances = hflip_instances(instances, width)
        return filter_by_scale_range(instances, self.scale_ranges[size_idx])

    def original_image(self, input_dict: Dict) -> Tensor:
        """The input image at its original ``height`` x ``width``: ``image`` itself when it has that
        size, else re-read from ``file_name`` (every scale is built from the original pixels, not by
        resampling an already-resized test image). A resized image without ``file_name`` is an error."""
        image = input_dict["image"]
        height = int(input_dict.get("height", image.shape[-2]))
        width = int(input_dict.get("width", image.shape[-1]))
        if tuple(image.shape[-2:]) == (height, width):
            return image
        if "file_name" not in input_dict:
            raise ValueError(
                f"test-time augmentation needs the original {height}x{width} image, got a "
                f"{tuple(image.shape[-2:])} one and no file_name to read it from "
                "(use a test mapper that keeps the original size: INPUT.FACE_AUG.TEST 'none')"
            )
        fmt = getattr(self.model, "input_format", "BGR")
        pixels = read_image(input_dict["file_name"], format=fmt)
        if pixels.shape[:2] != (height, width):
            raise ValueError(
                f"{input_dict['file_name']} is {pixels.shape[:2]}, its record says {(height, width)}"
            )
        return torch.as_tensor(np.ascontiguousarray(pixels.transpose(2, 0, 1))).to(image.device)

    @torch.no_grad()
    def inference_single(self, input_dict: Dict) -> Instances:
        image = self.original_image(input_dict)
        height, width = int(image.shape[-2]), int(image.shape[-1])
        inputs = self.augment(image, height, width)
        outputs = self._run(inputs)
        dets = [self.detections_of_run(o, d["_tta"], width) for o, d in zip(outputs, inputs)]
        dets = [Instances((height, width), **d.get_fields()) for d in dets]
        merged = merge_detections(
            Instances.cat(dets),
            self.merge,
            self.nms_thresh,
            self.vote_thresh,
            self.max_detections_per_image,
            self.vote_drop_singletons,
        )
        merged.pred_boxes.clip((height, width))
        return merged

    def forward(self, batched_inputs: List[Dict]):
        was_training = self.model.training
        self.model.eval()
        try:
            return [{"instances": self.inference_single(x)} for x in batched_inputs]
        finally:
            self.model.train(was_training)
