"""Training and validation images for the training loop.

Every batch is a pure function of ``(seed, step)``: the sample order is an
epoch-wise permutation seeded by ``(seed, epoch)``, crops and flips are drawn
from ``(seed, step)``. A resumed run therefore sees exactly the batches it
would have seen without the interruption.

* ``cifar10``: the five ``data_batch_*`` pickles (via
  :class:`ntscc_sim.datasets.Cifar10Images`); validation on the last ``val_limit``
  training images, held out from training (``val_split: holdout``, the default), or on
  the first ``val_limit`` images of ``test_batch`` (``val_split: test``).
* ``folder``: every image of ``path`` held in memory as uint8, random square
  crops of size ``crop`` (images smaller than the crop are edge-padded);
  validation on centre crops (``val_crop``, default ``crop``) of ``val_path``.

Batches are float32 [B, 3, H, W] in [0, 1] (uint8 / 255).

Example
-------
>>> data = TrainData(cfg)                                   # doctest: +SKIP
>>> data.batch(0).shape                                     # doctest: +SKIP
torch.Size([64, 3, 32, 32])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import derive_seed
from ..datasets import Cifar10Images, DatasetError, FolderImages
from ..scenario.errors import ScenarioError
from .config import expand_path


def _to_chw(img) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


def _gen(*parts) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(*parts))


def _open(cls, key, *args, **kwargs):
    try:
        return cls(*args, **kwargs)
    except DatasetError as exc:
        raise ScenarioError(key, str(exc)) from None


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre crop of a [C, H, W] tensor to at most ``size`` x ``size``."""
    h, w = x.shape[-2:]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top : top + ch, left : left + cw]


def _folder_val(spec: dict, val_key: str, val_path) -> torch.Tensor:
    val = _open(FolderImages, val_key, val_path, limit=spec["val_limit"])
    vc = int(spec.get("val_crop") or spec["crop"])
    crops = [centre_crop(_to_chw(img), vc) for _, img in val]
    shapes = {tuple(c.shape) for c in crops}
    if len(shapes) != 1:
        raise ValueError(f"validation crops differ in size {sorted(shapes)}; choose a val_crop <= the smallest image side")
    return torch.stack(crops)


def _cifar_train(spec: dict, path) -> torch.Tensor:
    train = _open(Cifar10Images, "data.path", path, split="train")
    return torch.from_numpy(train.array()).permute(0, 3, 1, 2).contiguous()  # uint8 [N,3,32,32]


def _holdout(images: torch.Tensor, spec: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``val_split: holdout``: (training images, the last ``val_limit`` held out)."""
    n_val = int(spec["val_limit"])
    if n_val >= len(images):
        raise ValueError(f"data.val_limit: {n_val} leaves no training images out of {len(images)}")
    return images[:-n_val], images[-n_val:].contiguous()


def _split(spec: dict) -> tuple:
    path = expand_path(spec["path"])
    val_key = "data.val_path" if spec.get("val_path") else "data.path"
    return path, val_key, expand_path(spec.get("val_path") or spec["path"])


def validation_images(config: dict) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]``: the validation images of a resolved training config, without
    reading the training images (except CIFAR-10 ``val_split: holdout``, whose validation images
    are the tail of the training batches). Same images, same order as :class:`TrainData` uses."""
    spec = config["data"]
    path, val_key, val_path = _split(spec)
    if spec["kind"] == "folder":
        return _folder_val(spec, val_key, val_path)
    if spec["kind"] == "cifar10":
        if spec.get("val_split", "test") == "holdout":
            return _holdout(_cifar_train(spec, path), spec)[1]
        val = _open(Cifar10Images, val_key, val_path, split="test", limit=spec["val_limit"])
        return torch.from_numpy(val.array()).permute(0, 3, 1, 2).contiguous()
    raise ValueError(f"unknown data kind {spec['kind']!r}")  # pragma: no cover - validated earlier


def as_batches(images: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """uint8 ``[N, 3, H, W]`` as a list of float ``[b, 3, H, W]`` tensors in [0, 1]."""
    return [images[i : i + batch_size].float() / 255.0 for i in range(0, len(images), batch_size)]


class TrainData:
    """Deterministic batches for one resolved training config (``config["data"]``)."""

    def __init__(self, config: dict):
        spec = config["data"]
        self.seed = int(config.get("seed", 0))
        self.batch_size = int(spec["batch_size"])
        self.flip = bool(spec.get("flip", True))
        self.kind = spec["kind"]
        path, _, _ = _split(spec)
        self._val = None
        if self.kind == "cifar10":
            images = _cifar_train(spec, path)
            self.crop = None
            if spec.get("val_split", "test") == "holdout":  # the last val_limit training images
                images, self._val = _holdout(images, spec)
            self._images = images[: spec["limit"]] if spec.get("limit") else images
        elif self.kind == "folder":
            train = _open(FolderImages, "data.path", path, limit=spec.get("limit"))
            self._images = [_to_chw(img) for _, img in train]
            self.crop = int(spec["crop"])
        else:  # pragma: no cover - validated earlier
            raise ValueError(f"unknown data kind {self.kind!r}")
        if self._val is None:
            self._val = validation_images(config)
        self._perm_epoch = -1
        self._perm = None

    def __len__(self) -> int:
        """Number of training images."""
        return len(self._images)

    def epoch(self, step: int) -> int:
        """Epoch (full passes over the training images) reached at ``step``."""
        return (int(step) * self.batch_size) // len(self)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            self._perm = torch.randperm(len(self), generator=_gen(self.seed, "train-order", epoch))
            self._perm_epoch = epoch
        return self._perm

    def indices(self, step: int) -> list[int]:
        """Training-image indices of the batch at ``step``."""
        n, out = len(self), []
        pos = int(step) * self.batch_size
        while len(out) < self.batch_size:
            epoch, off = divmod(pos, n)
            take = min(self.batch_size - len(out), n - off)
            out.extend(self._permutation(epoch)[off : off + take].tolist())
            pos += take
        return out

    def batch(self, step: int) -> torch.Tensor:
        """Float [B, 3, H, W] in [0, 1] for ``step`` (H = W = 32 for CIFAR-10, = crop for folders)."""
        idx = self.indices(step)
        gen = _gen(self.seed, "train-augment", int(step))
        if self.kind == "cifar10":
            x = self._images[idx]
        else:
            tiles = []
            for i in idx:
                img = self._images[i]
                h, w = img.shape[-2:]
                if h < self.crop or w < self.crop:
                    img = F.pad(img[None].float(), (0, max(0, self.crop - w), 0, max(0, self.crop - h)), mode="replicate")[0].to(torch.uint8)
                    h, w = img.shape[-2:]
                top = int(torch.randint(0, h - self.crop + 1, (), generator=gen))
                left = int(torch.randint(0, w - self.crop + 1, (), generator=gen))
                tiles.append(img[:, top : top + self.crop, left : left + self.crop])
            x = torch.stack(tiles)
        if self.flip:
            mask = torch.rand(len(idx), generator=gen) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(-1), x)
        return x.float() / 255.0

    def val_batches(self, batch_size: int | None = None):
        """Validation images as a list of float [b, 3, H, W] tensors in [0, 1]."""
        return as_batches(self._val, int(batch_size or self.batch_size))

    @property
    def num_val(self) -> int:
        return len(self._val)
