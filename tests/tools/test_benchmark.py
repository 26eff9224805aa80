"""tools/benchmark.py on a tiny random ResNet-18 FaceRetinaNet: the table's columns and rows, the
JSON copy, the data-loader / training rows. No timing assertions."""
import json

import pytest
import torch

import facelib  # noqa: F401

from tiny_model import write_tiny_config
from tool_loader import load_tool

COLUMNS = ["task", "precision", "batch", "input (WxH)", "median ms", "p90 ms", "iters/s", "images/s", "dets/img",
           "notes"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread (on a loaded 2-core machine, 2 OpenMP threads made these
    tests ~50x slower); the previous setting is restored."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def bench():
    return load_tool("benchmark")


@pytest.fixture
def cfg_file(tmp_path):
    return write_tiny_config(tmp_path / "tiny.yaml")


def _header(out):
    return next(line for line in out.splitlines() if line.startswith("| task"))


def test_inference_and_training_table(bench, cfg_file, tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    meta, rows = bench.main(["--config-file", cfg_file, "--size", "96x64", "--batch-sizes", "1", "2",
                             "--iters", "1", "--warmup", "0", "--amp", "--end-to-end", "--train-iters", "1",
                             "--threads", "1", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert [c.strip() for c in _header(out).strip("|").split("|")] == COLUMNS
    for key in ("device: cpu", "torch: ", "threads: ", "weights: RANDOM"):
        assert key in out
    tasks = [(r["task"], r["precision"], r["batch"]) for r in rows]
    amp = "bf16 autocast (CPU)"
    assert tasks == [
        ("inference", "fp32", 1), ("inference e2e", "fp32", 1), ("inference", amp, 1), ("inference e2e", amp, 1),
        ("inference", "fp32", 2), ("inference e2e", "fp32", 2), ("inference", amp, 2), ("inference e2e", amp, 2),
        ("training", "fp32", 2), ("training", amp, 2),
    ]
    assert all(r["input (WxH)"] == "96x64" for r in rows)
    lines = out.splitlines()
    assert sum(line.startswith("| inference e2e ") for line in lines) == 4
    assert sum(line.startswith("| inference ") for line in lines) == 8
    assert sum(line.startswith("| training ") for line in lines) == 2
    data = json.loads(out_json.read_text())
    assert data["columns"] == COLUMNS and len(data["rows"]) == len(rows) and data["meta"]["torch"] == meta["torch"]
    assert all(r["median ms"] > 0 and r["images/s"] > 0 for r in data["rows"])


def test_data_loader_and_loader_training(bench, cfg_file, tmp_path, monkeypatch, capsys):
    try:
        import facelib.data.datasets.synthetic  # noqa: F401
    except ImportError as e:
        pytest.skip(f"synthetic dataset module unavailable: {e}")
    monkeypatch.setenv("FACELIB_CACHE", str(tmp_path / "cache"))
    _, rows = bench.main(["--config-file", cfg_file, "--size", "64x64", "--batch-sizes", "1", "--iters", "1",
                          "--warmup", "0", "--dataset", "synthetic_faces_tiny", "--loader-iters", "2",
                          "--train-iters", "1", "--train-data", "loader",
                          "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "2",
                          "INPUT.FACE_AUG.RESIZE_SQUARE.SIZE", "64"])
    out = capsys.readouterr().out
    assert "data loader: synthetic_faces_tiny" in out
    assert [(r["task"], r["batch"]) for r in rows] == [("inference", 1), ("data loader", 2), ("training", 2)]
    assert "data-loader" in rows[-1]["notes"]


def test_bad_arguments(bench, cfg_file):
    with pytest.raises(SystemExit):
        bench.main(["--config-file", cfg_file, "--size", "640by480"])
    with pytest.raises(SystemExit):
        bench.main(["--config-file", cfg_file, "--train-data", "loader"])


def test_onnxruntime_rows(bench, cfg_file, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from detectron2.modeling import build_model

    from facelib.export.onnx_export import export_onnx
    from tiny_model import tiny_cfg

    cfg = tiny_cfg()
    onnx_path = str(tmp_path / "tiny.onnx")
    export_onnx(build_model(cfg).eval(), cfg, onnx_path, example_size=(64, 96))
    meta, rows = bench.main(["--config-file", cfg_file, "--size", "96x64", "--batch-sizes", "1", "2", "--iters", "1",
                             "--warmup", "0", "--train-iters", "0", "--end-to-end", "--onnx", onnx_path,
                             "--onnx-threads", "1", "2"])
    ort = [r for r in rows if r["precision"] == "fp32 onnxruntime"]
    # per thread count and batch size: the model-only and the end-to-end row
    assert len(ort) == 2 * 2 * 2 and meta["onnx"] == onnx_path
    assert {r["notes"].split(",")[0] for r in ort} == {"onnxruntime 1 thread(s)", "onnxruntime 2 thread(s)"}
    assert all(r["median ms"] > 0 for r in ort)
