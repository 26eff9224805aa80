"""facelib face datasets: loaders returning detectron2 dataset dicts (``docs/data_format.md``) and
their registration (:func:`register_all_facelib_datasets`, layouts in :mod:`.builtin`).

Importing this package registers nothing; call ``register_all_facelib_datasets(root)`` (root
``""``/``None`` = ``$FACELIB_DATASETS`` or ``./datasets``).
"""
from .common import (
    DatasetFormatError,
    attach_image_sizes,
    check_file,
    check_root,
    clip_xywh,
    drop_degenerate_boxes,
    make_face_annotation,
    read_image_size,
)
from .wider_face import load_wider_face, parse_wider_face_mat, parse_wider_face_txt
from .mafa import load_mafa, parse_mafa_mat
from .sfs import load_sfs, parse_sfs_faces_txt
from .fddb import ellipse_to_xywh, load_fddb, parse_fddb_ellipse_list
from .afw_pascal import load_afw, load_pascal_face, parse_face_eval_mat
from .facemask_voc import load_facemask, parse_facemask_xml
from .builtin import FACELIB_DATASET_NAMES, register_all_facelib_datasets, register_face_dataset

__all__ = [k for k in globals().keys() if not k.startswith("_")]
