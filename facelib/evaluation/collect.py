"""Base evaluator that gathers per-image face detections; the protocol evaluators subclass it."""
import copy
import itertools
import logging

import numpy as np
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm


class FaceDetectionCollector(DatasetEvaluator):
    """Collects ``{image_id: (boxes_xywh float64 (N, 4), scores float64 (N,))}`` over all processes.

    ``process`` reads ``outputs[i]["instances"]`` (``pred_boxes`` in XYXY absolute pixels of the
    original image, ``scores``); ``inputs[i]["image_id"]`` names the image. Subclasses implement
    ``evaluate_predictions(predictions)`` and return detectron2's ``{task: {metric: value}}`` dict.
    """

    def __init__(self, dataset_name: str, distributed: bool = True):
        self._dataset_name = dataset_name
        self._distributed = distributed
        self._logger = logging.getLogger(type(self).__module__)
        self.reset()

    def reset(self):
        self._predictions = {}

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            if "instances" not in out:
                raise KeyError(f"{type(self).__name__} needs outputs with 'instances', got {sorted(out)}")
            inst = out["instances"].to("cpu")
            boxes = inst.pred_boxes.tensor.numpy().astype(np.float64).reshape(-1, 4)
            boxes[:, 2:] -= boxes[:, :2]
            scores = inst.scores.numpy().astype(np.float64).reshape(-1)
            self._predictions[inp["image_id"]] = (boxes, scores)

    def _gathered(self):
        if not self._distributed:
            return self._predictions
        comm.synchronize()
        parts = comm.gather(self._predictions, dst=0)
        if not comm.is_main_process():
            return None
        return dict(itertools.chain.from_iterable(p.items() for p in parts))

    def evaluate(self):
        predictions = self._gathered()
        if predictions is None:
            return {}
        return copy.deepcopy(self.evaluate_predictions(predictions))

    def evaluate_predictions(self, predictions):  # pragma: no cover - abstract
        raise NotImplementedError
