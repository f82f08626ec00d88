"""JPEG, WebP and JPEG 2000 source codecs through Pillow (same protocol as :mod:`baselines.bpg`).

``quality`` meanings (``qualities`` lists them best first):

* JPEG: libjpeg quality 1..95 (Pillow), 4:2:0 chroma subsampling (Pillow's default), optimised
  Huffman tables; the bytes are a complete JFIF file.
* WebP: lossy libwebp quality 0..100, ``method=6`` (slowest / best); complete RIFF file.
* JPEG 2000: OpenJPEG, irreversible 9/7 wavelet with the RGB->YCbCr component transform, one
  quality layer at compression ratio ``quality`` (bpp = 24 / quality; higher = fewer bits), raw
  ``.j2k`` codestream (no JP2 boxes).

Example
-------
>>> import numpy as np
>>> from baselines.image_codecs import JPEGCodec
>>> codec = JPEGCodec()
>>> img = np.zeros((32, 48, 3), np.uint8)
>>> codec.decode(codec.encode(img, 75), shape=(32, 48)).shape
(32, 48, 3)
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, features

__all__ = ["PillowCodec", "JPEGCodec", "WebPCodec", "JPEG2000Codec", "available_codecs", "get_codec"]


class PillowCodec:
    """Base class: encode with ``Image.save(format=...)``, decode with ``Image.open``."""

    name = "pillow"
    format = ""
    feature = ""
    qualities: list[int] = []

    def __init__(self):
        if self.feature and not features.check(self.feature):
            raise RuntimeError(f"Pillow was built without {self.feature} support")

    @property
    def description(self) -> str:
        return f"{self.name} via Pillow {Image.__version__}"

    def _save_kwargs(self, quality: int) -> dict:
        raise NotImplementedError

    def _check(self, image: np.ndarray, quality) -> tuple[np.ndarray, int]:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
        q = int(quality)
        lo, hi = min(self.qualities), max(self.qualities)
        if q != quality or not lo <= q <= hi:
            raise ValueError(f"{self.name} quality must be an integer in {lo}..{hi}, got {quality!r}")
        return np.ascontiguousarray(image), q

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        """Encode uint8 [H, W, 3] RGB; returns the complete file bytes."""
        image, q = self._check(image, quality)
        buf = io.BytesIO()
        Image.fromarray(image, "RGB").save(buf, format=self.format, **self._save_kwargs(q))
        return buf.getvalue()

    def decode(self, data: bytes, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Decode to uint8 [H, W, 3]; ValueError if Pillow cannot decode or the size differs."""
        try:
            with Image.open(io.BytesIO(bytes(data))) as im:
                if shape is not None and (im.height, im.width) != tuple(shape)[:2]:
                    # checked on the header, before a corrupted size makes Pillow allocate it
                    raise ValueError(f"size {(im.height, im.width)} != expected {tuple(shape)[:2]}")
                im.load()
                rgb = np.asarray(im.convert("RGB")).copy()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
            raise ValueError(f"{self.name}: cannot decode stream ({e})") from e
        return rgb

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class JPEGCodec(PillowCodec):
    """Baseline JPEG (libjpeg via Pillow), quality 95 (best) .. 1."""

    name = "jpeg"
    format = "JPEG"
    feature = "jpg"
    qualities = list(range(95, 0, -1))

    def _save_kwargs(self, quality: int) -> dict:
        return {"quality": quality, "optimize": True, "subsampling": "4:2:0"}


class WebPCodec(PillowCodec):
    """Lossy WebP (libwebp via Pillow), quality 100 (best) .. 0."""

    name = "webp"
    format = "WEBP"
    feature = "webp"
    qualities = list(range(100, -1, -1))

    def _save_kwargs(self, quality: int) -> dict:
        return {"quality": quality, "method": 6, "lossless": False}


class JPEG2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG via Pillow); quality = compression ratio 2 (best) .. 400."""

    name = "jpeg2000"
    format = "JPEG2000"
    feature = "jpg_2000"
    qualities = [2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160,
                 200, 256, 320, 400]

    def _save_kwargs(self, quality: int) -> dict:
        return {
            "irreversible": True,
            "mct": 1,  # RGB -> YCbCr component transform (Pillow's default is none)
            "quality_mode": "rates",
            "quality_layers": [float(quality)],
            "no_jp2": True,
        }


_CODECS = {"jpeg": JPEGCodec, "webp": WebPCodec, "jpeg2000": JPEG2000Codec}


def available_codecs() -> list[str]:
    """Names of the Pillow codecs usable with this Pillow build."""
    return [n for n, cls in _CODECS.items() if features.check(cls.feature)]


def get_codec(name: str, **kwargs):
    """Codec by name: ``"bpg"``, ``"jpeg"``, ``"webp"`` or ``"jpeg2000"``."""
    if name == "bpg":
        from baselines.bpg import BPGCodec

        return BPGCodec(**kwargs)
    if name not in _CODECS:
        raise ValueError(f"unknown codec {name!r}; choose from bpg, {', '.join(_CODECS)}")
    return _CODECS[name](**kwargs)
