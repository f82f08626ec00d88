"""A digital link: bytes -> CRC + 5G LDPC code blocks -> QAM -> channel -> bytes.

Components: the 5G LDPC code :class:`ntscc_sim.fec.LDPCCode` (numba QC encoder,
bit-exact with Sionna's ``LDPC5GEncoder``), Gray QAM from :mod:`ntscc_sim.mapping`
(exact "app" LLRs by default; ``demapper="sionna-app"`` uses Sionna's
``Mapper``/``Demapper("app")`` instead), the scenario's channel
(:class:`ntscc_sim.channels.Channel`, perfect-CSI zero-forcing equalisation with
the per-symbol effective noise given to the demapper) and the configured LDPC
decoder. Code blocks of many images are decoded together in large batches.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sionna.phy.mapping import Demapper, Mapper

from ntscc_sim._threads import kernel_threads
from ntscc_sim.channels import Channel, noise_variance
from ntscc_sim.fec import LDPCCode, crc_attach, crc_check
from ntscc_sim.mapping import QAMDemapper, QAMMapper

from .budget import CRC_BITS, LENGTH_BITS, channel_bits, segment
from .mcs import MCS


@lru_cache(maxsize=64)
def _cached_code(k: int, n: int, decoder: str, num_iter: int) -> LDPCCode:
    return LDPCCode(k=k, n=n, decoder=decoder, num_iter=num_iter)


def _code(k: int, n: int, decoder: str, num_iter: int) -> LDPCCode:
    code = _cached_code(k, n, decoder, num_iter)
    code.num_threads = kernel_threads()
    return code


DEMAPPERS = ("app", "maxlog", "sionna-app")


@lru_cache(maxsize=8)
def _mapper(bps: int, demapper: str = "app"):
    """(bits uint8 [1, n] -> complex64 tensor [1, n/bps], (y, no) -> float32 [1, n] logits)."""
    if demapper == "sionna-app":
        sm, sd = Mapper("qam", bps), Demapper("app", "qam", bps)
        return (lambda bits: sm(torch.from_numpy(bits.astype(np.float32)))), (lambda y, no: sd(y, no).numpy())
    m = QAMMapper(bps)
    return (lambda bits: torch.from_numpy(m(bits))), QAMDemapper(bps, demapper)


def bytes_to_bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    return np.packbits(bits.astype(np.uint8)).tobytes()


class Transmission:
    """One image's payload, segmented and encoded, ready for the channel."""

    def __init__(self, payload: bytes, mcs: MCS, k: int):
        self.payload = payload
        header = bytes_to_bits(len(payload).to_bytes(LENGTH_BITS // 8, "big"))
        self.bits = np.concatenate([header, bytes_to_bits(payload)])
        self.blocks = segment(len(self.bits), k, mcs.rate, mcs.bits_per_symbol)
        self.mcs = mcs

    @property
    def symbols(self) -> int:
        return channel_bits(self.blocks) // self.mcs.bits_per_symbol

    def block_info_bits(self) -> list[np.ndarray]:
        """Per block: the payload slice zero-padded to ``k - 24``."""
        out, pos = [], 0
        for b in self.blocks:
            chunk = self.bits[pos : pos + b.payload]
            pos += b.payload
            if len(chunk) < b.payload:
                chunk = np.concatenate([chunk, np.zeros(b.payload - len(chunk), np.uint8)])
            out.append(chunk)
        return out


class DigitalLink:
    """Send byte payloads of several images over the channel at one SNR.

    Parameters
    ----------
    mcs : modulation and code rate.
    channel : :class:`ntscc_sim.channels.Channel`.
    k : information bits per full code block (CRC included), default 4096.
    decoder : ``minsum`` (numba layered normalised min-sum, default) or ``sionna-bp``.
    demapper : ``app`` (exact LLRs, ntscc_sim.mapping, default), ``maxlog`` or ``sionna-app``.

    ``send(payloads, snr_db, seeds)`` returns, per image, the received bytes or
    ``None`` when any code block fails its CRC (or the length field is invalid).

    Example
    -------
    >>> link = DigitalLink(MCS("16qam", 2/3), Channel("awgn"))
    >>> link.send([b"hello world"], 20.0, [1])[0]
    b'hello world'
    """

    def __init__(self, mcs: MCS, channel: Channel, k: int = 4096, decoder: str = "minsum", num_iter: int = 20, demapper: str = "app"):
        if demapper not in DEMAPPERS:
            raise ValueError(f"demapper must be one of {DEMAPPERS}, got {demapper!r}")
        self.mcs, self.channel, self.k = mcs, channel, k
        self.decoder, self.num_iter, self.demapper = decoder, num_iter, demapper

    def prepare(self, payload: bytes) -> Transmission:
        return Transmission(payload, self.mcs, self.k)

    def send(self, payloads, snr_db: float, seeds, residual_errors: bool = False):
        txs = [self.prepare(p) for p in payloads]
        bps = self.mcs.bits_per_symbol
        mapper, demapper = _mapper(bps, self.demapper)
        if isinstance(demapper, QAMDemapper):
            demapper.num_threads = kernel_threads()
        # encode per block type, then map and send each image with its own seed
        groups: dict[tuple, list] = {}
        coded = []
        for i, tx in enumerate(txs):
            info = tx.block_info_bits()
            cw = []
            for j, (b, u) in enumerate(zip(tx.blocks, info)):
                groups.setdefault((b.k, b.n), []).append((i, j, u))
                cw.append(None)
            coded.append(cw)
        for (k, n), items in groups.items():
            code = _code(k, n, self.decoder, self.num_iter)
            u = np.stack([it[2] for it in items])
            c = code.encode(crc_attach(u))
            for (i, j, _), row in zip(items, c):
                coded[i][j] = row
        llrs = []
        no = noise_variance(snr_db)
        for tx, cw, seed in zip(txs, coded, seeds):
            x = mapper(np.concatenate(cw)[None])
            y, h = self.channel(x, snr_db, seed=seed)
            x_hat, no_eff = Channel.equalize(y, h, no)
            llr = demapper(x_hat, no_eff if self.channel.kind != "awgn" else torch.tensor(no, dtype=torch.float32))[0]
            llrs.append(llr)
        # decode all blocks of the same shape together
        decoded = [[None] * len(tx.blocks) for tx in txs]
        ok = [[False] * len(tx.blocks) for tx in txs]
        for (k, n), items in groups.items():
            code = _code(k, n, self.decoder, self.num_iter)
            batch = []
            for i, j, _ in items:
                start = sum(b.n for b in txs[i].blocks[:j])
                batch.append(llrs[i][start : start + n])
            bits_hat, _ = code.decode(np.stack(batch).astype(np.float32))
            crc_ok = crc_check(bits_hat)
            for (i, j, _), b, good in zip(items, bits_hat, crc_ok):
                decoded[i][j] = b[: k - CRC_BITS]
                ok[i][j] = bool(good)
        out = []
        for tx, dec, good in zip(txs, decoded, ok):
            if not all(good) and not residual_errors:
                out.append(None)
                continue
            bits = np.concatenate(dec)
            length = int.from_bytes(bits_to_bytes(bits[:LENGTH_BITS]), "big")
            body = bits[LENGTH_BITS:]
            if length * 8 > len(body):
                out.append(None)
                continue
            out.append(bits_to_bytes(body[: length * 8]))
        return out, txs
