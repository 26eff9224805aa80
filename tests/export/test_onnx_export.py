"""ONNX export of every dense method's tiny config and the onnxruntime backend: the same
detections as PyTorch (score threshold 0, non-empty; boxes within 1e-3 px + 1e-5 relative, scores
within 1e-4),
at two image sizes (dynamic axes); training-only branches absent from the export; AOFD refused."""
import os

import numpy as np
import pytest
import torch

from facelib.config import get_face_cfg
from tool_loader import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytest.importorskip("onnxruntime")

TINY = {"retinanet": None, "fan": "fan_tiny_cpu.yaml", "refineface": "refineface_tiny_cpu.yaml",
        "mogface": "mogface_tiny_cpu.yaml", "df2s2": "df2s2_tiny_cpu.yaml"}


def _cfg(name, *opts):
    if TINY[name] is None:
        from tiny_model import tiny_cfg

        cfg = tiny_cfg()
    else:
        cfg = get_face_cfg()
        cfg.merge_from_file(os.path.join(ROOT, "configs", TINY[name]))
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.RETINANET.SCORE_THRESH_TEST", 0.0,
                         "TEST.DETECTIONS_PER_IMAGE", 60, *opts])
    return cfg


def _export(cfg, tmp_path, tag="m"):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from facelib.export.onnx_export import export_onnx

    torch.manual_seed(0)
    model = build_model(cfg).eval()
    DetectionCheckpointer(model, str(tmp_path)).save(tag)
    path = str(tmp_path / f"{tag}.onnx")
    meta = export_onnx(model, cfg, path, example_size=(96, 128))
    return path, str(tmp_path / f"{tag}.pth"), meta


@pytest.mark.parametrize("name", list(TINY))
def test_export_matches_pytorch(name, tmp_path):
    from facelib.api import FaceDetector

    cfg = _cfg(name)
    path, weights, meta = _export(cfg, tmp_path)
    assert meta["per_image_anchors"] == (name == "refineface")  # STR's refined anchors come out of the graph
    torch_det = FaceDetector(cfg, weights=weights, confidence_threshold=None)
    onnx_det = FaceDetector(cfg, confidence_threshold=None, backend="onnxruntime", onnx_path=path, num_threads=1)
    for k, shape in enumerate([(96, 128), (150, 200)]):
        img = np.random.RandomState(k).randint(0, 256, shape + (3,), dtype=np.uint8)
        t, o = torch_det.detect(img), onnx_det.detect(img)
        assert len(t) > 0 and len(o) == len(t)
        np.testing.assert_allclose(o.scores, t.scores, atol=1e-4)
        # 1e-3 px, plus float32's relative rounding (1e-5) of random-init deltas through exp(); the
        # trained baseline differs by < 1e-4 px (tools/export_onnx.py's check)
        np.testing.assert_allclose(o.boxes, t.boxes, atol=1e-3, rtol=1e-5)
        assert o.image_size == t.image_size == shape


@pytest.mark.parametrize("name,off", [("refineface", "MODEL.REFINEFACE.FSM.ENABLED"),
                                      ("df2s2", "MODEL.DF2S2.SEG.ENABLED")])
def test_training_only_branch_absent_from_export(name, off, tmp_path):
    """The export with the training-only branch (RefineFace's FSM, DF2S2's segmentation) holds
    exactly the weights of the export without it."""
    import onnx

    def n_weights(path):
        return sum(int(np.prod(i.dims)) for i in onnx.load(path).graph.initializer)

    with_branch, _, _ = _export(_cfg(name), tmp_path, "with")
    without, _, _ = _export(_cfg(name, off, False), tmp_path, "without")
    assert n_weights(with_branch) == n_weights(without)


def test_two_stage_model_refused(tmp_path):
    from detectron2.modeling import build_model

    from facelib.export.onnx_export import export_onnx

    cfg = get_face_cfg()
    cfg.merge_from_file(os.path.join(ROOT, "configs", "aofd_tiny_cpu.yaml"))
    cfg.MODEL.DEVICE = "cpu"
    with pytest.raises(NotImplementedError, match="two-stage"):
        export_onnx(build_model(cfg), cfg, str(tmp_path / "a.onnx"))


def test_backend_argument_errors(tmp_path):
    from facelib.api import FaceDetector

    cfg = _cfg("retinanet")
    with pytest.raises(ValueError, match="onnx_path"):
        FaceDetector(cfg, backend="onnxruntime")
    with pytest.raises(ValueError, match="backend"):
        FaceDetector(cfg, backend="tensorrt")
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        FaceDetector(cfg, backend="onnxruntime", onnx_path=str(tmp_path / "none.onnx"))


def test_demo_with_the_onnxruntime_backend(tmp_path):
    import json

    import cv2

    from tiny_model import write_tiny_config

    cfg = _cfg("retinanet")
    path, weights, _ = _export(cfg, tmp_path)
    cv2.imwrite(str(tmp_path / "a.png"), np.random.RandomState(0).randint(0, 256, (96, 128, 3), dtype=np.uint8))
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml", detections_per_image=60)
    demo = load_tool("demo")
    outs = {}
    for backend in ("pytorch", "onnxruntime"):
        out = tmp_path / backend
        demo.main(["--config-file", cfg_path, "--input", str(tmp_path / "a.png"), "--output", str(out), "--json",
                   "--no-progress", "--confidence-threshold", "0.0", "--backend", backend, "--onnx", path,
                   "MODEL.WEIGHTS", weights])
        outs[backend] = json.loads((out / "detections.json").read_text())["results"][0]
    assert outs["pytorch"]["boxes"] and len(outs["pytorch"]["boxes"]) == len(outs["onnxruntime"]["boxes"])
    np.testing.assert_allclose(outs["onnxruntime"]["boxes"], outs["pytorch"]["boxes"], atol=0.02)


def test_predict_dataset_onnx_equals_pytorch(tmp_path):
    """tools/predict_dataset.py with both backends on the embedded synthetic set: the same
    predictions JSON up to float rounding (what tools/analyze.py then scores)."""
    import json

    from tiny_model import write_tiny_config

    cfg = _cfg("retinanet")
    path, weights, _ = _export(cfg, tmp_path)
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml", detections_per_image=60)
    tool = load_tool("predict_dataset")
    out = {}
    for backend in ("pytorch", "onnxruntime"):
        f = tmp_path / backend / "face_predictions.json"
        assert tool.main(["--config-file", cfg_path, "--dataset", "synthetic_faces_tiny", "--output", str(f),
                          "--backend", backend, "--onnx", path, "MODEL.WEIGHTS", weights,
                          "MODEL.RETINANET.SCORE_THRESH_TEST", "0.0"]) == 0
        out[backend] = json.loads(f.read_text())["images"]
    assert out["pytorch"].keys() == out["onnxruntime"].keys() and len(out["pytorch"]) > 0
    for k in out["pytorch"]:
        a, b = np.asarray(out["pytorch"][k]), np.asarray(out["onnxruntime"][k])
        assert a.shape == b.shape and len(a) > 0
        np.testing.assert_allclose(b, a, atol=2e-3, rtol=1e-5)
