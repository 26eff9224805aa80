"""Multi-process training on the CPU (detectron2's launch, gloo, DistributedDataParallel with
device_ids=None): ``tools/train_net.py --num-gpus 2`` trains the tiny FaceRetinaNet, FAN and AOFD
(its staged schedule, DDP_FIND_UNUSED_PARAMETERS) configurations, and the 2-process evaluation
at the end of training gives the AP of a 1-process --eval-only of the same checkpoint."""
import json
import os
import subprocess
import sys

import pytest

from tiny_model import ROOT, write_tiny_config

TRAIN_NET = os.path.join(ROOT, "tools", "train_net.py")
FAST = ["DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "4", "SOLVER.CHECKPOINT_PERIOD", "100000"]


def _run(args, timeout=420):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, TRAIN_NET, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc


def _ap(out, dataset):
    with open(os.path.join(out, "inference", dataset, "wider_face_results.json")) as f:
        return json.load(f)["ap_percent"]


def test_face_retinanet_two_processes_train_and_eval_only_matches_one(tmp_path):
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml", detections_per_image=50)
    out = tmp_path / "ddp"
    common = ["--config-file", cfg_path, "DATASETS.TRAIN", "('synthetic_faces_tiny',)",
              "DATASETS.TEST", "('synthetic_faces_tiny',)", "INPUT.FACE_AUG.TRAIN", "['resize_square']",
              "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE", "128", "SOLVER.MAX_ITER", "4", "SEED", "1", *FAST]
    _run(["--num-gpus", "2", *common, "OUTPUT_DIR", str(out)])
    log = (out / "log.txt").read_text()
    assert "Rank of current process: 0. World size: 2" in log
    assert (out / "model_final.pth").is_file()
    # the 2-process run evaluated model_final at its end (test set sharded over both processes)
    weights = str(out / "model_final.pth")
    one = tmp_path / "eval1"
    _run(["--eval-only", *common, "OUTPUT_DIR", str(one), "MODEL.WEIGHTS", weights])
    ap1, ap2 = _ap(one, "synthetic_faces_tiny"), _ap(out, "synthetic_faces_tiny")
    assert set(ap1) == {"easy", "medium", "hard"}
    for s in ap1:
        assert ap2[s] == pytest.approx(ap1[s], abs=1e-6), (ap1, ap2)


@pytest.mark.parametrize("config", ["fan_tiny_cpu.yaml", "aofd_tiny_cpu.yaml"])
def test_projects_train_with_two_processes(tmp_path, config):
    out = tmp_path / "run"
    extra = ["SOLVER.MAX_ITER", "3"] if config.startswith("fan") else []
    _run(["--num-gpus", "2", "--config-file", os.path.join(ROOT, "configs", config), "OUTPUT_DIR", str(out),
          "DATASETS.TEST", "()", *FAST, *extra])
    assert (out / "model_final.pth").is_file()
    assert "World size: 2" in (out / "log.txt").read_text()
