"""A trained NTC as a byte-level source codec (for the NTC + LDPC / NTC + capacity links).

Bitstream of one image (everything is counted by the link)::

    quality index (1 byte) | H, W (LEB128 varints) | len(z) (varint) | z string | y string

``z`` / ``y`` are the real rANS strings of CompressAI's EntropyBottleneck and
GaussianConditional. Qualities are indices into the checkpoints sorted by lambda, largest
first. Rate matching (:meth:`NTCCodec.choose`) does not trust that order: checkpoints of
different families (patch geometry, training length) are not a monotone ladder, so the
encoder decodes every fitting stream and sends the one whose reconstruction is best.

Example
-------
>>> codec = NTCCodec(["ntc-cifar10-q2", "ntc-cifar10-q1"])        # doctest: +SKIP
>>> data = codec.encode(img, codec.qualities[0])                  # doctest: +SKIP
>>> codec.decode(data, img.shape[:2]).shape                       # doctest: +SKIP
(32, 32, 3)
>>> q, data = codec.choose(img, budget_bits=2000)                 # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch

from ntscc_sim import zoo
from ntscc_sim.metrics import quality as image_quality
from ntscc_sim.models.ntc import pad_to

__all__ = ["NTCCodec", "read_varint", "write_varint"]

#: Images whose stream sizes and reconstruction scores :meth:`NTCCodec.choose` remembers.
STATS_CACHE_SIZE = 100_000
#: Decoded images kept beyond one per quality (keyed by the stream's bytes): the encoder's choice
#: decodes every fitting stream and the receiver then decodes the chosen one again; that second
#: decode is a lookup.
DECODE_CACHE_EXTRA = 1


def write_varint(n: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """``(value, next position)``; ValueError on a truncated varint."""
    n, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated NTC bitstream header")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


class NTCCodec:
    """Source codec over one or more trained NTC checkpoints (zoo names or paths).

    Attributes: ``name``, ``qualities`` (``[0, 1, ...]``, best first), ``checkpoints``
    and ``lambdas`` (per quality). ``encode(image uint8 [H, W, 3], quality) -> bytes``,
    ``decode(bytes, (H, W)) -> uint8 [H, W, 3]``, ``choose(image, budget_bits) -> (quality,
    bytes)``. The last ``memory_cache_size`` encodings are kept in memory (LRU).
    """

    def __init__(self, checkpoints, device: str = "cpu", memory_cache_size: int = 256):
        if isinstance(checkpoints, str):
            checkpoints = [checkpoints]
        if not checkpoints:
            raise ValueError("NTCCodec needs at least one checkpoint")
        loaded = []
        for c in checkpoints:
            _, model, config, _ = zoo.load(c, device, kind="ntc", cache=True)
            loaded.append((float(config["model"]["lambda"]), str(c), model, config["model"]["distortion"]))
        if len({d for *_, d in loaded}) > 1:
            raise ValueError("NTC checkpoints of one codec must share the distortion (mse or ms-ssim)")
        loaded.sort(key=lambda t: -t[0])  # best (largest lambda) first
        if len(loaded) > 255:
            raise ValueError("at most 255 NTC checkpoints per codec")
        self.lambdas = [t[0] for t in loaded]
        self.checkpoints = [t[1] for t in loaded]
        self._models = [t[2] for t in loaded]
        self.qualities = list(range(len(loaded)))
        self.distortion = loaded[0][3]
        self.name = "ntc"
        self.device = device
        self.memory_cache_size = int(memory_cache_size)
        self._cache: OrderedDict = OrderedDict()
        self._image_stats: OrderedDict = OrderedDict()
        self._decoded: OrderedDict = OrderedDict()

    def _tensor(self, image: np.ndarray, multiple: int) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255.0)
        return pad_to(x, multiple).to(self.device)

    @torch.no_grad()
    def encode(self, image: np.ndarray, quality: int) -> bytes:
        key = (hashlib.sha1(image.tobytes()).hexdigest(), image.shape, int(quality))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        model = self._models[int(quality)]
        enc = model.compress(self._tensor(image, model.pad_multiple))
        y, z = enc["strings"][0][0], enc["strings"][1][0]
        h, w = image.shape[:2]
        data = bytes([int(quality)]) + write_varint(h) + write_varint(w) + write_varint(len(z)) + z + y
        if self.memory_cache_size > 0:
            self._cache[key] = data
            while len(self._cache) > self.memory_cache_size:
                self._cache.popitem(last=False)
        return data

    def choose(self, image: np.ndarray, budget_bits: int):
        """Encoder-side rate matching: ``(quality, bytes)`` of the fitting stream with the best
        reconstruction, or ``(None, None)`` when none fits ``budget_bits``.

        Every quality is encoded; each one that fits is decoded (deterministic, so the encoder sees
        exactly what the receiver will) and scored by the codec's distortion (PSNR for ``mse``,
        MS-SSIM for ``ms-ssim``); ties go to the smaller stream. With one family of checkpoints
        this is the largest fitting lambda; with mixed families it never sends a worse model
        because its lambda is larger. Each image's sizes and scores are remembered (a few numbers
        per image, :data:`STATS_CACHE_SIZE` images), so a sweep over budgets encodes and decodes
        every quality of an image once.
        """
        stats = self._stats(image)  # per quality: [bits, score or None]
        fits = [q for q in self.qualities if stats[q][0] <= budget_bits]
        if not fits:
            return None, None
        ms = self.distortion == "ms-ssim"
        for q in fits:
            if stats[q][1] is None:
                m = image_quality(image, self.decode(self.encode(image, q), image.shape[:2]), ms_ssim=ms)
                stats[q][1] = float(m["ms_ssim_db"] if ms else m["psnr"])
        best = max(fits, key=lambda q: (stats[q][1], -stats[q][0]))
        return best, self.encode(image, best)

    def _stats(self, image: np.ndarray) -> list:
        key = (hashlib.sha1(image.tobytes()).hexdigest(), image.shape)
        if key not in self._image_stats:
            self._image_stats[key] = [[len(self.encode(image, q)) * 8, None] for q in self.qualities]
            while len(self._image_stats) > STATS_CACHE_SIZE:
                self._image_stats.popitem(last=False)
        self._image_stats.move_to_end(key)
        return self._image_stats[key]

    def decode(self, data: bytes, shape) -> np.ndarray:
        """uint8 image ``[H, W, 3]`` of a stream (deterministic; the last ``len(qualities) +``
        :data:`DECODE_CACHE_EXTRA` streams are remembered, copies are returned)."""
        key = (hashlib.sha1(bytes(data)).digest(), tuple(shape[:2]))
        if key in self._decoded:
            self._decoded.move_to_end(key)
            return self._decoded[key].copy()
        out = self._decode(data, shape)
        self._decoded[key] = out.copy()
        while len(self._decoded) > len(self.qualities) + DECODE_CACHE_EXTRA:
            self._decoded.popitem(last=False)
        return out

    @torch.no_grad()
    def _decode(self, data: bytes, shape) -> np.ndarray:
        if not data:
            raise ValueError("empty NTC bitstream")
        q = data[0]
        if q >= len(self._models):
            raise ValueError(f"NTC bitstream names quality {q}, codec has {len(self._models)}")
        h, pos = read_varint(data, 1)
        w, pos = read_varint(data, pos)
        nz, pos = read_varint(data, pos)
        if (h, w) != tuple(shape[:2]) or pos + nz > len(data):
            raise ValueError("corrupt NTC bitstream header")
        z, y = data[pos : pos + nz], data[pos + nz :]
        model = self._models[q]
        m = model.pad_multiple
        hp, wp = -(-h // m) * m, -(-w // m) * m
        zshape = (hp // m, wp // m)
        x_hat = model.decompress([[y], [z]], zshape)["x_hat"][0, :, :h, :w]
        return np.clip(np.rint(x_hat.permute(1, 2, 0).cpu().numpy() * 255.0), 0, 255).astype(np.uint8)
