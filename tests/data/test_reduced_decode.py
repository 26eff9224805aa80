"""load_image_at_most: reduced JPEG decoding, EXIF orientation, the original size."""
import numpy as np
import pytest
from PIL import Image

from facelib.data.reduced_decode import load_image_at_most


@pytest.fixture
def rotated_jpeg(tmp_path):
    """A 1200 x 800 (W x H) JPEG whose EXIF orientation 6 shows it 800 wide, 1200 tall."""
    y, x = np.mgrid[0:800, 0:1200]
    arr = np.dstack([x * 255 // 1200, y * 255 // 800, np.full_like(x, 50)]).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(path, quality=95, exif=exif)
    return path


def test_full_size_matches_detectron2_read_image(rotated_jpeg):
    from detectron2.data.detection_utils import read_image

    bgr, orig = load_image_at_most(str(rotated_jpeg), None)
    ref = read_image(str(rotated_jpeg), format="BGR")
    assert orig == (1200, 800) == bgr.shape[:2] == ref.shape[:2]
    assert np.array_equal(bgr, ref)


def test_reduced_sizes_and_content(rotated_jpeg, tmp_path):
    from detectron2.data.detection_utils import read_image

    ref = read_image(str(rotated_jpeg), format="BGR").astype(np.float64)
    for max_side, shape in ((600, (600, 400)), (500, (500, 333)), (1200, (1200, 800)), (5000, (1200, 800))):
        bgr, orig = load_image_at_most(str(rotated_jpeg), max_side)
        assert bgr.shape[:2] == shape and orig == (1200, 800) and bgr.dtype == np.uint8
    # the half-size decode shows the same picture: a 2x2 block mean of the full one, to JPEG noise
    bgr, _ = load_image_at_most(str(rotated_jpeg), 600)
    pooled = ref.reshape(600, 2, 400, 2, 3).mean(axis=(1, 3))
    assert np.abs(bgr.astype(np.float64) - pooled).mean() < 2.0
    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((30, 90, 3), np.uint8)).save(png)
    bgr, orig = load_image_at_most(str(png), 45)
    assert bgr.shape[:2] == (15, 45) and orig == (30, 90)
    with pytest.raises(FileNotFoundError):
        load_image_at_most(str(tmp_path / "none.jpg"), 10)
    (tmp_path / "t.jpg").write_text("x")
    with pytest.raises(ValueError, match="Cannot read image"):
        load_image_at_most(str(tmp_path / "t.jpg"), 10)
