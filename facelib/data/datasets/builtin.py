"""Register every facelib dataset with detectron2's ``DatasetCatalog`` / ``MetadataCatalog``.

``register_all_facelib_datasets(root)`` registers, lazily (nothing is read until a dataset is
requested from ``DatasetCatalog.get``), the datasets below under ``root`` (default
``facelib.paths.datasets_root()``: ``$FACELIB_DATASETS`` or ``./datasets``), then calls
``facelib.data.datasets.synthetic.register_all_synthetic()``.

Expected layouts under ``root`` (each module's docstring gives the file formats)::

    widerface/                                         widerface_{train,val,test}   (wider_face.py)
        WIDER_{train,val,test}/images/<event>/<name>.jpg
        wider_face_split/wider_face_{train,val}_bbx_gt.txt   (or wider_face_{train,val}.mat)
        wider_face_split/wider_face_test_filelist.txt        (or wider_face_test.mat)
        eval_tools/ground_truth/wider_face_val.mat, wider_{easy,medium,hard}_val.mat  (optional)
    widerface_val200/                                  widerface_val200: a 200-image val subset
        WIDER_val/images/<event>/<name>.jpg
        wider_face_split/wider_face_val_bbx_gt.txt
    mafa/                                              mafa_{train,test}           (mafa.py)
        LabelTrainAll.mat, LabelTestAll.mat   (or MAFA-Label-{Train,Test}/...)
        train-images/images/<imgName>, test-images/images/<name>   (or without the images/ level)
    sfs/{train,val}/                                   sfs_{train,val}             (sfs.py)
        images/<name>.jpg, masks/<name>.png, faces.txt
    fddb/                                              fddb, fddb_fold_01..10      (fddb.py)
        originalPics/<path>.jpg
        FDDB-folds/FDDB-fold-XX.txt, FDDB-folds/FDDB-fold-XX-ellipseList.txt
    afw/                                               afw                         (afw_pascal.py)
        new_annotations_AFW.mat (or anno2.mat), images/<name>.jpg
    pascal_face/                                       pascal_face                 (afw_pascal.py)
        Annotations_Face_PASCALLayout_large_fixed.mat, images/<name>.jpg
    facemask/                                          facemask_{train,val}        (facemask_voc.py)
        images/maksssksksss<N>.jpg, annotations/maksssksksss<N>.xml

Metadata of every dataset: ``thing_classes=["face"]``, ``evaluator_type`` (``wider_face``,
``mafa``, ``sfs``, ``fddb``, ``afw``, ``pascal_face``, ``facemask``) and ``dataset_root`` (the
dataset's own folder, e.g. ``<root>/widerface``); the WIDER FACE and MAFA datasets carry their
``split``. ``widerface_val`` and ``widerface_val200``
also get ``gt_mat_dir = <root>/widerface/eval_tools/ground_truth`` when that folder exists (the
evaluator restricts it to the images of the dataset evaluated); ``widerface_val200``, whose images
were resized, also gets ``gt_boxes_from_annotations = True`` (its boxes come from its own annotation
file, the settings' face lists from the ``.mat`` files). This ``isdir`` is the only disk access
made at registration. FDDB datasets carry ``folds``.

Calling the function again is harmless: a name already registered with the same
``dataset_root`` is left as is; one registered with another root is replaced.
"""
import logging
import os
from typing import Callable, Dict, Optional

from detectron2.data import DatasetCatalog, MetadataCatalog

from facelib.paths import datasets_root

from .afw_pascal import load_afw, load_pascal_face
from .facemask_voc import load_facemask
from .fddb import load_fddb
from .mafa import load_mafa
from .sfs import load_sfs
from .wider_face import load_wider_face

logger = logging.getLogger(__name__)

__all__ = ["register_all_facelib_datasets", "register_face_dataset", "FACELIB_DATASET_NAMES"]

FACELIB_DATASET_NAMES = (
    ["widerface_train", "widerface_val", "widerface_test", "widerface_val200"]
    + ["mafa_train", "mafa_test", "sfs_train", "sfs_val", "fddb"]
    + [f"fddb_fold_{k:02d}" for k in range(1, 11)]
    + ["afw", "pascal_face", "facemask_train", "facemask_val"]
)


def register_face_dataset(name: str, loader: Callable[[], list], evaluator_type: str,
                          dataset_root: str, **extra_metadata) -> None:
    """Register ``loader`` (called lazily) under ``name`` with the facelib metadata. Re-registering
    with the same ``dataset_root`` is a no-op; with a different one it replaces the entry."""
    if name in DatasetCatalog.list():
        if MetadataCatalog.get(name).get("dataset_root") == dataset_root:
            return
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(
        thing_classes=["face"], evaluator_type=evaluator_type, dataset_root=dataset_root, **extra_metadata
    )


def _wider_gt_mat_dir(root: str) -> Dict[str, str]:
    gt = os.path.join(root, "widerface", "eval_tools", "ground_truth")
    return {"gt_mat_dir": gt} if os.path.isdir(gt) else {}


def register_all_facelib_datasets(root: Optional[str] = None) -> None:
    """Register every facelib dataset (names in ``FACELIB_DATASET_NAMES``) and the synthetic ones.
    ``root``: the datasets root; ``None`` or "" means ``facelib.paths.datasets_root()``."""
    root = datasets_root(root or "")

    wider = os.path.join(root, "widerface")
    gt = _wider_gt_mat_dir(root)
    for split in ("train", "val", "test"):
        name = f"widerface_{split}"
        register_face_dataset(
            name,
            lambda d=wider, s=split, n=name: load_wider_face(d, s, dataset_name=n),
            "wider_face", wider, split=split, **(gt if split == "val" else {}),
        )
    val200 = os.path.join(root, "widerface_val200")
    register_face_dataset(
        "widerface_val200",
        lambda d=val200: load_wider_face(d, "val", dataset_name="widerface_val200"),
        "wider_face", val200, split="val", **gt,
        # resized images: boxes of its own annotation file, face lists of the official .mat files
        **({"gt_boxes_from_annotations": True} if gt else {}),
    )

    mafa = os.path.join(root, "mafa")
    for split in ("train", "test"):
        name = f"mafa_{split}"
        register_face_dataset(
            name, lambda d=mafa, s=split, n=name: load_mafa(d, s, dataset_name=n), "mafa", mafa,
            split=split,
        )

    for split in ("train", "val"):
        name = f"sfs_{split}"
        d = os.path.join(root, "sfs", split)
        register_face_dataset(name, lambda d=d, n=name: load_sfs(d, dataset_name=n), "sfs", d)

    fddb = os.path.join(root, "fddb")
    register_face_dataset(
        "fddb", lambda d=fddb: load_fddb(d, dataset_name="fddb"), "fddb", fddb, folds=list(range(1, 11))
    )
    for k in range(1, 11):
        name = f"fddb_fold_{k:02d}"
        register_face_dataset(
            name, lambda d=fddb, k=k, n=name: load_fddb(d, folds=[k], dataset_name=n), "fddb", fddb,
            folds=[k],
        )

    afw = os.path.join(root, "afw")
    register_face_dataset("afw", lambda d=afw: load_afw(d, dataset_name="afw"), "afw", afw)
    pascal = os.path.join(root, "pascal_face")
    register_face_dataset(
        "pascal_face", lambda d=pascal: load_pascal_face(d, dataset_name="pascal_face"),
        "pascal_face", pascal,
    )

    facemask = os.path.join(root, "facemask")
    for split in ("train", "val"):
        name = f"facemask_{split}"
        register_face_dataset(
            name, lambda d=facemask, s=split, n=name: load_facemask(d, s, dataset_name=n),
            "facemask", facemask,
        )

    try:
        from .synthetic import register_all_synthetic
    except ImportError as e:
        if e.name in ("facelib.data.datasets.synthetic", __package__ + ".synthetic"):
            raise ImportError(
                "facelib.data.datasets.synthetic is missing: register_all_facelib_datasets() also "
                "registers the embedded synthetic set, which lives in that module."
            ) from e
        raise
    register_all_synthetic()
