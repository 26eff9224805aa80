"""register_all_facelib_datasets: names, metadata, laziness, idempotency, the real shared root."""
import os
import sys
import types

import pytest

import facelib  # noqa: F401
from detectron2.data import DatasetCatalog, MetadataCatalog
from facelib.data.datasets.builtin import FACELIB_DATASET_NAMES, register_all_facelib_datasets
from facelib.paths import shared_data_root

SYNTH = "facelib.data.datasets.synthetic"

EXPECTED_TYPES = {
    "widerface_train": "wider_face", "widerface_val": "wider_face", "widerface_test": "wider_face",
    "widerface_val200": "wider_face", "mafa_train": "mafa", "mafa_test": "mafa", "sfs_train": "sfs",
    "sfs_val": "sfs", "fddb": "fddb", "afw": "afw", "pascal_face": "pascal_face",
    "facemask_train": "facemask", "facemask_val": "facemask",
    **{f"fddb_fold_{k:02d}": "fddb" for k in range(1, 11)},
}


@pytest.fixture
def catalogs(monkeypatch):
    """Restore both catalogs after the test and stub the synthetic module (another module's job)."""
    saved_d, saved_m = dict(DatasetCatalog), dict(MetadataCatalog)
    calls = []
    stub = types.ModuleType(SYNTH)
    stub.register_all_synthetic = lambda *a, **k: calls.append((a, k))
    monkeypatch.setitem(sys.modules, SYNTH, stub)
    yield calls
    DatasetCatalog.clear()
    DatasetCatalog.update(saved_d)
    MetadataCatalog.clear()
    MetadataCatalog.update(saved_m)


def test_registers_every_name_lazily(tmp_path, catalogs):
    root = str(tmp_path / "no_such_root")
    register_all_facelib_datasets(root)  # never touches the (missing) datasets
    assert not os.path.exists(root)
    assert sorted(EXPECTED_TYPES) == sorted(FACELIB_DATASET_NAMES)
    for name, etype in EXPECTED_TYPES.items():
        assert name in DatasetCatalog.list()
        meta = MetadataCatalog.get(name)
        assert meta.thing_classes == ["face"] and meta.evaluator_type == etype
        assert meta.get("dataset_root").startswith(root)
        assert meta.get("gt_mat_dir") is None
    assert MetadataCatalog.get("widerface_val200").dataset_root == os.path.join(root, "widerface_val200")
    assert MetadataCatalog.get("sfs_val").dataset_root == os.path.join(root, "sfs", "val")
    assert MetadataCatalog.get("fddb_fold_07").folds == [7]
    assert len(catalogs) == 1
    with pytest.raises(FileNotFoundError, match="FDDB-folds"):
        DatasetCatalog.get("fddb")


def test_idempotent_and_root_change(tmp_path, catalogs):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    register_all_facelib_datasets(a)
    register_all_facelib_datasets(a)
    assert MetadataCatalog.get("afw").dataset_root == os.path.join(a, "afw")
    register_all_facelib_datasets(b)
    assert MetadataCatalog.get("afw").dataset_root == os.path.join(b, "afw")
    assert len(catalogs) == 3


def test_default_root_from_env(tmp_path, catalogs, monkeypatch):
    monkeypatch.setenv("FACELIB_DATASETS", str(tmp_path / "env_root"))
    register_all_facelib_datasets()
    assert MetadataCatalog.get("facemask_val").dataset_root == os.path.join(str(tmp_path / "env_root"), "facemask")


def test_gt_mat_dir_when_present(tmp_path, catalogs):
    gt = tmp_path / "widerface" / "eval_tools" / "ground_truth"
    gt.mkdir(parents=True)
    register_all_facelib_datasets(str(tmp_path))
    assert MetadataCatalog.get("widerface_val").gt_mat_dir == str(gt)
    assert MetadataCatalog.get("widerface_val200").gt_mat_dir == str(gt)
    # resized copy: its own boxes, the official face lists
    assert MetadataCatalog.get("widerface_val200").gt_boxes_from_annotations is True
    assert MetadataCatalog.get("widerface_val").get("gt_boxes_from_annotations") is None
    assert MetadataCatalog.get("widerface_train").get("gt_mat_dir") is None


def test_missing_synthetic_module_is_a_clear_error(tmp_path, catalogs, monkeypatch):
    monkeypatch.setitem(sys.modules, SYNTH, None)  # makes the import fail
    with pytest.raises(ImportError, match="synthetic is missing"):
        register_all_facelib_datasets(str(tmp_path))


def test_real_shared_root(catalogs):
    root = shared_data_root()
    if not os.path.isdir(root):
        pytest.skip(f"shared data not found at {root}")
    register_all_facelib_datasets(root)
    if os.path.isdir(os.path.join(root, "widerface_val200", "WIDER_val")):
        assert len(DatasetCatalog.get("widerface_val200")) == 200
    if os.path.isdir(os.path.join(root, "facemask")):
        assert len(DatasetCatalog.get("facemask_train")) == 513
    if os.path.isdir(os.path.join(root, "widerface", "eval_tools", "ground_truth")):
        assert MetadataCatalog.get("widerface_val").gt_mat_dir.endswith("eval_tools/ground_truth")
    if not os.path.isdir(os.path.join(root, "fddb", "originalPics")):
        with pytest.raises(FileNotFoundError, match="originalPics"):
            DatasetCatalog.get("fddb_fold_01")
    if not os.path.isdir(os.path.join(root, "widerface", "WIDER_val")):
        with pytest.raises(FileNotFoundError, match="WIDER_val/images"):
            DatasetCatalog.get("widerface_val")


def test_with_real_synthetic_module_if_present(tmp_path):
    """Once facelib.data.datasets.synthetic exists, calling twice must still not raise."""
    try:
        import facelib.data.datasets.synthetic  # noqa: F401
    except ImportError:
        pytest.skip("facelib.data.datasets.synthetic not written yet")
    saved_d, saved_m = dict(DatasetCatalog), dict(MetadataCatalog)
    try:
        register_all_facelib_datasets(str(tmp_path))
        register_all_facelib_datasets(str(tmp_path))
    finally:
        DatasetCatalog.clear()
        DatasetCatalog.update(saved_d)
        MetadataCatalog.clear()
        MetadataCatalog.update(saved_m)
