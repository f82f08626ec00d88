"""Image dataset loaders."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

DATASET_KINDS = ("folder", "cifar10", "builtin", "banana")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")
BUILTIN_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field")
#: decoded images kept in memory per dataset (bytes): all of Kodak (28 MB) or BSDS500's test set
#: (90 MB), about 30 photos of 2048x1365; a larger dataset re-reads its files instead of growing
IMAGE_CACHE_BYTES = 256 * 2**20


class DatasetError(ValueError):
    """Invalid dataset configuration; ``key`` names the scenario key at fault."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def load_image(path) -> np.ndarray:
    """Read any PIL-readable image as uint8 RGB [H, W, 3] (grayscale, palette, RGBA converted)."""
    with Image.open(path) as im:
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            background = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(background, im)
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


class ImageCache:
    """Least-recently-used decoded images, at most ``max_bytes`` in all (the newest image is
    always kept). Memory stays bounded whatever the dataset's size."""

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = IMAGE_CACHE_BYTES if max_bytes is None else int(max_bytes)
        self._images: OrderedDict[str, np.ndarray] = OrderedDict()
        self.nbytes = 0

    def __contains__(self, image_id) -> bool:
        return image_id in self._images

    def __len__(self) -> int:
        return len(self._images)

    def get(self, image_id: str, load):
        """The image ``image_id``, from memory or from ``load()`` (then remembered)."""
        img = self._images.get(image_id)
        if img is not None:
            self._images.move_to_end(image_id)
            return img
        img = load()
        self._images[image_id] = img
        self.nbytes += img.nbytes
        while self.nbytes > self.max_bytes and len(self._images) > 1:
            self.nbytes -= self._images.popitem(last=False)[1].nbytes
        return img


class ImageDataset:
    """Base class: an indexable sequence of ``(image_id, uint8 [H, W, 3])``."""

    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int):
        image_id = self.ids[index]
        return image_id, self.get(image_id)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def get(self, image_id: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__}({len(self)} images)"


class FolderImages(ImageDataset):
    """All images (PNG, JPEG, ...) directly in ``path``, sorted by file name."""

    def __init__(self, path, limit: int | None = None):
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise DatasetError("dataset.path", f"dataset folder does not exist: {self.path}")
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DatasetError("dataset.path", f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder: {self.path}")
        if limit is not None:
            files = files[:limit]
        self._files = {p.name: p for p in files}
        self.ids = [p.name for p in files]
        self._cache = ImageCache()

    def get(self, image_id: str) -> np.ndarray:
        return self._cache.get(image_id, lambda: load_image(self._files[image_id]))


class Cifar10Images(ImageDataset):
    """CIFAR-10 in the official python-batch layout (``data_batch_1..5``, ``test_batch``).

    ``split`` is ``test`` (10,000 images) or ``train`` (50,000). Image ids are
    ``<batch>:<index>``.
    """

    def __init__(self, path, split: str = "test", limit: int | None = None):
        self.path = Path(path).expanduser()
        names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
        missing = [n for n in names if not (self.path / n).is_file()]
        if not self.path.is_dir() or missing:
            raise DatasetError("dataset.path", f"not a CIFAR-10 python-batch folder (missing {missing[0]}): {self.path}")
        self._arrays = {}
        self.ids = []
        for name in names:
            with open(self.path / name, "rb") as f:
                batch = pickle.load(f, encoding="latin1")
            data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            self._arrays[name] = data
            self.ids.extend(f"{name}:{i}" for i in range(len(data)))
            if limit is not None and len(self.ids) >= limit:
                break
        if limit is not None:
            self.ids = self.ids[:limit]

    def get(self, image_id: str) -> np.ndarray:
        name, idx = image_id.split(":")
        return np.ascontiguousarray(self._arrays[name][int(idx)])

    def array(self) -> np.ndarray:
        """All selected images as uint8 [N, 32, 32, 3]."""
        return np.stack([self.get(i) for i in self.ids])


class BuiltinImages(ImageDataset):
    """Natural photos bundled with scikit-image (no download, no ../shared needed).

    ``names`` chooses among astronaut (512x512), chelsea (300x451), coffee (400x600),
    rocket (427x640), motorcycle_left (500x741), hubble_deep_field (872x1000).
    ``crop`` optionally centre-crops each image to at most ``[H, W]``.
    """

    def __init__(self, names=None, limit: int | None = None, crop=None):
        import skimage.data

        names = list(names or BUILTIN_NAMES)
        unknown = [n for n in names if n not in BUILTIN_NAMES]
        if unknown:
            raise DatasetError("dataset.names", f"unknown builtin image {unknown[0]!r}; choose from {list(BUILTIN_NAMES)}")
        if limit is not None:
            names = names[:limit]
        self._dir = Path(skimage.data.__file__).parent
        self._crop = crop
        self.ids = list(names)
        self._cache = ImageCache()

    def get(self, image_id: str) -> np.ndarray:
        return self._cache.get(image_id, lambda: self._load(image_id))

    def _load(self, image_id: str) -> np.ndarray:
        img = load_image(next(self._dir.glob(image_id + ".*")))
        if self._crop is not None:
            h, w = min(self._crop[0], img.shape[0]), min(self._crop[1], img.shape[1])
            top, left = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
            img = img[top : top + h, left : left + w]
        return np.ascontiguousarray(img)


class InMemoryImages(ImageDataset):
    """Images already in memory, ``{image_id: uint8 [H, W, 3]}`` (e.g. read-only arrays from Ray's
    object store; ``get`` returns a writable copy)."""

    def __init__(self, images: dict):
        self._images = images
        self.ids = list(images)

    def get(self, image_id: str) -> np.ndarray:
        return np.array(self._images[image_id])


def build_dataset(spec: dict) -> ImageDataset:
    """Build an image dataset from a validated ``dataset:`` scenario section."""
    kind = spec.get("kind")
    limit = spec.get("limit")
    if kind == "folder":
        if not spec.get("path"):
            raise DatasetError("dataset.path", "dataset kind 'folder' needs a 'path'")
        return FolderImages(os.path.expandvars(str(spec["path"])), limit=limit)
    if kind == "cifar10":
        if not spec.get("path"):
            raise DatasetError("dataset.path", "dataset kind 'cifar10' needs a 'path'")
        return Cifar10Images(os.path.expandvars(str(spec["path"])), split=spec.get("split", "test"), limit=limit)
    if kind == "builtin":
        return BuiltinImages(spec.get("names"), limit=limit, crop=spec.get("crop"))
    if kind == "banana":
        raise DatasetError("dataset.kind", "dataset kind 'banana' is a 2-D source, not an image set; use it with the banana experiment")
    raise DatasetError("dataset.kind", f"unknown dataset kind {kind!r}; choose from {list(DATASET_KINDS)}")
