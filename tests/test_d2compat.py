"""The detectron2._C stand-in: present only without a compiled _C, clear errors for compiled ops."""
import pytest
import torch

import facelib
from facelib import d2compat


def test_trainer_and_evaluation_import():
    from detectron2.engine import DefaultTrainer  # noqa: F401
    from detectron2.evaluation import COCOEvaluator, inference_on_dataset  # noqa: F401


@pytest.mark.skipif(not facelib.USING_D2_STANDIN, reason="a compiled detectron2._C is installed")
def test_compiled_ops_fail_with_clear_message():
    from detectron2 import _C
    from detectron2.layers import nms_rotated

    with pytest.raises(d2compat.CompiledOpUnavailable, match="COCOevalAccumulate.*compiled extension"):
        _C.COCOevalAccumulate({}, [])
    with pytest.raises(d2compat.CompiledOpUnavailable, match="nms_rotated"):
        nms_rotated(torch.tensor([[10.0, 10, 5, 5, 0]]), torch.ones(1), 0.5)
    with pytest.raises(AttributeError):
        _C.__wrapped__  # dunder lookups stay AttributeError (hasattr/inspect keep working)
    assert not d2compat.has_compiled_ops()


def test_install_is_idempotent():
    first = d2compat.install()
    assert d2compat.install() == first == facelib.USING_D2_STANDIN


def test_slow_coco_eval_works_without_compiled_ops(tmp_path):
    """COCOEvaluator(use_fast_impl=False) evaluates with pure pycocotools."""
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.evaluation import COCOEvaluator
    from detectron2.structures import Boxes, BoxMode, Instances

    name = "facelib_test_d2compat_coco"
    DatasetCatalog.register(name, lambda: [{
        "file_name": "x.jpg", "image_id": 1, "height": 100, "width": 100,
        "annotations": [{"bbox": [10, 10, 30, 30], "bbox_mode": BoxMode.XYWH_ABS,
                         "category_id": 0, "iscrowd": 0}],
    }])
    MetadataCatalog.get(name).set(thing_classes=["face"])
    try:
        ev = COCOEvaluator(name, tasks=("bbox",), distributed=False, output_dir=str(tmp_path),
                           use_fast_impl=False)
        ev.reset()
        inst = Instances((100, 100))
        inst.pred_boxes = Boxes(torch.tensor([[10.0, 10, 40, 40]]))
        inst.scores = torch.tensor([0.9])
        inst.pred_classes = torch.tensor([0])
        ev.process([{"image_id": 1}], [{"instances": inst}])
        res = ev.evaluate()
        assert res["bbox"]["AP50"] == pytest.approx(100.0)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_import_facelib_is_torch_free_and_hooks_install_on_use():
    """``import facelib`` and the numpy-only WIDER protocol do not import torch / detectron2; the
    first detectron2 import then gets the _C stand-in (or the compiled one) and the zoo handler."""
    import subprocess
    import sys

    code = ("import sys, facelib, facelib.evaluation.wider_face_protocol, facelib.utils.progress\n"
            "assert 'torch' not in sys.modules and 'detectron2' not in sys.modules, sorted(sys.modules)\n"
            "from detectron2.engine import DefaultTrainer\n"
            "from detectron2.utils.file_io import PathManager\n"
            "assert 'facelib-zoo://' in PathManager._path_handlers\n"
            "from detectron2 import _C\n"
            "print(getattr(_C, 'FACELIB_STANDIN', False) == facelib.USING_D2_STANDIN)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"
