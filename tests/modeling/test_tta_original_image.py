"""``FaceDetectorWithTTA`` builds every scale from the original image (re-read from ``file_name``
when the test mapper resized it), never by upsampling the resized test image."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

import facelib  # noqa: F401
from detectron2.structures import Boxes, Instances

from facelib.modeling.tta import FaceDetectorWithTTA


class _Recorder(nn.Module):
    """Records the images it is given; detects nothing."""

    input_format = "BGR"

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, inputs):
        out = []
        for d in inputs:
            self.seen.append(d["image"].clone())
            inst = Instances((d["height"], d["width"]))
            inst.pred_boxes = Boxes(torch.zeros(0, 4))
            inst.scores = torch.zeros(0)
            inst.pred_classes = torch.zeros(0, dtype=torch.int64)
            out.append({"instances": inst})
        return out


def _original(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    path = tmp_path / "face.png"
    Image.fromarray(rgb).save(path)
    bgr = torch.as_tensor(rgb[:, :, ::-1].copy()).permute(2, 0, 1)
    return str(path), bgr


def test_scales_come_from_the_original_image(tmp_path):
    path, original = _original(tmp_path)
    small = F.interpolate(original[None].float(), size=(30, 40), mode="bilinear", align_corners=False)[0]
    model = _Recorder()
    tta = FaceDetectorWithTTA(model, min_sizes=[0, 120], max_size=1000, flip=False, scale_ranges=[])
    tta([{"image": small, "height": 60, "width": 80, "file_name": path}])
    assert [tuple(x.shape[-2:]) for x in model.seen] == [(60, 80), (120, 160)]
    # the original-size run gets the original pixels exactly (an upsampled 30x40 image would not)
    assert torch.equal(model.seen[0].to(torch.uint8), original)
    want = F.interpolate(original[None].float(), size=(120, 160), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(model.seen[1].float(), want)


def test_resized_image_without_file_name_is_an_error():
    tta = FaceDetectorWithTTA(_Recorder(), min_sizes=[0], flip=False)
    with pytest.raises(ValueError, match="original 60x80 image"):
        tta([{"image": torch.zeros(3, 30, 40), "height": 60, "width": 80}])


def test_image_at_original_size_is_used_as_is():
    model = _Recorder()
    img = torch.arange(3 * 6 * 8, dtype=torch.float32).reshape(3, 6, 8)
    FaceDetectorWithTTA(model, min_sizes=[0], flip=True)([{"image": img, "height": 6, "width": 8}])
    assert torch.equal(model.seen[0], img) and torch.equal(model.seen[1], img.flip(-1))
