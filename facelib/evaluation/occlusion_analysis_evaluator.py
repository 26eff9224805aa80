"""``OcclusionAnalysisEvaluator``: the occlusion analysis (:mod:`.occlusion_analysis`) of a test
dataset as a detectron2 ``DatasetEvaluator``, for ``tools/train_net.py --eval-only
TEST.ANALYSIS.ENABLED True``.

Writes into ``<output_dir>/analysis/``: ``face_predictions.json`` (every detection, original
image coordinates: the input of ``tools/analyze.py``, e.g. to compare this model with another),
``analysis.json`` (:meth:`AnalysisResult.to_json`) and, with ``TEST.ANALYSIS.REPORT``, the
one-model HTML report (``index.html``, ``img/``). Returns ``{"analysis": {...}}``: AP per setting
(``<setting>/AP``) and per attribute value (``<group>=<value>/AP``), in %, NaN where a value has
no face.
"""
import json
import os

from .analysis_ground_truth import load_analysis_ground_truth
from .collect import FaceDetectionCollector
from .occlusion_analysis import analyze
from .prediction_files import write_face_predictions

__all__ = ["OcclusionAnalysisEvaluator"]


class OcclusionAnalysisEvaluator(FaceDetectionCollector):
    def __init__(self, dataset_name: str, output_dir: str, iou_threshold: float = 0.5,
                 precision: float = 0.9, report: bool = True, gallery_size: int = 8,
                 label: str = "model", distributed: bool = True):
        if not output_dir:
            raise ValueError("OcclusionAnalysisEvaluator writes its files into output_dir; got none")
        if not 0 < iou_threshold <= 1 or not 0 < precision <= 1:
            raise ValueError(f"iou_threshold and precision must be in (0, 1], got {iou_threshold}, {precision}")
        self._output_dir = os.path.join(output_dir, "analysis")
        self._iou_threshold = iou_threshold
        self._precision = precision
        self._report = report
        self._gallery_size = gallery_size
        self._label = label
        super().__init__(dataset_name, distributed=distributed)

    @classmethod
    def from_config(cls, cfg, dataset_name, output_dir):
        a = cfg.TEST.ANALYSIS
        return cls(dataset_name, output_dir, iou_threshold=a.IOU_THRESHOLD, precision=a.PRECISION,
                   report=a.REPORT, gallery_size=a.GALLERY_SIZE,
                   label=os.path.basename(os.path.normpath(cfg.OUTPUT_DIR)) or "model")

    def evaluate_predictions(self, predictions):
        gt = load_analysis_ground_truth(self._dataset_name)
        unknown = [k for k in predictions if k not in gt.records]
        if unknown:
            raise KeyError(f"{self._dataset_name}: {len(unknown)} predicted image ids are not in the analysis "
                           f"ground truth, e.g. {unknown[:3]}")
        write_face_predictions(os.path.join(self._output_dir, "face_predictions.json"), predictions,
                               self._dataset_name)
        res = analyze(gt, predictions, label=self._label, iou_threshold=self._iou_threshold,
                      precision=self._precision, gallery_size=self._gallery_size)
        with open(os.path.join(self._output_dir, "analysis.json"), "w", encoding="utf-8") as f:
            json.dump(res.to_json(), f, indent=1)
        if self._report:
            from .analysis_report import write_report

            index = write_report(self._output_dir, gt, [res])
            self._logger.info("Occlusion analysis report of %s: %s", self._dataset_name, index)
        metrics = {f"{s}/AP": 100 * v["ap"] for s, v in res.settings.items()}
        for g, values in res.breakdown["groups"].items():
            metrics.update({f"{g}={v}/AP": 100 * row["ap"] for v, row in values.items()})
        return {"analysis": metrics}
