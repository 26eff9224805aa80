"""Fixed models and inputs whose outputs and losses are frozen in ``tests/golden/*.json``.

Each case: a config (tiny, CPU), weights drawn after ``torch.manual_seed(0)``, two fixed images of
different sizes with fixed faces, a score threshold of 0 (so the outputs are not empty). The
JSON files were written by ``python tests/golden/golden_cases.py`` on the code before the
single-shot core's refactor into named head outputs / batched inference; ``test_golden.py``
compares the current code against them (boxes 1e-4 px, scores 1e-5).
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/ (tiny_model)
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository (its packages)

import facelib  # noqa: E402,F401
from detectron2.structures import Boxes, Instances  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

from tiny_model import config_from_file, seeded_model, tiny_cfg  # noqa: E402

CASES = {
    # name: builder of the case's config
    "baseline": lambda: tiny_cfg(100, **{"MODEL.RETINANET.SCORE_THRESH_TEST": 0.0}),
    "fan": lambda: config_from_file(
        os.path.join("configs", "fan_tiny_cpu.yaml"), "MODEL.RETINANET.SCORE_THRESH_TEST", 0.0
    ),
    "aofd": lambda: config_from_file(
        os.path.join("configs", "aofd_tiny_cpu.yaml"), "MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0
    ),
}

# (height, width, faces) of the two images; the test sizes of the tiny configs are 128 / 64 px,
# the inputs are given at other sizes so that the rescaling to height / width is exercised.
IMAGES = [
    (96, 128, [[10, 12, 50, 60], [70, 20, 100, 58]]),
    (112, 80, [[8, 30, 44, 80]]),
]


def batch(with_masks: bool):
    g = torch.Generator().manual_seed(3)
    out = []
    for h, w, boxes in IMAGES:
        img = torch.rand(3, h, w, generator=g) * 80
        occ = torch.zeros(h, w, dtype=torch.uint8)
        for x1, y1, x2, y2 in boxes:
            img[:, y1:y2, x1:x2] += 140
            occ[(y1 + y2) // 2:y2, x1:x2] = 1
        inst = Instances((h, w))
        inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        inst.gt_classes = torch.zeros(len(boxes), dtype=torch.int64)
        d = {"image": img, "instances": inst, "height": h, "width": w}
        if with_masks:
            d["occlusion_mask"] = occ
        out.append(d)
    return out


def run_case(name):
    """``{"detections": [per image {"boxes", "scores", "classes"}], "losses": {name: value}}``."""
    cfg = CASES[name]()
    model = seeded_model(cfg)
    inputs = batch(with_masks=name == "aofd")
    model.eval()
    with torch.no_grad():
        outs = model(inputs)
    dets = []
    for o in outs:
        inst = o["instances"]
        dets.append({
            "boxes": inst.pred_boxes.tensor.tolist(),
            "scores": inst.scores.tolist(),
            "classes": inst.pred_classes.tolist(),
        })
    model.train()
    torch.manual_seed(1)  # RPN / RoI sampling
    with EventStorage(0):
        losses = model(inputs)
    return {"detections": dets, "losses": {k: float(v) for k, v in sorted(losses.items())}}


def golden_path(name):
    return os.path.join(HERE, f"{name}.json")


if __name__ == "__main__":
    for name in CASES:
        with open(golden_path(name), "w") as f:
            json.dump(run_case(name), f)
        print("wrote", golden_path(name))
