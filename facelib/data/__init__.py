"""Face datasets (detectron2 catalog registrations), augmentations and the dataset mapper."""


def register_all_facelib_datasets(root=None):
    """Register every facelib dataset (lazy: nothing is read until a dataset is used).
    See :mod:`facelib.data.datasets.builtin`."""
    from .datasets.builtin import register_all_facelib_datasets as _register

    return _register(root)
