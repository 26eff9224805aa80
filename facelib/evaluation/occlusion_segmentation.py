"""``OcclusionSegmentationEvaluator``: how well a detector's image-level occlusion map (AOFD's
segmentation branch, Sec. 3.4) finds the occluded face pixels of datasets with occlusion masks
(SFS format: SFS, the embedded synthetic set).

For each image with an ``occlusion_mask_file`` the ground truth (any non-zero pixel = occluded) is
compared with ``outputs[i]["occlusion_mask"]`` (H x W occluded-class probability in the original
frame) thresholded at ``threshold``, over the pixels inside the image's non-ignored GT face boxes
(the region the branch is trained on, Sec. 3.4; ``enlarge`` scales the boxes about their centres).
Counts are summed over the dataset:

* ``IoU_occluded``: |pred & gt| / |pred | gt| over those pixels (percent);
* ``pixel_acc``: fraction of those pixels classified correctly (percent);
* ``recall_occluded`` / ``precision_occluded`` (percent), ``num_images``;
* threshold-free: ``AP_occluded`` (percent), the average precision of the occluded pixels ranked by
  probability (probabilities binned in 1/1000 steps), and ``mean_prob_occluded`` /
  ``mean_prob_clear``, the mean probability on occluded / not occluded pixels (a branch can rank
  the pixels well while staying below ``threshold`` everywhere).

A model without the branch (no ``occlusion_mask`` in its outputs) gets no numbers and a WARNING.
"""
import copy
import logging

import numpy as np
from detectron2.data import DatasetCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.structures import BoxMode
from detectron2.utils import comm

__all__ = ["OcclusionSegmentationEvaluator", "face_region_mask"]


def face_region_mask(annotations, height: int, width: int, enlarge: float = 1.0) -> np.ndarray:
    """Boolean (H, W): pixels whose centre lies inside a non-ignored face box scaled ``enlarge``
    times about its centre (pixel i covers [i, i + 1))."""
    region = np.zeros((height, width), dtype=bool)
    for a in annotations:
        if a.get("ignore", False):
            continue
        x1, y1, x2, y2 = BoxMode.convert(list(a["bbox"]), a["bbox_mode"], BoxMode.XYXY_ABS)
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * enlarge / 2, (y2 - y1) * enlarge / 2
        xa, xb = int(np.ceil(cx - hw - 0.5)), int(np.ceil(cx + hw - 0.5))
        ya, yb = int(np.ceil(cy - hh - 0.5)), int(np.ceil(cy + hh - 0.5))
        region[max(ya, 0):max(yb, 0), max(xa, 0):max(xb, 0)] = True
    return region


def _binned_ap(hist: np.ndarray) -> float:
    """Average precision of the positives (row 1) against the negatives (row 0) of a
    (2, bins) histogram of scores, thresholds at the bin edges from high to low: sum over
    thresholds of precision x recall increment (NaN without positives)."""
    pos, neg = hist[1][::-1].cumsum(), hist[0][::-1].cumsum()
    if pos[-1] == 0:
        return float("nan")
    recall = pos / pos[-1]
    precision = pos / np.maximum(pos + neg, 1)
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


class OcclusionSegmentationEvaluator(DatasetEvaluator):
    BINS = 1000  # probability bins of the threshold-free AP

    def __init__(self, dataset_name: str, threshold: float = 0.5, enlarge: float = 1.0,
                 distributed: bool = True):
        self._dataset_name = dataset_name
        self._threshold = threshold
        self._enlarge = enlarge
        self._distributed = distributed
        self._logger = logging.getLogger(__name__)
        self._dicts = None
        self.reset()

    def reset(self):
        self._counts = np.zeros(4, dtype=np.int64)  # tp, fp, fn, tn
        self._hist = np.zeros((2, self.BINS), dtype=np.int64)  # [clear, occluded] per prob bin
        self._prob_sums = np.zeros(2, dtype=np.float64)
        self._images = 0
        self._without_map = 0

    def _dataset_dicts(self):
        if self._dicts is None:
            self._dicts = {d["image_id"]: d for d in DatasetCatalog.get(self._dataset_name)}
        return self._dicts

    def process(self, inputs, outputs):
        from facelib.data.mapper import read_occlusion_mask

        for inp, out in zip(inputs, outputs):
            d = self._dataset_dicts().get(inp["image_id"])
            if d is None or not d.get("occlusion_mask_file"):
                continue
            if "occlusion_mask" not in out:
                self._without_map += 1
                continue
            gt = read_occlusion_mask(d["occlusion_mask_file"]) > 0
            prob = out["occlusion_mask"].detach().to("cpu").float().numpy()
            pred = prob >= self._threshold
            if pred.shape != gt.shape:
                raise ValueError(f"{self._dataset_name} image {inp['image_id']}: occlusion_mask "
                                 f"{pred.shape} vs ground-truth mask {gt.shape}")
            region = face_region_mask(d.get("annotations", []), *gt.shape, enlarge=self._enlarge)
            p, g, q = pred[region], gt[region], prob[region]
            self._counts += [np.sum(p & g), np.sum(p & ~g), np.sum(~p & g), np.sum(~p & ~g)]
            bins = np.clip((q * self.BINS).astype(np.int64), 0, self.BINS - 1)
            for cls in (0, 1):
                sel = g == bool(cls)
                self._hist[cls] += np.bincount(bins[sel], minlength=self.BINS)
                self._prob_sums[cls] += float(q[sel].sum())
            self._images += 1

    def evaluate(self):
        state = (self._counts, self._images, self._without_map, self._hist, self._prob_sums)
        if self._distributed:
            comm.synchronize()
            parts = comm.gather(state, dst=0)
            if not comm.is_main_process():
                return {}
        else:
            parts = [state]
        counts = sum(p[0] for p in parts)
        images = sum(p[1] for p in parts)
        without = sum(p[2] for p in parts)
        hist = sum(p[3] for p in parts)
        prob_sums = sum(p[4] for p in parts)
        if without:
            self._logger.warning("%s: %d image(s) with a ground-truth occlusion mask got no "
                                 "'occlusion_mask' output (the model has no segmentation branch)",
                                 self._dataset_name, without)
        if not images:
            return {}
        tp, fp, fn, tn = (int(c) for c in counts)
        pct = lambda a, b: 100.0 * a / b if b else float("nan")  # noqa: E731
        res = {
            "IoU_occluded": pct(tp, tp + fp + fn),
            "pixel_acc": pct(tp + tn, tp + fp + fn + tn),
            "recall_occluded": pct(tp, tp + fn),
            "precision_occluded": pct(tp, tp + fp),
            "AP_occluded": 100.0 * _binned_ap(hist),
            "mean_prob_occluded": prob_sums[1] / max(hist[1].sum(), 1),
            "mean_prob_clear": prob_sums[0] / max(hist[0].sum(), 1),
            "num_images": images,
        }
        self._logger.info("Occlusion segmentation on %s (%d images, face boxes x%.2f): %s",
                          self._dataset_name, images, self._enlarge,
                          ", ".join(f"{k} {v:.2f}" for k, v in res.items() if k != "num_images"))
        return copy.deepcopy({"occlusion_seg": res})
