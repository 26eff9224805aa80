"""build_face_evaluator: dispatch on MetadataCatalog evaluator_type."""
import uuid

import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluators

from facelib.evaluation.afw_pascal import FaceEvalAPEvaluator
from facelib.evaluation.build import KNOWN_EVALUATOR_TYPES, build_face_evaluator
from facelib.evaluation.fddb import FDDBEvaluator
from facelib.evaluation.mafa import FaceMaskEvaluator, MAFAEvaluator


@pytest.fixture
def register():
    created = []

    def _reg(evaluator_type=None):
        name = f"test_build_{uuid.uuid4().hex[:8]}"
        DatasetCatalog.register(name, lambda: [])
        meta = {"thing_classes": ["face"]}
        if evaluator_type is not None:
            meta["evaluator_type"] = evaluator_type
        MetadataCatalog.get(name).set(**meta)
        created.append(name)
        return name

    yield _reg
    for n in created:
        DatasetCatalog.remove(n)
        MetadataCatalog.remove(n)


@pytest.mark.parametrize(
    "etype,cls",
    [("mafa", MAFAEvaluator), ("facemask", FaceMaskEvaluator), ("fddb", FDDBEvaluator),
     ("afw", FaceEvalAPEvaluator), ("pascal_face", FaceEvalAPEvaluator)],
)
def test_single_types(register, etype, cls, tmp_path):
    ev = build_face_evaluator(_face_cfg(), register(etype), output_dir=str(tmp_path))
    assert type(ev) is cls
    if etype in ("afw", "pascal_face"):
        assert ev._task == etype


def _face_cfg():
    """detectron2's defaults + facelib's keys (the evaluators read TEST.WIDER / OCCLUSION_SEG)."""
    from facelib.config import add_facelib_config

    return add_facelib_config(get_cfg())


def test_wider_face_and_sfs_take_the_test_wider_keys(register):
    from facelib.config import add_facelib_config
    from facelib.evaluation.wider_face import WiderFaceEvaluator

    cfg = add_facelib_config(get_cfg())
    for evaluator_type in ("wider_face", "sfs"):
        name = register(evaluator_type)
        ev = build_face_evaluator(cfg, name, "out")  # the TEST.WIDER defaults
        assert isinstance(ev, WiderFaceEvaluator) and ev._iou_mode == "official"
    cfg.TEST.WIDER.IOU_MODE = "float"
    cfg.TEST.WIDER.NUM_THRESHOLDS = 200
    ev = build_face_evaluator(cfg, register("wider_face"))
    assert (ev._iou_mode, ev._num_thresholds) == ("float", 200)


def test_fddb_match_key_reaches_the_evaluator(register):
    from facelib.config import add_facelib_config

    cfg = add_facelib_config(get_cfg())
    assert cfg.TEST.FDDB.MATCH == "ellipse"  # the official overlap is the default
    assert build_face_evaluator(cfg, register("fddb"))._match == "ellipse"
    cfg.TEST.FDDB.MATCH = "box"
    assert build_face_evaluator(cfg, register("fddb"))._match == "box"
    cfg.TEST.FDDB.MATCH = "polygon"
    with pytest.raises(ValueError, match="polygon"):
        build_face_evaluator(cfg, register("fddb"))


def test_list_of_types(register):
    ev = build_face_evaluator(_face_cfg(), register(["mafa", "facemask"]))
    assert isinstance(ev, DatasetEvaluators)
    assert [type(e) for e in ev._evaluators] == [MAFAEvaluator, FaceMaskEvaluator]
    single = build_face_evaluator(_face_cfg(), register(["fddb"]))
    assert type(single) is FDDBEvaluator


def test_unknown_and_missing_types(register):
    name = register("coco")
    with pytest.raises(ValueError) as e:
        build_face_evaluator(_face_cfg(), name)
    assert name in str(e.value) and "coco" in str(e.value)
    for t in KNOWN_EVALUATOR_TYPES:
        assert t in str(e.value)
    missing = register(None)
    with pytest.raises(ValueError, match=missing):
        build_face_evaluator(_face_cfg(), missing)
    with pytest.raises(ValueError, match="segm"):
        build_face_evaluator(_face_cfg(), register(["mafa", "segm"]))
