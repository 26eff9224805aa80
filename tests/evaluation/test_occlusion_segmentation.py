"""OcclusionSegmentationEvaluator: occluded-pixel IoU / accuracy inside the face boxes, by hand."""
import numpy as np
import pytest
import torch
from PIL import Image

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from facelib.evaluation.build import build_face_evaluator
from facelib.evaluation.occlusion_segmentation import OcclusionSegmentationEvaluator, face_region_mask


def _register(tmp_path, name):
    gt = np.zeros((10, 12), dtype=np.uint8)
    gt[2:6, 2:6] = 255          # 16 occluded pixels, all inside the face box
    gt[8:10, 10:12] = 255       # 4 occluded pixels outside every box: not counted
    path = str(tmp_path / "m.png")
    Image.fromarray(gt).save(path)
    anns = [{"bbox": [2, 2, 6, 6], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0},  # 36 px
            {"bbox": [0, 8, 2, 2], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0, "ignore": True}]
    d = {"file_name": "x.jpg", "image_id": "img0", "height": 10, "width": 12,
         "occlusion_mask_file": path, "annotations": anns}
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, lambda: [d])
    MetadataCatalog.get(name).set(evaluator_type="wider_face", occlusion_masks=True,
                                  thing_classes=["face"])
    return d


def test_face_region_mask_ignores_ignored_faces_and_enlarges():
    anns = [{"bbox": [2, 2, 8, 8], "bbox_mode": BoxMode.XYXY_ABS},
            {"bbox": [0, 0, 1, 1], "bbox_mode": BoxMode.XYXY_ABS, "ignore": True}]
    assert face_region_mask(anns, 10, 10).sum() == 36
    assert face_region_mask(anns, 10, 10, enlarge=1.5).sum() == 81  # [0.5, 9.5] -> pixels 0..9


def test_counts_by_hand(tmp_path):
    _register(tmp_path, "occ_seg_test")
    ev = OcclusionSegmentationEvaluator("occ_seg_test", distributed=False)
    ev.reset()
    pred = torch.zeros(10, 12)
    pred[2:6, 2:4] = 0.9        # 8 true positives
    pred[6:8, 2:8] = 0.6        # 12 false positives (inside the box, not occluded)
    pred[0:2, 0:2] = 1.0        # outside the boxes: not counted
    ev.process([{"image_id": "img0"}], [{"occlusion_mask": pred}])
    res = ev.evaluate()["occlusion_seg"]
    # box region 36 px: tp 8, fp 12, fn 8, tn 8
    assert res["IoU_occluded"] == pytest.approx(100 * 8 / 28)
    assert res["pixel_acc"] == pytest.approx(100 * 16 / 36)
    assert res["recall_occluded"] == pytest.approx(50.0)
    assert res["precision_occluded"] == pytest.approx(100 * 8 / 20)
    assert res["num_images"] == 1
    # threshold-free: occluded pixels have p 0.9 (8) or 0 (8); clear ones 0.6 (12) or 0 (8):
    # thresholds 0.9 -> P 1, R 0.5; 0.6 -> R stays; 0 -> P 16/36, R 1: AP = 0.5 + 0.5 * 16/36
    assert res["AP_occluded"] == pytest.approx(100 * (0.5 + 0.5 * 16 / 36))
    assert res["mean_prob_occluded"] == pytest.approx(8 * 0.9 / 16)
    assert res["mean_prob_clear"] == pytest.approx(12 * 0.6 / 20)
    # a model without the branch: no numbers
    ev.reset()
    ev.process([{"image_id": "img0"}], [{"instances": None}])
    assert ev.evaluate() == {}


def test_built_only_when_enabled(tmp_path):
    from facelib.config import get_face_cfg

    _register(tmp_path, "occ_seg_test2")
    cfg = get_face_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    ev = build_face_evaluator(cfg, "occ_seg_test2", str(tmp_path))
    assert not isinstance(ev, OcclusionSegmentationEvaluator) and not hasattr(ev, "_evaluators")
    cfg.TEST.OCCLUSION_SEG.ENABLED = True
    ev = build_face_evaluator(cfg, "occ_seg_test2", str(tmp_path))
    assert [type(e).__name__ for e in ev._evaluators] == ["WiderFaceEvaluator",
                                                          "OcclusionSegmentationEvaluator"]
