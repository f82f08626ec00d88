"""Image datasets for sweeps: ``folder``, ``cifar10``, ``builtin`` (and ``banana``, a 2-D source).

Every image dataset is a sequence of ``(image_id, uint8 array [H, W, 3])``.
Datasets are always configured by path; the library never requires ../shared.

Example
-------
>>> ds = build_dataset({"kind": "builtin", "limit": 2})
>>> image_id, img = ds[0]
>>> img.dtype, img.shape[2]
(dtype('uint8'), 3)
"""

from .images import (
    DATASET_KINDS,
    BuiltinImages,
    Cifar10Images,
    DatasetError,
    FolderImages,
    ImageDataset,
    InMemoryImages,
    build_dataset,
    load_image,
)

__all__ = [
    "DATASET_KINDS",
    "BuiltinImages",
    "Cifar10Images",
    "DatasetError",
    "FolderImages",
    "ImageDataset",
    "InMemoryImages",
    "build_dataset",
    "load_image",
]
