"""Tests of the embedded synthetic occluded-face set (facelib.data.datasets.synthetic)."""
import math
import os
import threading

import cv2
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from facelib.data.datasets import synthetic as S

SMALL = S.SyntheticFaceParams(width_range=(160, 224), height_range=(120, 176), faces_per_image=(2, 4),
                              face_height_range=(8.0, 80.0), distractors_per_image=(0, 2))
# Every face gets an occluder; a mix of all four kinds.
ALL_OCC = S.SyntheticFaceParams(width_range=(256, 256), height_range=(192, 192), faces_per_image=(2, 4),
                                face_height_range=(16.0, 120.0), occluded_fraction=1.0)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def catalogs():
    saved_d, saved_m = dict(DatasetCatalog), dict(MetadataCatalog)
    yield
    DatasetCatalog.clear()
    DatasetCatalog.update(saved_d)
    MetadataCatalog.clear()
    MetadataCatalog.update(saved_m)


def _same(a, b):
    img_a, ann_a, occ_a = a
    img_b, ann_b, occ_b = b
    return img_a.tobytes() == img_b.tobytes() and occ_a.tobytes() == occ_b.tobytes() and ann_a == ann_b


def test_render_is_deterministic_and_order_independent():
    first = [S.render_synthetic_image(7, i, SMALL) for i in range(3)]
    again = [S.render_synthetic_image(7, i, SMALL) for i in (2, 1, 0)][::-1]  # other order
    for a, b in zip(first, again):
        assert _same(a, b)
    img, anns, occ = first[0]
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert occ.dtype == np.uint8 and occ.shape == img.shape[:2]
    assert not _same(first[0], S.render_synthetic_image(8, 0, SMALL))  # other seed, other image
    assert not _same(first[0], first[1])


def test_background_is_not_flat():
    img, _, _ = S.render_synthetic_image(0, 0, SMALL)
    assert img.reshape(-1, 3).std(0).min() > 5.0
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 1000


def test_boxes_inside_image_integral_and_contract_keys():
    for i in range(12):
        img, anns, _ = S.render_synthetic_image(3, i, SMALL)
        h, w = img.shape[:2]
        assert anns, "every small image has at least one face"
        for a in anns:
            x, y, bw, bh = a["bbox"]
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
            assert all(float(v).is_integer() for v in a["bbox"])
            assert a["bbox_mode"] == BoxMode.XYWH_ABS and a["category_id"] == 0 and a["iscrowd"] == 0
            assert set(a["attributes"]) == {"occluder", "occluded_fraction"}


def test_face_sizes_span_configured_range():
    p = S.SyntheticFaceParams(width_range=(640, 640), height_range=(480, 480), faces_per_image=(4, 8),
                              face_height_range=(8.0, 200.0), distractors_per_image=(0, 0))
    hs = [a["bbox"][3] for i in range(25) for a in S.render_synthetic_image(0, i, p)[1]]
    assert min(hs) <= 12 and max(hs) >= 120
    assert min(hs) >= 7 and max(hs) <= 202  # box height = pixel extent of the ellipse (+-1 px)
    # log-uniform-ish: as many faces below the geometric mean (40 px) as above, within a factor 2
    small = sum(h < 40 for h in hs)
    assert 0.5 < small / (len(hs) - small) < 2.0


def test_occlusion_mask_and_flags():
    kinds = set()
    for i in range(20):
        img, anns, occ = S.render_synthetic_image(5, i, ALL_OCC)
        assert set(np.unique(occ)) <= {0, 1}
        inside_boxes = np.zeros(occ.shape, bool)
        for a in anns:
            x, y, w, h = (int(v) for v in a["bbox"])
            inside_boxes[y:y + h, x:x + w] = True
            k, frac = a["attributes"]["occluder"], a["attributes"]["occluded_fraction"]
            assert k in S.OCCLUDERS
            assert a["masked"] == (k == "mask")
            assert a["occluded"] == (k != "none") == (frac > 0)
            assert 0.0 <= frac < 1.0
            if k != "none":
                assert occ[y:y + h, x:x + w].any()
                kinds.add(k)
            else:
                # only another face (its front neighbour's box) may overlap a non-occluded face box
                assert frac == 0.0
        assert not occ[~inside_boxes].any(), "occlusion outside every face box"
    assert kinds == {"mask", "sunglasses", "hand", "face"}


def test_no_occluders_gives_empty_mask():
    p = S.SyntheticFaceParams(width_range=(256, 256), height_range=(192, 192), occluded_fraction=0.0)
    for i in range(5):
        _, anns, occ = S.render_synthetic_image(1, i, p)
        assert not occ.any()
        assert all(a["attributes"]["occluder"] == "none" and not a["occluded"] for a in anns)


@pytest.mark.parametrize("kind", ["mask", "sunglasses"])
def test_occluded_fraction_matches_mask_single_face(kind):
    """One upright face, one occluder: fraction = mask pixels / ellipse area (~ pi/4 * w * h);
    a mask covers the lower half of the box, sunglasses the upper half."""
    p = S.SyntheticFaceParams(width_range=(320, 320), height_range=(320, 320), faces_per_image=(1, 1),
                              face_height_range=(100.0, 200.0), occluded_fraction=1.0, max_rotation_deg=0.0,
                              occluder_weights=((kind, 1.0),), distractors_per_image=(0, 0))
    for i in range(3):
        _, anns, occ = S.render_synthetic_image(0, i, p)
        (a,) = anns
        x, y, w, h = a["bbox"]
        assert a["attributes"]["occluder"] == kind
        assert a["attributes"]["occluded_fraction"] > 0
        area = occ.sum() / a["attributes"]["occluded_fraction"]  # ellipse pixels
        assert abs(area / (math.pi / 4 * w * h) - 1) < 0.03
        cy = np.nonzero(occ)[0].mean()
        assert (cy > y + h / 2) if kind == "mask" else (cy < y + h / 2)


def test_ignore_only_below_six_pixels():
    p = S.SyntheticFaceParams(width_range=(128, 128), height_range=(96, 96), faces_per_image=(6, 8),
                              face_height_range=(3.0, 12.0), distractors_per_image=(0, 0))
    anns = [a for i in range(6) for a in S.render_synthetic_image(0, i, p)[1]]
    assert any(a["ignore"] for a in anns) and not all(a["ignore"] for a in anns)
    for a in anns:
        assert a["ignore"] == int(a["bbox"][3] < S.IGNORE_BELOW_HEIGHT)


def test_bad_params_raise():
    with pytest.raises(ValueError, match="faces_per_image"):
        S.render_synthetic_image(0, 0, S.SyntheticFaceParams(faces_per_image=(3, 1)))
    with pytest.raises(ValueError, match="occluded_fraction"):
        S.SyntheticFaceParams(occluded_fraction=1.5).validate()
    with pytest.raises(ValueError, match="occluder_weights"):
        S.SyntheticFaceParams(occluder_weights=(("scarf", 1.0),)).validate()
    with pytest.raises(ValueError, match=">= 0"):
        S.render_synthetic_image(-1, 0)


def test_materialize_sfs_format_and_noop(cache):
    d = S.materialize_synthetic(None, 2, 5, SMALL, num_workers=0)
    assert d == S.synthetic_split_dir(2, 5, SMALL) and d.startswith(str(cache))
    assert os.listdir(os.path.dirname(d)) == [os.path.basename(d)]  # no temporary folder left
    stamp = {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in ("faces.txt", "annotations.json")}
    assert S.materialize_synthetic(None, 2, 5, SMALL) == d
    assert stamp == {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in stamp}

    # faces.txt, parsed by hand: header comments, then '<image> <mask>', N, N x 'x y w h occluded'
    lines = [ln for ln in open(os.path.join(d, "faces.txt")).read().splitlines() if not ln.startswith("#")]
    k, n_images = 0, 0
    while k < len(lines):
        img_rel, mask_rel = lines[k].split()
        n = int(lines[k + 1])
        img = cv2.imread(os.path.join(d, img_rel))
        mask = cv2.imread(os.path.join(d, mask_rel), cv2.IMREAD_UNCHANGED)
        assert img_rel == f"images/{n_images:06d}.jpg" and mask_rel == f"masks/{n_images:06d}.png"
        assert mask.shape == img.shape[:2] and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
        ref_img, ref_anns, ref_occ = S.render_synthetic_image(2, n_images, SMALL)
        assert np.array_equal(mask, ref_occ)
        assert np.abs(img.astype(int) - ref_img).mean() < 4  # JPEG quality 95 of a noisy image
        faces = [[int(t) for t in ln.split()] for ln in lines[k + 2:k + 2 + n]]
        assert faces == [[*map(int, a["bbox"]), int(a["occluded"])] for a in ref_anns]
        k += 2 + n
        n_images += 1
    assert n_images == 5

    # the repository's SFS loader reads the folder too
    from facelib.data.datasets.sfs import load_sfs
    sfs = load_sfs(d, "synthetic_as_sfs")
    ours = S.load_synthetic_split(d)
    assert [[a["bbox"] for a in r["annotations"]] for r in sfs] == [[a["bbox"] for a in r["annotations"]] for r in ours]


def test_image_independent_of_num_images(tmp_path):
    a = S.materialize_synthetic(str(tmp_path / "a"), 4, 2, SMALL, num_workers=0)
    b = S.materialize_synthetic(str(tmp_path / "b"), 4, 4, SMALL, num_workers=2)  # other count, processes
    for name in ("000000", "000001"):
        for sub, ext in (("images", "jpg"), ("masks", "png")):
            fa, fb = (os.path.join(d, sub, f"{name}.{ext}") for d in (a, b))
            with open(fa, "rb") as f1, open(fb, "rb") as f2:
                assert f1.read() == f2.read()
    la, lb = S.load_synthetic_split(a), S.load_synthetic_split(b)
    assert [r["annotations"] for r in la] == [r["annotations"] for r in lb[:2]]


def test_materialize_race_and_foreign_folder(tmp_path):
    out, errors = str(tmp_path / "race"), []

    def run():
        try:
            S.materialize_synthetic(out, 9, 3, SMALL, num_workers=0)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert sorted(os.listdir(tmp_path)) == ["race"]
    assert len(S.load_synthetic_split(out)) == 3
    with pytest.raises(FileExistsError, match="another synthetic split"):
        S.materialize_synthetic(out, 10, 3, SMALL)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a synthetic split"):
        S.materialize_synthetic(str(tmp_path / "other"), 9, 3, SMALL)


def test_register_lazy_idempotent_and_dicts_follow_contract(cache, catalogs):
    for name in S.SYNTHETIC_SPLITS:
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)
    assert set(S.register_all_synthetic()) == set(S.SYNTHETIC_SPLITS)
    assert S.register_all_synthetic() == []  # idempotent
    assert not cache.exists(), "registration must not render"
    meta = MetadataCatalog.get("synthetic_faces_tiny")
    assert meta.thing_classes == ["face"] and meta.evaluator_type == "wider_face" and meta.occlusion_masks
    dicts = DatasetCatalog.get("synthetic_faces_tiny")
    assert len(dicts) == 8
    assert meta.dataset_root == os.path.dirname(dicts[0]["file_name"]).rsplit("/images", 1)[0]
    for i, d in enumerate(dicts):
        assert os.path.isabs(d["file_name"]) and os.path.isfile(d["file_name"])
        assert d["image_id"] == f"synthetic/{i:06d}"
        img = cv2.imread(d["file_name"])
        assert img.shape[:2] == (d["height"], d["width"])
        assert os.path.isfile(d["occlusion_mask_file"])
        for a in d["annotations"]:
            assert set(a) == {"bbox", "bbox_mode", "category_id", "iscrowd", "ignore", "masked", "occluded",
                              "attributes"}
            assert a["bbox_mode"] == BoxMode.XYWH_ABS and a["category_id"] == 0 and a["iscrowd"] == 0
            assert isinstance(a["bbox"][0], float) and a["ignore"] in (0, 1)
    # train / val / tiny use pairwise different seeds (val is held out)
    seeds = [v[0] for v in S.SYNTHETIC_SPLITS.values()]
    assert len(set(seeds)) == len(seeds)


def test_cli_writes_folder_and_prints_summary(tmp_path, capsys):
    S.main(["--out", str(tmp_path / "cli"), "--num", "2", "--seed", "3", "--width", "160", "--height", "120",
            "--workers", "0"])
    out = capsys.readouterr().out
    assert "2 images" in out and "faces" in out
    assert sorted(os.listdir(tmp_path / "cli")) == ["annotations.json", "faces.txt", "images", "masks"]
