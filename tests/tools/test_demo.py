"""tools/demo.py: images (folder / glob / single file), JSON (with occlusion-mask RLE when the
model makes masks), video, argument errors. A tiny random ResNet-18 FaceRetinaNet checkpoint."""
import json
import os

import cv2
import numpy as np
import pytest
import torch

import facelib  # noqa: F401
from facelib.modeling.face_retinanet import FaceRetinaNet
from tiny_model import ROOT, save_tiny_checkpoint, tiny_cfg, write_tiny_config
from tool_loader import load_tool


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread (on a loaded 2-core machine, 2 OpenMP threads made these
    tests ~50x slower); the previous setting is restored."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tool():
    return load_tool("demo")


@pytest.fixture(scope="module")
def demo():
    return _tool()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(config yaml, checkpoint with zero cls bias so that scores ~0.5, input folder of 2 images)."""
    root = tmp_path_factory.mktemp("demo")
    cfg_path = write_tiny_config(root / "tiny.yaml", detections_per_image=5)
    ckpt = save_tiny_checkpoint(tiny_cfg(detections_per_image=5), root)
    images = root / "images"
    images.mkdir()
    rng = np.random.RandomState(0)
    cv2.imwrite(str(images / "im0.png"), rng.randint(0, 256, (96, 128, 3), dtype=np.uint8))
    cv2.imwrite(str(images / "im1.jpg"), rng.randint(0, 256, (80, 100, 3), dtype=np.uint8))
    return cfg_path, ckpt, images


def _args(setup, *extra):
    cfg_path, ckpt, _ = setup
    return ["--config-file", cfg_path,
        "--confidence-threshold", "0.3", "--no-progress", *extra, "--opts", "MODEL.WEIGHTS", ckpt]


def test_folder_to_images_and_json(demo, setup, tmp_path):
    out = tmp_path / "out"
    records = demo.main(_args(setup, "--input", str(setup[2]), "--output", str(out), "--json"))
    assert len(records) == 2
    for name, shape in (("im0.png", (96, 128, 3)), ("im1.jpg", (80, 100, 3))):
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape == shape
    data = json.loads((out / "detections.json").read_text())
    assert {"config_file", "weights", "confidence_threshold", "box_mode", "results"} <= set(data)
    assert data["weights"] == setup[1] and data["confidence_threshold"] == 0.3
    files = [r["file"] for r in data["results"]]
    assert [os.path.basename(f) for f in files] == ["im0.png", "im1.jpg"]
    for r in data["results"]:
        assert set(r) == {"file", "height", "width", "boxes", "scores"}
        assert len(r["boxes"]) == len(r["scores"]) > 0
        assert all(len(b) == 4 and 0 <= b[0] <= b[2] <= r["width"] and 0 <= b[1] <= b[3] <= r["height"]
                   for b in r["boxes"])
        assert all(s >= 0.3 for s in r["scores"])


def test_single_file_glob_and_occlusion_rle(demo, setup, tmp_path, monkeypatch):
    orig = FaceRetinaNet.forward

    def forward(self, batched_inputs):  # an AOFD-like model: per-face and per-image occlusion masks
        outs = orig(self, batched_inputs)
        for inp, out in zip(batched_inputs, outs):
            n = len(out["instances"])
            out["instances"].pred_occlusion_masks = torch.full((n, 1, 14, 14), 0.9)
            m = torch.zeros(inp["height"], inp["width"])
            m[:10] = 1.0
            m[10:20] = 0.3  # occluded only below --occlusion-threshold 0.3
            out["occlusion_mask"] = m
        return outs

    monkeypatch.setattr(FaceRetinaNet, "forward", forward)
    out_img, out_json = tmp_path / "faces.png", tmp_path / "sub" / "res.json"
    demo.main(_args(setup, "--input", str(setup[2] / "*.png"), "--output", str(out_img), "--json-file", str(out_json)))
    assert cv2.imread(str(out_img)).shape == (96, 128, 3)
    (rec,) = json.loads(out_json.read_text())["results"]
    assert len(rec["occlusion_masks"]) == len(rec["boxes"]) > 0
    from pycocotools import mask as mask_util

    for rle in rec["occlusion_masks"] + [rec["occlusion_mask"]]:
        assert isinstance(rle["counts"], str) and rle["size"] == [96, 128]
    m = mask_util.decode({"size": rec["occlusion_mask"]["size"], "counts": rec["occlusion_mask"]["counts"].encode()})
    assert m.shape == (96, 128) and m[:10].all() and not m[10:].any()
    # a lower --occlusion-threshold also marks the 0.3 rows
    demo.main(_args(setup, "--input", str(setup[2] / "*.png"), "--output", str(out_img),
                    "--json-file", str(out_json), "--occlusion-threshold", "0.2"))
    payload = json.loads(out_json.read_text())
    assert payload["occlusion_threshold"] == 0.2
    rle = payload["results"][0]["occlusion_mask"]
    m = mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    assert m[:20].all() and not m[20:].any()


def test_video(demo, setup, tmp_path):
    src = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (128, 96))
    assert writer.isOpened()
    rng = np.random.RandomState(1)
    for _ in range(3):
        writer.write(rng.randint(0, 256, (96, 128, 3), dtype=np.uint8))
    writer.release()
    out = tmp_path / "vout"
    records = demo.main(_args(setup, "--video-input", src, "--output", str(out), "--json", "--batch-size", "2"))
    assert [r["frame"] for r in records] == [0, 1, 2]
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 3
    assert len(json.loads((out / "detections.json").read_text())["results"]) == 3


def test_errors(demo, setup, tmp_path):
    with pytest.raises(SystemExit):
        demo.main(_args(setup))  # neither --input nor --video-input
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        demo.main(_args(setup, "--input", str(tmp_path / "nothing_here*.jpg")))
    assert demo.output_paths(["a/x.jpg", "b/x.jpg"], "o") == [os.path.join("o", "x.jpg"), os.path.join("o", "x_1.jpg")]
    assert demo.default_json_path("o/pic.jpg") == "o/pic.json"


def test_unreadable_inputs_are_skipped_and_reported(demo, setup, tmp_path):
    """Of a folder with a text file named .jpg, a JPEG cut mid-file and two good images: the two
    are written, each bad file is one warning line and a JSON entry, and the exit status is 1."""
    import subprocess
    import sys

    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in setup[2].iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "notes.jpg").write_text("not an image\n")
    ok, buf = cv2.imencode(".jpg", np.random.RandomState(2).randint(0, 256, (64, 64, 3), dtype=np.uint8))
    (folder / "cut.jpg").write_bytes(buf.tobytes()[: len(buf) // 2])
    out = tmp_path / "out"
    records, skipped = demo.run(_args(setup, "--input", str(folder), "--output", str(out), "--json"))
    assert [os.path.basename(r["file"]) for r in records] == ["im0.png", "im1.jpg"]
    assert sorted(os.path.basename(s["file"]) for s in skipped) == ["cut.jpg", "notes.jpg"]
    assert all(s["reason"] for s in skipped)
    assert sorted(p.name for p in out.iterdir()) == ["detections.json", "im0.png", "im1.jpg"]
    data = json.loads((out / "detections.json").read_text())
    assert len(data["results"]) == 2 and len(data["skipped"]) == 2
    cfg_path, ckpt, _ = setup
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--config-file", cfg_path,
                           "--input", str(folder), "--no-progress", "MODEL.WEIGHTS", ckpt],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    skipped_lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "Skipped " in ln]
    assert len(skipped_lines) == 2 and any("notes.jpg" in ln for ln in skipped_lines)


def test_overrides_at_the_end_like_train_net(demo, setup):
    """Positional KEY VALUE pairs after multi-value options, and the --opts alias, parse alike;
    the docstring's examples parse."""
    cfg_path, ckpt, images = setup
    a = demo.parse_args(["--config-file", cfg_path, "--input", "x/", "y.jpg", "MODEL.WEIGHTS", ckpt,
                         "MODEL.DEVICE", "cpu"])
    assert a.input == ["x/", "y.jpg"] and a.opts == ["MODEL.WEIGHTS", ckpt, "MODEL.DEVICE", "cpu"]
    b = demo.parse_args(["--config-file", cfg_path, "--input", "x/", "y.jpg", "--opts", "MODEL.WEIGHTS", ckpt,
                         "MODEL.DEVICE", "cpu"])
    assert b.input == a.input and b.opts == a.opts
    import shlex

    doc = demo.__doc__.split("Examples::", 1)[1].split("\n\n", 2)[1]
    commands = [c for c in doc.replace("\\\n", " ").splitlines() if c.strip().startswith("python tools/demo.py")]
    assert len(commands) == 3
    for c in commands:
        args = demo.parse_args(shlex.split(c)[2:])
        assert args.opts and len(args.opts) % 2 == 0
    with pytest.raises(SystemExit):
        demo.parse_args(["--config-file", cfg_path, "--input", "x/", "MODEL.WEIGHTS"])  # odd number


def test_detector_skip_option(setup, tmp_path):
    from facelib.api import FaceDetector

    cfg_path, ckpt, images = setup
    det = FaceDetector(cfg_path, ckpt, device="cpu", confidence_threshold=0.3)
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    inputs = [str(images / "im0.png"), str(bad), np.zeros((4, 4), np.uint8), str(images / "im1.jpg")]
    with pytest.raises(ValueError, match="image 2"):
        det.detect(inputs)  # default: raise, naming the input
    res = det.detect(inputs, on_error="skip")
    assert res[1] is None and res[2] is None and res[0] is not None and res[3] is not None
    assert [s["index"] for s in sorted(det.last_skipped, key=lambda s: s["index"])] == [1, 2]
    with pytest.raises(ValueError, match="on_error"):
        det.detect(inputs, on_error="ignore")


def _demo_peak_rss_kb(setup, image, out, *extra):
    import subprocess
    import sys

    cfg_path, ckpt, _ = setup
    code = ("import resource, sys, runpy, atexit; sys.argv = ['tools/demo.py'] + sys.argv[1:]; "
            "atexit.register(lambda: print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)); "
            "runpy.run_path('tools/demo.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, "--config-file", cfg_path, "--input", str(image),
                           "--output", str(out), "--json", "--no-progress", *extra, "MODEL.WEIGHTS", ckpt],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("MAXRSS")]
    return int(line.split()[1])


def test_huge_jpeg_memory_stays_within_its_decoded_size(setup, tmp_path):
    """A 6000 x 4000 JPEG (72 MB decoded): the demo's peak memory exceeds that of a 640 x 480 run
    by at most 3 W H bytes + 64 MB (it is decoded at half size and drawn at --max-size 2048; at full
    resolution the drawing alone took ~1.5 GB more). JSON boxes are in original pixels."""
    W, H = 6000, 4000
    y, x = np.mgrid[0:H, 0:W]
    big = np.dstack([x * 255 // W, y * 255 // H, (x + y) % 256]).astype(np.uint8)
    del x, y
    cv2.imwrite(str(tmp_path / "big.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del big
    cv2.imwrite(str(tmp_path / "small.jpg"), np.full((480, 640, 3), 100, np.uint8))
    small_kb = _demo_peak_rss_kb(setup, tmp_path / "small.jpg", tmp_path / "o_small")
    big_kb = _demo_peak_rss_kb(setup, tmp_path / "big.jpg", tmp_path / "o_big")
    assert (big_kb - small_kb) * 1024 <= 3 * W * H + 64 * 2 ** 20, (small_kb, big_kb)
    drawn = cv2.imread(str(tmp_path / "o_big" / "big.jpg"))
    assert drawn.shape == (1365, 2048, 3)
    rec = json.loads((tmp_path / "o_big" / "detections.json").read_text())["results"][0]
    assert (rec["height"], rec["width"]) == (H, W)
    assert rec["boxes"] and all(0 <= b[0] <= b[2] <= W and 0 <= b[1] <= b[3] <= H for b in rec["boxes"])
    assert max(b[2] for b in rec["boxes"]) > 2048  # scaled back, not the drawn copy's pixels
