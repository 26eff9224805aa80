"""Killing tools/train_net.py (SIGKILL) in the middle of a FaceTrainer run and starting it again
with --resume continues from the last checkpoint, with the iteration and LR of the schedule."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tiny_model import ROOT, write_tiny_config


def _cmd(cfg_path, out, max_iter, resume=False):
    return [sys.executable, os.path.join(ROOT, "tools", "train_net.py"), "--config-file", cfg_path,
            *(["--resume"] if resume else []),
            "OUTPUT_DIR", str(out), "DATASETS.TRAIN", "('synthetic_faces_tiny',)", "DATASETS.TEST", "()",
            "SOLVER.IMS_PER_BATCH", "2", "SOLVER.MAX_ITER", str(max_iter), "SOLVER.CHECKPOINT_PERIOD", "5",
            "SOLVER.STEPS", "(8,)", "SOLVER.WARMUP_ITERS", "4", "SOLVER.BASE_LR", "0.01",
            "DATALOADER.NUM_WORKERS", "0", "INPUT.FACE_AUG.TRAIN", "['resize_square']",
            "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE", "128", "TEST.EVAL_PERIOD", "0", "SEED", "1"]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_then_resume_continues_schedule(tmp_path):
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # a long run, killed as soon as the iteration-9 checkpoint is complete
    proc = subprocess.Popen(_cmd(cfg_path, out, 500), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            last = out / "last_checkpoint"
            if last.is_file() and last.read_text().strip() == "model_0000009.pth":
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model_final.pth").exists()

    # restart with --resume (and a shorter MAX_ITER: the LR steps are absolute iterations)
    res = subprocess.run(_cmd(cfg_path, out, 14, resume=True), capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    log = (out / "log.txt").read_text()
    assert "Starting training from iteration 10" in log
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line.strip()]
    final = [r for r in rows if r.get("iteration") == 13]
    assert final, rows[-3:]
    # after STEPS (8,): BASE_LR x GAMMA 0.1, not a restarted warm-up
    assert final[-1]["lr"] == pytest.approx(0.001)
    assert (out / "model_final.pth").is_file()


def test_non_finite_loss_stops_with_floating_point_error(tmp_path, monkeypatch):
    """detectron2's check: a NaN loss ends training with FloatingPointError naming the iteration
    and the loss terms."""
    from facelib.data import register_all_facelib_datasets
    from facelib.engine import FaceTrainer
    from facelib.modeling.face_retinanet import FaceRetinaNet
    from tiny_model import tiny_cfg

    calls = {"n": 0}
    orig = FaceRetinaNet.forward

    def forward(self, batched_inputs):
        out = orig(self, batched_inputs)
        if self.training:
            calls["n"] += 1
            if calls["n"] == 3:  # iteration 2
                out["loss_cls"] = out["loss_cls"] * float("nan")
        return out

    monkeypatch.setattr(FaceRetinaNet, "forward", forward)
    cfg = tiny_cfg(**{"OUTPUT_DIR": str(tmp_path), "DATASETS.TRAIN": ("synthetic_faces_tiny",), "DATASETS.TEST": (),
                      "SOLVER.IMS_PER_BATCH": 2, "SOLVER.MAX_ITER": 6, "DATALOADER.NUM_WORKERS": 0,
                      "INPUT.FACE_AUG.TRAIN": ["resize_square"], "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE": 128})
    register_all_facelib_datasets()
    trainer = FaceTrainer(cfg)
    trainer.resume_or_load(resume=False)
    with pytest.raises(FloatingPointError, match=r"(?s)iteration=2.*loss_cls"):
        trainer.train()
