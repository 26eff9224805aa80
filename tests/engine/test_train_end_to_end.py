"""End to end: FaceTrainer trains a face RetinaNet on the embedded synthetic data and evaluates it
with the WIDER protocol. The second test is the quick start's learning check in small: the
ImageNet MobileNetV1-0.25 face RetinaNet must reach a clear AP on held-out synthetic images."""
import json
import os

import numpy as np
import pytest
import torch

from facelib.paths import shared_root

MNET_CKPT = os.path.join(shared_root(), "weights", "mobilenet_v1_0.25_imagenet.pth.tar")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cfg(tmp_path, *opts):
    from facelib.config import get_face_cfg

    cfg = get_face_cfg()
    cfg.merge_from_file(os.path.join(REPO, "configs", "quickstart_synthetic_mnet.yaml"))
    cfg.merge_from_list(["OUTPUT_DIR", str(tmp_path / "out"), "DATALOADER.NUM_WORKERS", 0,
                         "SOLVER.CHECKPOINT_PERIOD", 100000, *opts])
    return cfg


def _train(cfg):
    from facelib.data import register_all_facelib_datasets
    from facelib.engine import FaceTrainer

    register_all_facelib_datasets()
    trainer = FaceTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    return trainer


def test_trainer_trains_and_evaluates_tiny(tmp_path):
    """A few iterations from scratch on synthetic_faces_tiny: loss falls, WIDER evaluation runs and
    writes its files, the trainer logs the dropped-face count and the gradient norm."""
    cfg = _cfg(tmp_path, "DATASETS.TRAIN", ("synthetic_faces_tiny",), "DATASETS.TEST", ("synthetic_faces_tiny",),
               "SOLVER.MAX_ITER", 40, "SOLVER.IMS_PER_BATCH", 4, "SOLVER.BASE_LR", 0.02,
               # normalise by this batch's positives (no EMA from 100), so losses compare across iterations
               "MODEL.FACE_RETINANET.LOSS_NORMALIZER_MOMENTUM", 0.0,
               "SOLVER.WARMUP_ITERS", 5, "SOLVER.STEPS", (), "INPUT.FACE_AUG.TRAIN", ["resize_square"],
               "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE", 192, "INPUT.MIN_SIZE_TEST", 192,
               "TEST.DETECTIONS_PER_IMAGE", 100, "SEED", 3)
    trainer = _train(cfg)
    out = cfg.OUTPUT_DIR
    losses = [v for v, _ in trainer.storage.history("total_loss").values()]
    assert len(losses) == 40 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses
    res_file = os.path.join(out, "inference", "synthetic_faces_tiny", "wider_face_results.json")
    with open(res_file) as f:
        res = json.load(f)
    assert set(res["ap_percent"]) == {"easy", "medium", "hard"}
    assert os.path.isdir(os.path.join(out, "inference", "synthetic_faces_tiny", "submission"))
    assert len(trainer.storage.history("data/dropped_faces").values()) == 40
    grad_norms = [v for v, _ in trainer.storage.history("grad_norm").values()]  # TRAINER.LOG_GRAD_NORM
    assert len(grad_norms) == 40 and all(np.isfinite(grad_norms)) and min(grad_norms) > 0


@pytest.mark.skipif(not os.path.isfile(MNET_CKPT), reason=f"ImageNet MobileNet checkpoint absent: {MNET_CKPT}")
def test_quickstart_model_learns_faces(tmp_path):
    """250 iterations (batch 8, 320 px; the quick start runs 600) of the quick-start recipe from the
    ImageNet backbone reach a WIDER-protocol AP >= 65 % on the 100 held-out synthetic val images.
    The bound sits 12 points under the lowest of three measured runs of this schedule (seeds 7 / 8 / 9:
    79.9 / 77.0 / 79.9, docs/results.md); from scratch, even 600 iterations stay near 2 %."""
    from facelib.modeling.weight_conversion import convert_checkpoint_file

    init = str(tmp_path / "mnet.pth")
    convert_checkpoint_file("mobilenet_v1", MNET_CKPT, init)
    torch.manual_seed(0)
    cfg = _cfg(tmp_path, "MODEL.WEIGHTS", init, "SOLVER.MAX_ITER", 250, "SOLVER.STEPS", (200,), "SEED", 7)
    _train(cfg)
    with open(os.path.join(cfg.OUTPUT_DIR, "inference", "synthetic_faces_val", "wider_face_results.json")) as f:
        res = json.load(f)
    print("quick-start model (250 it) WIDER AP on synthetic_faces_val:", res["ap_percent"])
    assert res["ap_percent"]["hard"] >= 65.0, res
