"""``build_face_evaluator``: the evaluator of a registered face dataset, chosen by its
``MetadataCatalog`` ``evaluator_type`` (a string, or a list of them for several protocols)."""
from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluators

__all__ = ["build_face_evaluator", "KNOWN_EVALUATOR_TYPES"]

KNOWN_EVALUATOR_TYPES = ("wider_face", "sfs", "mafa", "facemask", "fddb", "afw", "pascal_face")


def _build_one(evaluator_type, cfg, dataset_name, output_dir):
    if evaluator_type in ("wider_face", "sfs"):
        # SFS images carry faces without WIDER's easy/medium/hard lists: the WIDER protocol with
        # settings derived from the dataset dicts (see WiderFaceEvaluator).
        from .wider_face import WiderFaceEvaluator

        return WiderFaceEvaluator.from_config(cfg, dataset_name, output_dir=output_dir)
    if evaluator_type in ("mafa", "facemask"):
        from .mafa import FaceMaskEvaluator, MAFAEvaluator

        cls = MAFAEvaluator if evaluator_type == "mafa" else FaceMaskEvaluator
        m = cfg.TEST.MAFA
        return cls(dataset_name, output_dir=output_dir, iou_threshold=m.IOU_THRESHOLD,
                   extra_iou_thresholds=list(m.EXTRA_IOU_THRESHOLDS), fp_at_recalls=list(m.FP_AT_RECALLS))
    if evaluator_type == "fddb":
        from .fddb import FDDBEvaluator

        return FDDBEvaluator.from_config(cfg, dataset_name, output_dir=output_dir)
    if evaluator_type in ("afw", "pascal_face"):
        from .afw_pascal import FaceEvalAPEvaluator

        return FaceEvalAPEvaluator(dataset_name, output_dir=output_dir, task=evaluator_type)
    raise ValueError(
        f"No face evaluator for dataset {dataset_name!r}: evaluator_type {evaluator_type!r} is "
        f"unknown; known types: {', '.join(KNOWN_EVALUATOR_TYPES)}"
    )


def build_face_evaluator(cfg, dataset_name, output_dir=None):
    """Evaluator(s) for ``dataset_name`` from ``MetadataCatalog.get(dataset_name).evaluator_type``.

    ``wider_face`` and ``sfs`` -> ``WiderFaceEvaluator`` (``cfg.TEST.WIDER.*``),
    ``mafa`` -> :class:`~facelib.evaluation.mafa.MAFAEvaluator`, ``facemask`` ->
    :class:`~facelib.evaluation.mafa.FaceMaskEvaluator` (both ``cfg.TEST.MAFA.*``), ``fddb`` ->
    :class:`~facelib.evaluation.fddb.FDDBEvaluator` (``cfg.TEST.FDDB.MATCH``), ``afw`` /
    ``pascal_face`` -> :class:`~facelib.evaluation.afw_pascal.FaceEvalAPEvaluator`. A list of types gives a
    ``DatasetEvaluators`` combining them (a one-element list gives the evaluator itself).
    With ``TEST.OCCLUSION_SEG.ENABLED``, datasets with occlusion masks (``sfs``, metadata
    ``occlusion_masks``) also get an :class:`OcclusionSegmentationEvaluator`.
    With ``TEST.ANALYSIS.ENABLED``, every dataset also gets an
    :class:`~facelib.evaluation.occlusion_analysis_evaluator.OcclusionAnalysisEvaluator` (writes
    into ``output_dir``/analysis). A missing or unknown type raises ``ValueError`` naming the dataset and the known types.
    """
    meta = MetadataCatalog.get(dataset_name)
    evaluator_type = meta.get("evaluator_type", None)
    if evaluator_type is None:
        raise ValueError(
            f"Dataset {dataset_name!r} has no evaluator_type in its metadata; "
            f"known types: {', '.join(KNOWN_EVALUATOR_TYPES)}"
        )
    types = [evaluator_type] if isinstance(evaluator_type, str) else list(evaluator_type)
    if not types:
        raise ValueError(
            f"Dataset {dataset_name!r} has an empty evaluator_type list; "
            f"known types: {', '.join(KNOWN_EVALUATOR_TYPES)}"
        )
    evaluators = [_build_one(t, cfg, dataset_name, output_dir) for t in types]
    if cfg.TEST.OCCLUSION_SEG.ENABLED and (
            meta.get("occlusion_masks", False) or "sfs" in types):
        from .occlusion_segmentation import OcclusionSegmentationEvaluator

        evaluators.append(OcclusionSegmentationEvaluator(
            dataset_name, threshold=cfg.TEST.OCCLUSION_SEG.THRESHOLD,
            enlarge=cfg.TEST.OCCLUSION_SEG.BOX_ENLARGE))
    if cfg.TEST.ANALYSIS.ENABLED:
        from .occlusion_analysis_evaluator import OcclusionAnalysisEvaluator

        evaluators.append(OcclusionAnalysisEvaluator.from_config(cfg, dataset_name, output_dir))
    if len(evaluators) == 1:
        return evaluators[0]
    return DatasetEvaluators(evaluators)
