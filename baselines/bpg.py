"""BPG (Better Portable Graphics) source codec: HEVC intra coding of 8-bit RGB images.

Two backends produce the same file format (BPG, see libbpg ``doc/bpg_spec.txt``):

``"bpgenc"``
    The real ``bpgenc``/``bpgdec`` programs (libbpg 0.9.8) when they are on ``PATH``, run as
    ``bpgenc -q QP -f 444 -c ycbcr -b 8 -e x265 -m 8`` (CompressAI's ``bpg444`` settings).
``"x265"``
    No external program: HEVC intra through the libx265 bundled with PyAV, configured like
    bpgenc 0.9.8's ``x265_glue.c`` at its default compression level, with bpgenc's RGB->YCbCr
    conversion and padding done here in NumPy. The HEVC stream is repackaged into a real BPG
    file exactly as bpgenc does (VPS dropped, SPS reduced to bpgenc's "modified SPS", first start
    code stripped), so ``len(encode(...))`` is the size a BPG file of this HEVC stream has.
    Decoding rebuilds standard VPS/SPS NAL units from the BPG header, decodes with FFmpeg's HEVC
    decoder (PyAV) and converts YCbCr->RGB with libbpg's integer arithmetic.

``backend="auto"`` picks ``"bpgenc"`` when both programs are found, else ``"x265"``.
Encodings are cached in memory (LRU) and on disk, keyed by the SHA-256 of the image, the QP and
the codec settings/version, so a parameter sweep never encodes the same image twice.
See ``docs/bpg.md`` for what is counted and for the validation against published bpgenc results.

Example
-------
>>> import numpy as np
>>> from baselines.bpg import BPGCodec
>>> codec = BPGCodec(backend="x265", disk_cache=False)
>>> img = (np.arange(40 * 56 * 3) % 251).astype(np.uint8).reshape(40, 56, 3)
>>> data = codec.encode(img, 30)               # bytes of a BPG file
>>> rec = codec.decode(data, shape=(40, 56))   # uint8 [40, 56, 3]
>>> rec.shape, rec.dtype
((40, 56, 3), dtype('uint8'))
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from numba import njit

from ntscc_sim.files import atomic_write

__all__ = [
    "BPGCodec",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "default_cache_dir",
    "X265_PRESETS",
    "PUBLISHED_KODAK_BPG444",
]

#: x265 preset names indexed like ``x265_preset_names`` (bpgenc 0.9.8 uses ``preset_index =
#: compress_level``, default compress level 8 -> "veryslow").
X265_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)

#: Published bpgenc 0.9.8 results on the 24 Kodak images (mean over images per QP) from
#: CompressAI, ``results/image/kodak/bpg_444_x265_ycbcr.json`` (InterDigitalInc/CompressAI,
#: "BPG 8b 444 x265 ycbcr", "BPG version b'0.9.8'"), produced with
#: ``bpgenc -q QP -f 444 -e x265 -c ycbcr -b 8`` (default -m 8). Used for validation only.
PUBLISHED_KODAK_BPG444 = {
    "source": "InterDigitalInc/CompressAI results/image/kodak/bpg_444_x265_ycbcr.json",
    "bpp": [0.06776767306857638, 0.1610234578450521, 0.35155402289496523, 0.6846966213650174,
            1.1996654934353295, 1.9297120836046002, 3.0578757392035594, 4.703142801920573],
    "psnr-rgb": [26.19512806390954, 28.68154930675666, 31.5946565907943, 34.857473813062924,
                 38.259886899666974, 41.47887283561703, 44.70311031066196, 47.63251604714922],
    "ms-ssim": [0.8685900047421455, 0.9242047940691313, 0.9611444820960363, 0.9807986840605736,
                0.9904666990041733, 0.9949331854780515, 0.9975460593899091, 0.9988023291031519],
}

_BPG_MAGIC = b"BPG\xfb"
_BPG_FORMAT_444 = 3
_BPG_CS_YCBCR = 0
_CB_SIZE = 8  # bpgenc pads the picture to a multiple of 8 (its "cb_size")
_MAX_SIDE = 16384  # largest picture side accepted (HEVC level 6.2 allows 8192 x 4320)
_FORMAT_VERSION = 1  # bump when the produced bytes change for the same settings
_SIZE_TABLES: collections.OrderedDict = collections.OrderedDict()  # BPGCodec.known_sizes, per process
_SIZE_TABLES_MAX = 4096  # images

# --------------------------------------------------------------------------------------------
# Colour conversion: bpgenc's full-range BT.601 YCbCr (k_r = 0.299, k_b = 0.114) in fixed point
# --------------------------------------------------------------------------------------------
_KR, _KB = 0.299, 0.114
_ENC_SHIFT = 23  # bpgenc convert_init: c_shift = 31 - out_bit_depth, mult = 2^c_shift (8 -> 8 bit)
_ENC_MATRIX = np.array(
    [
        [_KR, 1 - _KR - _KB, _KB],
        [-0.5 * _KR / (1 - _KB), -0.5 * (1 - _KR - _KB) / (1 - _KB), 0.5],
        [0.5, -0.5 * (1 - _KR - _KB) / (1 - _KR), -0.5 * _KB / (1 - _KR)],
    ]
)
_ENC_COEF = np.rint(_ENC_MATRIX * (1 << _ENC_SHIFT)).astype(np.int64)  # lrint() in C
_DEC_SHIFT = 22  # libbpg convert_init: c_shift = 30 - out_bit_depth
_DEC_MULT = float(1 << _DEC_SHIFT)
_C_R_CR = int(np.rint(2 * (1 - _KR) * _DEC_MULT))
_C_G_CB = int(np.rint(2 * _KB * (1 - _KB) / (1 - _KB - _KR) * _DEC_MULT))
_C_G_CR = int(np.rint(2 * _KR * (1 - _KR) / (1 - _KB - _KR) * _DEC_MULT))
_C_B_CB = int(np.rint(2 * (1 - _KB) * _DEC_MULT))


def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """bpgenc's RGB -> YCbCr (``-c ycbcr``, full range, 8 bit), bit-exact.

    Args:
        image: uint8 array [H, W, 3] (RGB).

    Returns:
        uint8 array [3, H, W] (Y, Cb, Cr planes).
    """
    x = image.astype(np.int64)
    ycc = np.einsum("hwc,kc->khw", x, _ENC_COEF)
    ycc = (ycc + (1 << (_ENC_SHIFT - 1))) >> _ENC_SHIFT  # arithmetic shift = floor, as in C
    ycc[1:] += 128
    return np.clip(ycc, 0, 255).astype(np.uint8)


def ycbcr_to_rgb(planes: np.ndarray) -> np.ndarray:
    """libbpg's YCbCr -> RGB (full range, 8 bit in and out), bit-exact.

    One numba pass over the pixels (the same integer arithmetic as libbpg's ``convert_init``
    tables; ``tests/test_bpg.py`` checks all 2^24 inputs against a numpy transcription).

    Args:
        planes: uint8 array [3, H, W] (Y, Cb, Cr).

    Returns:
        uint8 array [H, W, 3] (RGB).
    """
    planes = np.ascontiguousarray(planes, dtype=np.uint8)
    out = np.empty(planes.shape[1:] + (3,), dtype=np.uint8)
    _ycbcr_to_rgb_kernel(planes, out)
    return out


@njit(cache=True, nogil=True)
def _ycbcr_to_rgb_kernel(planes, out):
    rnd = np.int64(1) << np.int64(_DEC_SHIFT - 1)
    for i in range(planes.shape[1]):
        for j in range(planes.shape[2]):
            y = np.int64(planes[0, i, j]) << np.int64(_DEC_SHIFT)
            cb = np.int64(planes[1, i, j]) - 128
            cr = np.int64(planes[2, i, j]) - 128
            r = (y + _C_R_CR * cr + rnd) >> np.int64(_DEC_SHIFT)
            g = (y - _C_G_CB * cb - _C_G_CR * cr + rnd) >> np.int64(_DEC_SHIFT)
            b = (y + _C_B_CB * cb + rnd) >> np.int64(_DEC_SHIFT)
            out[i, j, 0] = min(max(r, 0), 255)
            out[i, j, 1] = min(max(g, 0), 255)
            out[i, j, 2] = min(max(b, 0), 255)


def _pad_edge(planes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Replicate the last column/row up to [.., height, width] (bpgenc ``image_pad``)."""
    h, w = planes.shape[-2:]
    if (h, w) == (height, width):
        return np.ascontiguousarray(planes)
    return np.pad(planes, ((0, 0), (0, height - h), (0, width - w)), mode="edge")


# --------------------------------------------------------------------------------------------
# Bit-level helpers (HEVC RBSP syntax and BPG's ue7 integers)
# --------------------------------------------------------------------------------------------
class _BitReader:
    def __init__(self, data: bytes):
        self._bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.pos = 0

    def u(self, n: int) -> int:
        if self.pos + n > len(self._bits):
            raise ValueError("truncated HEVC parameter set")
        v = 0
        for bit in self._bits[self.pos:self.pos + n]:
            v = (v << 1) | int(bit)
        self.pos += n
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("invalid Exp-Golomb code")
        return (1 << zeros) - 1 + (self.u(zeros) if zeros else 0)


class _BitWriter:
    def __init__(self):
        self._bits: list[int] = []

    def u(self, n: int, v: int) -> None:
        self._bits.extend((v >> (n - 1 - i)) & 1 for i in range(n))

    def ue(self, v: int) -> None:
        v += 1
        n = v.bit_length()
        self.u(n - 1, 0)
        self.u(n, v)

    def nbits(self) -> int:
        return len(self._bits)

    def tobytes(self, trailing: bool) -> bytes:
        bits = list(self._bits)
        if trailing:  # rbsp_trailing_bits
            bits.append(1)
        bits.extend([0] * (-len(bits) % 8))
        return np.packbits(np.array(bits, dtype=np.uint8)).tobytes() if bits else b""


def _put_ue7(v: int) -> bytes:
    """BPG's big-endian 7-bit variable-length integer (bpgenc ``put_ue``)."""
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    return bytes(reversed(out))


def _get_ue7(data: bytes, pos: int) -> tuple[int, int]:
    """Inverse of :func:`_put_ue7`; returns (value, new position). Rejects non-canonical codes."""
    v = 0
    for i in range(5):
        if pos >= len(data):
            raise ValueError("truncated BPG header")
        a = data[pos]
        pos += 1
        if i == 0 and a == 0x80:
            raise ValueError("non-canonical BPG integer")
        v = (v << 7) | (a & 0x7F)
        if not a & 0x80:
            return v, pos
    raise ValueError("BPG integer too long")


def _unescape(payload: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00)."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


def _escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes into an RBSP."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _split_annexb(stream: bytes) -> list[tuple[int, int, int]]:
    """Annex-B NAL units as (start_code_offset, payload_offset, end_offset)."""
    starts = []
    i = stream.find(b"\x00\x00\x01")
    while i >= 0:
        sc = i - 1 if i > 0 and stream[i - 1] == 0 else i
        starts.append((sc, i + 3))
        i = stream.find(b"\x00\x00\x01", i + 3)
    return [
        (sc, p, starts[k + 1][0] if k + 1 < len(starts) else len(stream))
        for k, (sc, p) in enumerate(starts)
    ]


def _nal_type(payload_first_byte: int) -> int:
    return (payload_first_byte >> 1) & 0x3F


# --------------------------------------------------------------------------------------------
# SPS <-> BPG "modified SPS" (bpgenc build_modified_sps / libbpg build_msps)
# --------------------------------------------------------------------------------------------
def _parse_sps(rbsp: bytes) -> dict:
    """Parse the fields of an x265 SPS that BPG keeps (and check bpgenc's restrictions)."""
    r = _BitReader(rbsp)
    r.u(16)  # NAL header
    if r.u(4) != 0:
        raise ValueError("SPS: VPS id 0 expected")
    if r.u(3) != 0:
        raise ValueError("SPS: max_sub_layers_minus1 == 0 expected")
    r.u(1)  # temporal_id_nesting_flag
    r.u(2 + 1 + 5 + 32 + 4 + 43 + 1 + 8)  # general profile_tier_level
    if r.ue() != 0:
        raise ValueError("SPS: id 0 expected")
    s = {"chroma_format_idc": r.ue()}
    if s["chroma_format_idc"] == 3 and r.u(1):
        raise ValueError("SPS: separate colour planes unsupported")
    s["width"], s["height"] = r.ue(), r.ue()
    if r.u(1):  # conformance window
        s["conf_win"] = (r.ue(), r.ue(), r.ue(), r.ue())
    s["bit_depth_luma"] = r.ue() + 8
    s["bit_depth_chroma"] = r.ue() + 8
    if r.ue() + 4 != 8:
        raise ValueError("SPS: log2_max_poc_lsb must be 8")
    r.u(1)  # sub_layer_ordering_info_present (one sub-layer)
    r.ue(), r.ue(), r.ue()
    s["log2_min_cb"] = r.ue() + 3
    s["log2_diff_cb"] = r.ue()
    s["log2_min_tb"] = r.ue() + 2
    s["log2_diff_tb"] = r.ue()
    depth_inter = r.ue()
    s["depth_intra"] = r.ue()
    if depth_inter != s["depth_intra"]:
        raise ValueError("SPS: max_transform_hierarchy_depth inter != intra")
    if r.u(1):
        raise ValueError("SPS: scaling lists unsupported by BPG")
    if not r.u(1):
        raise ValueError("SPS: amp_enabled_flag must be set (BPG)")
    s["sao"] = r.u(1)
    s["pcm"] = r.u(1)
    if s["pcm"]:
        s["pcm_fields"] = (r.u(4), r.u(4), r.ue(), r.ue(), r.u(1))
    if r.ue() != 0:
        raise ValueError("SPS: num_short_term_ref_pic_sets must be 0")
    if r.u(1):
        raise ValueError("SPS: long-term reference pictures unsupported")
    if not r.u(1):
        raise ValueError("SPS: sps_temporal_mvp_enabled_flag must be set (BPG)")
    s["strong_intra"] = r.u(1)
    if r.u(1):  # VUI: parsed only to reach the extension flags (BPG drops it)
        if r.u(1) and r.u(8) == 255:
            r.u(32)
        if r.u(1):
            r.u(1)
        if r.u(1):  # video_signal_type (FFmpeg's wrapper always writes it)
            r.u(4)
            if r.u(1):
                r.u(24)
        if r.u(1):
            r.ue(), r.ue()
        r.u(3)
        if r.u(1):
            r.ue(), r.ue(), r.ue(), r.ue()
        if r.u(1):  # timing info
            r.u(64)
            if r.u(1):
                r.ue()
            if r.u(1):
                raise ValueError("SPS: HRD parameters unsupported")
        if r.u(1):  # bitstream restriction
            r.u(3)
            r.ue(), r.ue(), r.ue(), r.ue(), r.ue()
    s["ext"] = r.u(1)
    s["range_ext"] = 0
    s["range_flags"] = 0
    if s["ext"]:
        s["range_ext"] = r.u(1)
        if r.u(7):
            raise ValueError("SPS: only the range extension is supported")
        if s["range_ext"]:
            s["range_flags"] = r.u(9)
            if s["range_flags"] & 0b000110101:
                raise ValueError("SPS: unsupported range extension tools")
    return s


def _write_msps(s: dict) -> bytes:
    """bpgenc's modified SPS (the decoding-relevant SPS fields), byte aligned with zero bits."""
    w = _BitWriter()
    w.ue(s["log2_min_cb"] - 3)
    w.ue(s["log2_diff_cb"])
    w.ue(s["log2_min_tb"] - 2)
    w.ue(s["log2_diff_tb"])
    w.ue(s["depth_intra"])
    w.u(1, s["sao"])
    w.u(1, s["pcm"])
    if s["pcm"]:
        a, b, c, d, e = s["pcm_fields"]
        w.u(4, a), w.u(4, b), w.ue(c), w.ue(d), w.u(1, e)
    w.u(1, s["strong_intra"])
    w.u(1, s["ext"])
    if s["ext"]:
        w.u(1, s["range_ext"])
        w.u(7, 0)
        if s["range_ext"]:
            w.u(9, s["range_flags"])
    return w.tobytes(trailing=False)


def _read_msps(msps: bytes) -> dict:
    r = _BitReader(msps)
    s = {
        "log2_min_cb": r.ue() + 3,
        "log2_diff_cb": r.ue(),
        "log2_min_tb": r.ue() + 2,
        "log2_diff_tb": r.ue(),
        "depth_intra": r.ue(),
        "sao": r.u(1),
        "pcm": r.u(1),
    }
    if s["pcm"]:
        s["pcm_fields"] = (r.u(4), r.u(4), r.ue(), r.ue(), r.u(1))
    s["strong_intra"] = r.u(1)
    s["ext"] = r.u(1)
    s["range_ext"], s["range_flags"] = 0, 0
    if s["ext"]:
        s["range_ext"] = r.u(1)
        r.u(7)
        if s["range_ext"]:
            s["range_flags"] = r.u(9)
    return s


def _write_ptl(w: _BitWriter, chroma_format_idc: int) -> None:
    profile = 1 if chroma_format_idc == 1 else 4  # Main or RExt (Main 4:4:4)
    w.u(2, 0), w.u(1, 0), w.u(5, profile)
    w.u(32, 1 << (31 - profile))  # profile compatibility flag
    w.u(4, 0b1001)  # progressive, !interlaced, !non_packed, frame_only
    w.u(43, 0), w.u(1, 0)
    w.u(8, 186)  # level 6.2: no decoder-side limit applies


def _vps_nal(chroma_format_idc: int) -> bytes:
    w = _BitWriter()
    w.u(16, (32 << 9) | 1)
    w.u(4, 0), w.u(1, 1), w.u(1, 1), w.u(6, 0), w.u(3, 0), w.u(1, 1), w.u(16, 0xFFFF)
    _write_ptl(w, chroma_format_idc)
    w.u(1, 1), w.ue(0), w.ue(0), w.ue(0)  # sub-layer ordering info
    w.u(6, 0), w.ue(0), w.u(1, 0), w.u(1, 0)  # max_layer_id, layer sets, timing, extension
    return _escape(w.tobytes(trailing=True))


def _sps_nal(s: dict, width: int, height: int, chroma_format_idc: int, bit_depth: int) -> bytes:
    """A standard SPS equivalent to the one bpgenc stripped (what libbpg's decoder rebuilds)."""
    w = _BitWriter()
    w.u(16, (33 << 9) | 1)
    w.u(4, 0), w.u(3, 0), w.u(1, 1)
    _write_ptl(w, chroma_format_idc)
    w.ue(0), w.ue(chroma_format_idc)
    if chroma_format_idc == 3:
        w.u(1, 0)
    w.ue(width), w.ue(height), w.u(1, 0)
    w.ue(bit_depth - 8), w.ue(bit_depth - 8), w.ue(4)
    w.u(1, 1), w.ue(0), w.ue(0), w.ue(0)
    w.ue(s["log2_min_cb"] - 3), w.ue(s["log2_diff_cb"])
    w.ue(s["log2_min_tb"] - 2), w.ue(s["log2_diff_tb"])
    w.ue(s["depth_intra"]), w.ue(s["depth_intra"])
    w.u(1, 0), w.u(1, 1), w.u(1, s["sao"]), w.u(1, s["pcm"])  # scaling list, amp, sao, pcm
    if s["pcm"]:
        a, b, c, d, e = s["pcm_fields"]
        w.u(4, a), w.u(4, b), w.ue(c), w.ue(d), w.u(1, e)
    w.ue(0), w.u(1, 0), w.u(1, 1), w.u(1, s["strong_intra"]), w.u(1, 0)  # ..., no VUI
    w.u(1, s["ext"])
    if s["ext"]:
        w.u(1, s["range_ext"]), w.u(7, 0)
        if s["range_ext"]:
            w.u(9, s["range_flags"])
    return _escape(w.tobytes(trailing=True))


# --------------------------------------------------------------------------------------------
# BPG file <-> HEVC Annex-B stream
# --------------------------------------------------------------------------------------------
def _hevc_to_bpg(stream: bytes, width: int, height: int) -> bytes:
    """Package an x265 Annex-B stream (VPS, SPS, PPS, [SEI], slices) as a BPG file.

    Mirrors bpgenc 0.9.8: header (magic, 4:4:4 / 8 bit / YCbCr full range / no alpha / no
    extension, ue7 width, ue7 height, ue7 0 = "up to the end of the file"), hevc_header
    (ue7 length + modified SPS) and every NAL unit after the SPS, with the first start code
    removed and the later ones kept as emitted by x265.
    """
    nals = _split_annexb(stream)
    types = [_nal_type(stream[p]) for _, p, _ in nals]
    if len(nals) < 4 or types[:3] != [32, 33, 34]:
        raise RuntimeError(f"unexpected x265 NAL sequence {types}")
    sps = _parse_sps(_unescape(stream[nals[1][1]:nals[1][2]]))
    if sps["chroma_format_idc"] != 3 or sps["bit_depth_luma"] != 8 or "conf_win" in sps:
        raise RuntimeError("x265 did not produce an 8-bit 4:4:4 stream without cropping")
    msps = _write_msps(sps)
    header = (
        _BPG_MAGIC
        + bytes([(_BPG_FORMAT_444 << 5) | 0, (_BPG_CS_YCBCR << 4)])
        + _put_ue7(width)
        + _put_ue7(height)
        + _put_ue7(0)
    )
    return header + _put_ue7(len(msps)) + msps + stream[nals[2][1]:]


def _parse_bpg(data: bytes) -> dict:
    """Parse a BPG file (single 8-bit 4:4:4 YCbCr picture without alpha); ValueError if not."""
    if len(data) < 6 or data[:4] != _BPG_MAGIC:
        raise ValueError("not a BPG file (bad magic)")
    f1, f2 = data[4], data[5]
    fmt, alpha1, bit_depth = f1 >> 5, (f1 >> 4) & 1, (f1 & 0xF) + 8
    cs, has_ext, alpha2, limited, anim = f2 >> 4, (f2 >> 3) & 1, (f2 >> 2) & 1, (f2 >> 1) & 1, f2 & 1
    if (fmt, bit_depth, cs, alpha1, alpha2, limited, anim) != (_BPG_FORMAT_444, 8, 0, 0, 0, 0, 0):
        raise ValueError(
            "unsupported BPG variant (only 8-bit 4:4:4 full-range YCbCr without alpha/animation)"
        )
    pos = 6
    width, pos = _get_ue7(data, pos)
    height, pos = _get_ue7(data, pos)
    _, pos = _get_ue7(data, pos)  # picture_data_length (0 = up to the end)
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise ValueError(f"invalid BPG picture size {width}x{height}")
    if has_ext:
        ext_len, pos = _get_ue7(data, pos)
        pos += ext_len
    msps_len, pos = _get_ue7(data, pos)
    if msps_len == 0 or pos + msps_len > len(data):
        raise ValueError("truncated BPG hevc_header")
    msps = _read_msps(data[pos:pos + msps_len])
    pos += msps_len
    nal_data = data[pos:]
    if len(nal_data) < 3 or _nal_type(nal_data[0]) != 34:
        raise ValueError("BPG data does not start with a PPS NAL unit")
    return {"width": width, "height": height, "msps": msps, "nal_data": nal_data}


def _bpg_to_annexb(info: dict) -> tuple[bytes, int, int]:
    """Rebuild a standard Annex-B HEVC stream; returns (stream, coded_width, coded_height)."""
    cw, ch = _coded_size(info["width"], info["height"])
    start = b"\x00\x00\x00\x01"
    stream = (
        start + _vps_nal(3)
        + start + _sps_nal(info["msps"], cw, ch, 3, 8)
        + b"\x00\x00\x01" + info["nal_data"]
    )
    return stream, cw, ch


def _coded_size(width: int, height: int) -> tuple[int, int]:
    """Padded picture size given to x265: multiple of 8 (bpgenc), at least 16 (FFmpeg's limit)."""
    cw = max(16, -(-width // _CB_SIZE) * _CB_SIZE)
    ch = max(16, -(-height // _CB_SIZE) * _CB_SIZE)
    return cw, ch


# --------------------------------------------------------------------------------------------
# Disk cache
# --------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$NTSCC_SIM_CACHE/bpg`` if the variable is set, else ``~/.cache/ntscc_sim/bpg``."""
    root = os.environ.get("NTSCC_SIM_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "ntscc_sim"
    return base / "bpg"



# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------
class BPGCodec:
    """BPG (HEVC intra, 4:4:4, 8 bit) source codec with on-disk encode cache.

    Args:
        backend: ``"auto"``, ``"bpgenc"`` (external bpgenc/bpgdec) or ``"x265"`` (PyAV libx265).
        cache_dir: cache folder; ``None`` -> :func:`default_cache_dir`.
        disk_cache: set ``False`` to keep encodings only in memory.
        memory_cache_size: number of encodings kept in the in-memory LRU (0 disables it).
        compress_level: bpgenc ``-m`` (1..9, default 8 -> x265 preset "veryslow").
        threads: x265 worker threads (the bitstream does not depend on it).
        picture_hash: add the MD5 decoded-picture-hash SEI (bpgenc ``-hash``); off by default as
            in bpgenc. With it, the decoder detects (most) corrupted payloads.
        bpgenc, bpgdec: program names/paths for the ``"bpgenc"`` backend.

    Protocol: ``name``, ``qualities`` (QP 0..51, best first), ``encode(image, qp) -> bytes`` and
    ``decode(data, shape) -> uint8 [H, W, 3]``; see :mod:`baselines`.
    """

    def __init__(
        self,
        backend: str = "auto",
        cache_dir: str | os.PathLike | None = None,
        *,
        disk_cache: bool = True,
        memory_cache_size: int = 256,
        compress_level: int = 8,
        threads: int = 1,
        picture_hash: bool = False,
        bpgenc: str = "bpgenc",
        bpgdec: str = "bpgdec",
    ):
        if backend not in ("auto", "bpgenc", "x265"):
            raise ValueError(f"unknown backend {backend!r}")
        if not 1 <= int(compress_level) <= 9:
            raise ValueError("compress_level must be in 1..9")
        self._bpgenc = shutil.which(bpgenc)
        self._bpgdec = shutil.which(bpgdec)
        if backend == "auto":
            backend = "bpgenc" if (self._bpgenc and self._bpgdec) else "x265"
        if backend == "bpgenc" and not self._bpgenc:
            raise FileNotFoundError(f"{bpgenc!r} not found on PATH")
        self.backend = backend
        self.compress_level = int(compress_level)
        self.threads = max(1, int(threads))
        self.picture_hash = bool(picture_hash)
        self.qualities: list[int] = list(range(0, 52))
        self.name = "bpg"
        #: about 6 QP steps halve the bitstream (used by the rate matcher for its first guess)
        self.bits_halving_step = 6
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.disk_cache = bool(disk_cache)
        self.memory_cache_size = int(memory_cache_size)
        self._mem: collections.OrderedDict[str, tuple[bytes, float]] = collections.OrderedDict()
        #: counters: encodes actually run, memory-cache hits, disk-cache hits
        self.stats = {"encodes": 0, "mem_hits": 0, "disk_hits": 0}
        self._settings = self._make_settings()
        self._fingerprint = hashlib.sha256(
            json.dumps(self._settings, sort_keys=True).encode()
        ).hexdigest()

    # ---------------------------------------------------------------- settings / description
    @property
    def preset(self) -> str:
        """x265 preset used by bpgenc 0.9.8 for this compression level."""
        return X265_PRESETS[self.compress_level]

    def x265_params(self, qp: int, width: int, height: int) -> str:
        """The x265 parameter string for one encoding (mirrors bpgenc 0.9.8 ``x265_glue.c``).

        Preset ``X265_PRESETS[compress_level]`` and tune ``ssim`` are passed separately.
        ``tune=ssim`` turns psy-rd / psy-rdoq off; x265 disables adaptive quantisation in CQP.
        """
        ctu = 64 if min(width, height) >= 64 else (32 if min(width, height) >= 32 else 16)
        params = [
            f"qp={qp}",  # CQP (bpgenc 0.9.8 passes -q unchanged)
            "keyint=1", "min-keyint=1", "bframes=0",  # intra only (keyframeMax = 1)
            "repeat-headers=1", "info=0", f"hash={1 if self.picture_hash else 0}",
            "rect=1", "amp=1",  # bpgenc forces them (BPG header restriction)
            "ipratio=1.4", "pbratio=1.3", "qpmin=0", "qpmax=69",  # x265 defaults, pinned
            f"ctu={ctu}",  # x265 >= 2 requires CTU <= picture size (x265 1.x did not)
            "frame-threads=1", f"pools={self.threads}", "log-level=none",
        ]
        return ":".join(params)

    def _make_settings(self) -> dict:
        s = {
            "format_version": _FORMAT_VERSION,
            "backend": self.backend,
            "compress_level": self.compress_level,
            "chroma": "444",
            "color_space": "ycbcr",
            "bit_depth": 8,
            "picture_hash": self.picture_hash,
        }
        if self.backend == "x265":
            import av

            s["pyav"] = av.__version__
            s["libavcodec"] = list(av.library_versions["libavcodec"])
            s["params"] = self.x265_params(0, 64, 64).replace("qp=0:", "")
            s["tune"] = "ssim"
        else:
            s["bpgenc"] = self._bpgenc_version()
        return s

    def _bpgenc_version(self) -> str:
        try:
            out = subprocess.run([self._bpgenc, "-h"], capture_output=True, text=True, timeout=30)
            first = (out.stdout or out.stderr).splitlines()
            return first[0].strip() if first else "unknown"
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    @property
    def description(self) -> str:
        if self.backend == "bpgenc":
            return f"BPG, {self._settings['bpgenc']}, -f 444 -c ycbcr -b 8 -e x265 -m {self.compress_level}"
        return (
            f"BPG 0.9.8-equivalent: HEVC intra via libx265 (PyAV {self._settings['pyav']}), "
            f"4:4:4 8-bit full-range YCbCr, preset {self.preset}, tune ssim, CQP"
        )

    # ---------------------------------------------------------------- encode
    def _check_image(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
        if min(image.shape[:2]) < 1 or max(image.shape[:2]) > _MAX_SIDE:
            raise ValueError(f"unsupported image size {image.shape[:2]}")
        return np.ascontiguousarray(image)

    def _check_quality(self, quality) -> int:
        qp = int(quality)
        if qp != quality or not 0 <= qp <= 51:
            raise ValueError(f"BPG quality is a QP in 0..51, got {quality!r}")
        return qp

    def cache_key(self, image: np.ndarray, quality: int) -> str:
        """SHA-256 of (image bytes and shape, QP, codec settings/version)."""
        image = self._check_image(image)
        h = hashlib.sha256()
        h.update(self._fingerprint.encode())
        h.update(repr((image.shape, self._check_quality(quality))).encode())
        h.update(image.tobytes())
        return h.hexdigest()

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.bpg"

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        """Encode ``image`` (uint8 [H, W, 3]) at QP ``quality``; returns the BPG file bytes."""
        return self.encode_with_info(image, quality)[0]

    def known_sizes(self, image: np.ndarray) -> dict:
        """This image's bitstream sizes known so far, ``{QP: bits}``, for the rate matcher.

        One table per (codec settings, image content) and process, shared by every codec of
        these settings (every scheme, CBR and SNR); it starts from the encodings found in the
        disk cache and the caller adds the sizes it measures
        (:func:`baselines.separation.source.choose_quality`).
        """
        image = self._check_image(image)
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        key = (self._fingerprint, image.shape, digest, str(self.cache_dir) if self.disk_cache else None)
        table = _SIZE_TABLES.pop(key, None)
        if table is None:
            table = {}
            if self.disk_cache:
                for qp in self.qualities:
                    try:
                        table[qp] = self._cache_path(self.cache_key(image, qp)).stat().st_size * 8
                    except OSError:
                        pass
        _SIZE_TABLES[key] = table
        while len(_SIZE_TABLES) > _SIZE_TABLES_MAX:
            _SIZE_TABLES.popitem(last=False)
        return table

    def encode_with_info(self, image: np.ndarray, quality: int) -> tuple[bytes, dict]:
        """Like :meth:`encode`; also returns ``{"cached": bool, "encode_time": seconds}``.

        ``encode_time`` is the wall time of the original (uncached) encoding.
        """
        image = self._check_image(image)
        qp = self._check_quality(quality)
        key = self.cache_key(image, qp)
        if key in self._mem:
            self._mem.move_to_end(key)
            self.stats["mem_hits"] += 1
            data, t = self._mem[key]
            return data, {"cached": True, "encode_time": t}
        path = self._cache_path(key)
        if self.disk_cache and path.is_file():
            data = path.read_bytes()
            t = float("nan")
            meta = path.with_suffix(".json")
            try:
                t = float(json.loads(meta.read_text())["encode_time"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            self.stats["disk_hits"] += 1
            self._remember(key, data, t)
            return data, {"cached": True, "encode_time": t}
        t0 = time.perf_counter()
        if self.backend == "x265":
            data = self._encode_x265(image, qp)
        else:
            data = self._encode_bpgenc(image, qp)
        t = time.perf_counter() - t0
        self.stats["encodes"] += 1
        if self.disk_cache:
            atomic_write(path.with_suffix(".json"), json.dumps({"encode_time": t}).encode())
            atomic_write(path, data)
        self._remember(key, data, t)
        return data, {"cached": False, "encode_time": t}

    def _remember(self, key: str, data: bytes, t: float) -> None:
        if self.memory_cache_size <= 0:
            return
        self._mem[key] = (data, t)
        self._mem.move_to_end(key)
        while len(self._mem) > self.memory_cache_size:
            self._mem.popitem(last=False)

    def _encode_x265(self, image: np.ndarray, qp: int) -> bytes:
        h, w = image.shape[:2]
        return _hevc_to_bpg(self.x265_annexb(image, qp), w, h)

    def x265_annexb(self, image: np.ndarray, qp: int) -> bytes:
        """The raw x265 Annex-B stream (VPS, SPS, PPS, slices) that BPG repackages (uncached)."""
        import av

        image = self._check_image(image)
        qp = self._check_quality(qp)
        h, w = image.shape[:2]
        cw, ch = _coded_size(w, h)
        planes = _pad_edge(rgb_to_ycbcr(image), ch, cw)
        ctx = av.CodecContext.create("libx265", "w")
        ctx.width, ctx.height = cw, ch
        ctx.pix_fmt = "yuv444p"
        ctx.time_base = Fraction(1, 25)  # bpgenc's dummy frame rate
        ctx.framerate = Fraction(25, 1)
        ctx.thread_count = 1
        ctx.options = {
            "preset": self.preset,
            "tune": "ssim",
            "x265-params": self.x265_params(qp, cw, ch),
        }
        frame = av.VideoFrame.from_ndarray(planes, format="yuv444p")
        packets = list(ctx.encode(frame)) + list(ctx.encode(None))
        return b"".join(bytes(p) for p in packets)

    def _encode_bpgenc(self, image: np.ndarray, qp: int) -> bytes:
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="bpgenc-") as d:
            src, dst = os.path.join(d, "in.png"), os.path.join(d, "out.bpg")
            Image.fromarray(image).save(src)
            cmd = [self._bpgenc, "-o", dst, "-q", str(qp), "-f", "444", "-c", "ycbcr",
                   "-b", "8", "-e", "x265", "-m", str(self.compress_level)]
            if self.picture_hash:
                cmd.append("-hash")
            res = subprocess.run(cmd + [src], capture_output=True, timeout=600)
            if res.returncode != 0 or not os.path.isfile(dst):
                raise RuntimeError(f"bpgenc failed: {res.stderr.decode(errors='replace').strip()}")
            return Path(dst).read_bytes()

    # ---------------------------------------------------------------- decode
    def decode(self, data: bytes, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Decode BPG bytes to uint8 [H, W, 3].

        Raises:
            ValueError: not a (supported) BPG file, truncated/undecodable HEVC data, or a picture
                size different from ``shape``. A corrupted payload that the HEVC decoder does not
                detect (no picture hash) decodes to a damaged image instead.
        """
        data = bytes(data)
        if self.backend == "bpgenc" and self._bpgdec:
            rgb = self._decode_bpgdec(data)
        else:
            rgb = _decode_bpg_pyav(data, require_hash=self.picture_hash, shape=shape)
        if shape is not None and tuple(shape)[:2] != rgb.shape[:2]:
            raise ValueError(f"decoded size {rgb.shape[:2]} != expected {tuple(shape)[:2]}")
        return rgb

    def _decode_bpgdec(self, data: bytes) -> np.ndarray:
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="bpgdec-") as d:
            src, dst = os.path.join(d, "in.bpg"), os.path.join(d, "out.png")
            Path(src).write_bytes(data)
            res = subprocess.run([self._bpgdec, "-o", dst, src], capture_output=True, timeout=600)
            if res.returncode != 0 or not os.path.isfile(dst):
                raise ValueError("bpgdec could not decode the stream")
            try:
                with Image.open(dst) as im:
                    return np.asarray(im.convert("RGB")).copy()
            except OSError as e:
                raise ValueError(f"bpgdec output unreadable: {e}") from e

    def __repr__(self) -> str:
        return f"BPGCodec(backend={self.backend!r}, compress_level={self.compress_level})"


def _decode_bpg_pyav(data: bytes, require_hash: bool = False, shape=None) -> np.ndarray:
    """Decode a BPG file with FFmpeg's HEVC decoder; ValueError when undecodable.

    With ``require_hash`` the stream must end with the MD5 decoded-picture-hash SEI, which
    FFmpeg then checks (so truncation and payload corruption are detected). A header whose size
    differs from ``shape`` is rejected before anything is allocated.
    """
    import av

    info = _parse_bpg(data)
    if shape is not None and (info["height"], info["width"]) != tuple(shape)[:2]:
        raise ValueError(
            f"BPG header size {info['height']}x{info['width']} != expected {tuple(shape)[:2]}"
        )
    stream, cw, ch = _bpg_to_annexb(info)
    if require_hash:
        last = _split_annexb(stream)[-1]
        if _nal_type(stream[last[1]]) != 40 or last[2] - last[1] < 4 or stream[last[1] + 2] != 132:
            raise ValueError("picture hash SEI missing (truncated stream?)")
    ctx = av.CodecContext.create("hevc", "r")
    ctx.thread_count = 1
    ctx.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
    try:
        frames = list(ctx.decode(av.Packet(stream))) + list(ctx.decode(None))
    except (av.FFmpegError, ValueError, OSError) as e:
        raise ValueError(f"HEVC decoding failed: {e}") from e
    if len(frames) != 1:
        raise ValueError(f"HEVC decoding produced {len(frames)} pictures, expected 1")
    frame = frames[0]
    if frame.is_corrupt:
        raise ValueError("HEVC decoder flagged the picture as corrupt")
    if (frame.width, frame.height) != (cw, ch) or frame.format.name != "yuv444p":
        raise ValueError(
            f"decoded picture {frame.width}x{frame.height} {frame.format.name} does not match "
            f"the BPG header ({cw}x{ch} yuv444p)"
        )
    planes = frame.to_ndarray()[:, : info["height"], : info["width"]]
    return ycbcr_to_rgb(planes)
