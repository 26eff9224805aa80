"""``FaceDatasetMapper``: facelib's dataset dict -> model input (modelled on detectron2's
``DatasetMapper``; the dict layout is ``docs/data_format.md``).

1. read the image (``detection_utils.read_image`` with ``INPUT.FORMAT``; an unreadable image raises
   ``OSError`` naming its path) and check its size against ``height`` / ``width``;
2. with ``INPUT.FACE_AUG.LOAD_OCCLUSION_MASK``, read ``occlusion_mask_file`` (any non-zero value =
   occluded -> 1);
3. apply the augmentations (:func:`facelib.data.transforms.build_face_augmentation`) to the image,
   the boxes (XYXY) and the mask together, through a :class:`~facelib.data.transforms.crop.
   FaceAugInput` (boxes clipped to the image after every transform);
4. remove the faces whose box left the image / crop (zero width or height) or became smaller than
   ``INPUT.FACE_AUG.MIN_FACE_SIZE`` on either side, and count them (never silently).

Output: ``image`` (CHW uint8 tensor), ``height`` / ``width`` (original size), ``image_id``,
``file_name``, ``instances`` (``gt_boxes``, ``gt_classes``, ``gt_ignore`` bool, ``gt_masked`` bool,
``gt_occluded`` bool when every face carries ``occluded``), ``occlusion_mask`` (HxW uint8 tensor,
when loaded), ``num_dropped_faces`` / ``num_annotated_faces`` (int, this image) and
``dropped_face_reasons`` (``{reason: n}`` of this image's drops). In test mode the annotations are dropped
unless ``keep_annotations_in_test`` (then ``instances`` is built the same way).

Counting: ``mapper.last_dropped`` (this call, per reason), ``mapper.dropped_counts`` (running
totals per reason: ``"outside"`` = removed by a crop or left the image, ``"too_small"``),
``mapper.total_dropped`` and ``mapper.num_faces_seen``; each call with drops logs at DEBUG level.
With a multi-process data loader each worker holds its own copy of the mapper, so callers that
need the global total should sum ``num_dropped_faces`` of the mapped dicts.
"""
import collections
import copy
import logging
from typing import Dict, List, Optional, Union

import numpy as np
import torch

from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import Boxes, BoxMode, Instances

from .transforms.build import build_face_augmentation
from .transforms.crop import FaceAugInput, clip_boxes

__all__ = ["FaceDatasetMapper", "read_occlusion_mask"]

logger = logging.getLogger(__name__)


def read_occlusion_mask(path: str) -> np.ndarray:
    """HxW uint8 mask, 1 = occluded (any non-zero value of the file), 0 = not occluded."""
    try:
        mask = utils.read_image(path, format=None)
    except Exception as e:  # noqa: BLE001 - re-raised with the path
        raise OSError(f"Cannot read occlusion mask '{path}': {e}") from e
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    return (mask > 0).astype(np.uint8)


def _writable(arr: np.ndarray) -> np.ndarray:
    """Contiguous and writable (PIL / slicing can hand back read-only views)."""
    arr = np.ascontiguousarray(arr)
    return arr if arr.flags.writeable else arr.copy()


class FaceDatasetMapper:
    """See the module docstring."""

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: List[Union[T.Augmentation, T.Transform]],
        image_format: str,
        min_face_size: float = 1.0,
        load_occlusion_mask: bool = False,
        keep_annotations_in_test: bool = False,
    ):
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.min_face_size = float(min_face_size)
        self.load_occlusion_mask = load_occlusion_mask
        self.keep_annotations_in_test = keep_annotations_in_test
        self.dropped_counts: Dict[str, int] = collections.Counter()
        self.last_dropped: Dict[str, int] = {}
        self.num_faces_seen = 0
        mode = "training" if is_train else "inference"
        logger.info(f"[FaceDatasetMapper] Augmentations used in {mode}: {augmentations}")

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        return {
            "is_train": is_train,
            "augmentations": build_face_augmentation(cfg, is_train),
            "image_format": cfg.INPUT.FORMAT,
            "min_face_size": cfg.INPUT.FACE_AUG.MIN_FACE_SIZE,
            "load_occlusion_mask": cfg.INPUT.FACE_AUG.LOAD_OCCLUSION_MASK,
        }

    @property
    def total_dropped(self) -> int:
        """Faces removed since construction (all reasons)."""
        return int(sum(self.dropped_counts.values()))

    def reset_counts(self) -> None:
        self.dropped_counts = collections.Counter()
        self.last_dropped = {}
        self.num_faces_seen = 0

    # ------------------------------------------------------------------ helpers
    def _read_image(self, file_name: str) -> np.ndarray:
        try:
            return utils.read_image(file_name, format=self.image_format)
        except Exception as e:  # noqa: BLE001 - re-raised with the path
            raise OSError(f"Cannot read image '{file_name}': {e}") from e

    @staticmethod
    def _boxes_xyxy(annos: List[dict]) -> np.ndarray:
        if not annos:
            return np.zeros((0, 4), dtype=np.float32)
        boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annos]
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)

    def _filter(self, boxes: np.ndarray, image_shape) -> np.ndarray:
        """Keep mask; updates the counters."""
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        outside = (w <= 0) | (h <= 0)
        too_small = ~outside & ((w < self.min_face_size) | (h < self.min_face_size))
        self.last_dropped = {"outside": int(outside.sum()), "too_small": int(too_small.sum())}
        self.dropped_counts.update(self.last_dropped)
        self.num_faces_seen += len(boxes)
        return ~(outside | too_small)

    def _instances(self, annos, boxes, keep, image_shape) -> Instances:
        annos = [a for a, k in zip(annos, keep) if k]
        inst = Instances(image_shape)
        inst.gt_boxes = Boxes(torch.as_tensor(boxes[keep], dtype=torch.float32).reshape(-1, 4))
        inst.gt_classes = torch.as_tensor([int(a.get("category_id", 0)) for a in annos], dtype=torch.int64)
        inst.gt_ignore = torch.as_tensor(
            [bool(a.get("ignore", 0)) or bool(a.get("iscrowd", 0)) for a in annos], dtype=torch.bool
        )
        inst.gt_masked = torch.as_tensor([bool(a.get("masked", False)) for a in annos], dtype=torch.bool)
        if all("occluded" in a for a in annos):
            inst.gt_occluded = torch.as_tensor([bool(a["occluded"]) for a in annos], dtype=torch.bool)
        return inst

    # ------------------------------------------------------------------ main
    def __call__(self, dataset_dict: dict) -> dict:
        dataset_dict = copy.deepcopy(dataset_dict)
        file_name = dataset_dict["file_name"]
        image = self._read_image(file_name)
        utils.check_image_size(dataset_dict, image)
        orig_h, orig_w = image.shape[:2]

        mask: Optional[np.ndarray] = None
        mask_file = dataset_dict.pop("occlusion_mask_file", None)
        if self.load_occlusion_mask and mask_file:
            mask = read_occlusion_mask(mask_file)
            if mask.shape[:2] != (orig_h, orig_w):
                raise ValueError(
                    f"Occlusion mask '{mask_file}' has size {mask.shape[:2]}, the image "
                    f"'{file_name}' has {(orig_h, orig_w)}"
                )

        use_annos = self.is_train or self.keep_annotations_in_test
        annos = dataset_dict.pop("annotations", None) if use_annos else None
        if not use_annos:
            dataset_dict.pop("annotations", None)
        boxes = None
        if annos is not None:
            boxes = clip_boxes(self._boxes_xyxy(annos), orig_w, orig_h).astype(np.float32)

        aug_input = FaceAugInput(image, boxes=boxes, sem_seg=mask)
        self.augmentations(aug_input)
        image, boxes, mask = aug_input.image, aug_input.boxes, aug_input.sem_seg
        image_shape = image.shape[:2]

        dataset_dict["image"] = torch.as_tensor(_writable(image.transpose(2, 0, 1)))
        dataset_dict["height"] = int(dataset_dict.get("height", orig_h))
        dataset_dict["width"] = int(dataset_dict.get("width", orig_w))
        if mask is not None:
            dataset_dict["occlusion_mask"] = torch.as_tensor(_writable(mask.astype(np.uint8, copy=False)))

        if annos is not None:
            keep = self._filter(boxes.reshape(-1, 4), image_shape)
            n_drop = int((~keep).sum())
            if n_drop:
                logger.debug(
                    f"[FaceDatasetMapper] {file_name}: dropped {n_drop} of {len(keep)} faces after "
                    f"augmentation ({self.last_dropped}); running total {self.total_dropped}"
                )
            dataset_dict["instances"] = self._instances(annos, boxes.reshape(-1, 4), keep, image_shape)
            dataset_dict["num_dropped_faces"] = n_drop
            dataset_dict["num_annotated_faces"] = int(len(keep))
            dataset_dict["dropped_face_reasons"] = {k: v for k, v in self.last_dropped.items() if v}
        return dataset_dict
