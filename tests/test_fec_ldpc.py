"""5G LDPC code (numba QC encoder / Sionna encoder, numba layered min-sum / Sionna BP) and CRC.

Default run: round trips, the numba encoder bit-exact against Sionna's, parity of the encoder output, bit-exactness of the
numba kernel against a plain numpy layered min-sum on the lifted matrix, the
16QAM/AWGN waterfall of the (4096, 6144) code and a cheap min-sum-vs-BP check.
``-m slow``: min-sum vs Sionna BP at 9.0 / 9.25 / 9.5 dB with many blocks.
"""

from functools import lru_cache

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sionna.phy.mapping import Demapper, Mapper

from ntscc_sim.fec import CRC, LDPCCode, crc_attach, crc_check
from ntscc_sim.fec._layered_minsum import layered_minsum_decode

K, N = 4096, 6144



@lru_cache(maxsize=None)
def _code(k=K, n=N, decoder="minsum", early_stop=True, num_iter=20):
    return LDPCCode(k, n, decoder=decoder, early_stop=early_stop, num_iter=num_iter)


@pytest.fixture(scope="module")
def code():
    return _code()


@pytest.fixture(scope="module")
def bp_code():
    """Sionna BP, 20 iterations, early termination via its stateful mode."""
    return _code(decoder="sionna-bp", early_stop=True)


@pytest.fixture(scope="module")
def bp_stock():
    """Sionna BP exactly as stock: always 20 iterations."""
    return _code(decoder="sionna-bp", early_stop=False)


def _bits(b, k, seed):
    return np.random.default_rng(seed).integers(0, 2, (b, k), dtype=np.uint8)


_QAM16 = (Mapper("qam", 4), Demapper("app", "qam", 4))


def _awgn_16qam_llr(c, snr_db, seed):
    """Unit-energy 16QAM, noise CN(0, 10^(-snr/10)), Sionna app demapper logits."""
    mapper, demapper = _QAM16
    with torch.no_grad():
        x = mapper(torch.from_numpy(c.astype(np.float32)))
        s2 = 10.0 ** (-snr_db / 10.0)
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((2,) + tuple(x.shape)) * np.sqrt(s2 / 2.0)
        y = x + torch.from_numpy((w[0] + 1j * w[1]).astype(np.complex64))
        return demapper(y, torch.tensor(s2, dtype=torch.float32)).numpy()


def _bler(code, n_blocks, snr_db, seed):
    u = _bits(n_blocks, code.k, seed)
    llr = _awgn_16qam_llr(code.encode(u), snr_db, seed + 1)
    u_hat, ok = code.decode(llr)
    return (u_hat != u).any(axis=1), ok


# ------------------------------------------------------------------ encoder
def test_encoder_shapes_and_16qam_unit_energy(code):
    u = _bits(3, K, 0)
    c = code.encode(u)
    assert c.shape == (3, N) and c.dtype == np.uint8
    assert np.array_equal(c[:, : K - 2 * code.z], u[:, 2 * code.z:])  # systematic
    x = _QAM16[0](torch.from_numpy(_bits(1, 4 * 4096, 1).astype(np.float32)))
    assert abs(float((x.abs() ** 2).mean()) - 1.0) < 0.02
    with pytest.raises(ValueError):
        code.encode(u[:, :-1])


@pytest.mark.parametrize("k,n", [(K, N), (1024, 2048), (512, 1536)])
def test_encoder_output_satisfies_full_lifted_pcm(k, n):
    """H c = 0 on the complete lifted codeword (all base rows, no pruning).

    The full circular buffer is rebuilt from Sionna's 4 redundancy versions
    (public API), plus the punctured first 2Z info bits and zero fillers.
    """
    code = _code(k, n)
    enc = code.encoder
    u = _bits(4, k, 2)
    c_rv = enc(torch.from_numpy(u.astype(np.float32)), rv=[0, 1, 2, 3]).numpy()
    buf = np.full((4, enc.n_cb_comp), 255, dtype=np.int16)
    for r, start in enumerate(enc.get_start_positions_comp([0, 1, 2, 3])):
        pos = (start + np.arange(n)) % enc.n_cb_comp
        buf[:, pos] = c_rv[:, r]
    assert (buf != 255).all(), "redundancy versions must cover the buffer"
    full = np.zeros((4, enc.n_ldpc), dtype=np.int64)
    full[:, :k] = u
    full[:, 2 * enc.z:k] = buf[:, : k - 2 * enc.z]  # equals u (systematic)
    full[:, enc.k_ldpc:] = buf[:, k - 2 * enc.z:]
    assert np.array_equal(full[:, :k], u)
    assert enc.pcm.shape == (enc.pcm.shape[0], enc.n_ldpc)
    syndrome = (sp.csr_matrix(enc.pcm, dtype=np.int64) @ full.T) % 2
    assert not syndrome.any()
    # rate matching: RV0 output is the buffer from position 0
    assert np.array_equal(code.encode(u), buf[:, :n])
    # our validity test on the decoding graph agrees, and detects a flip
    vn = code.full_codeword(u, code.encode(u))
    assert code.check(vn).all()
    vn[0, 2 * enc.z + 7] ^= 1
    assert code.check(vn).tolist() == [False, True, True, True]


# both base graphs, long and short codes, odd lifting sizes, rates near the limits
ENCODER_CODES = [(K, N), (8448, 12000), (8448, 8900), (7000, 21000), (3840, 4100), (2000, 2600),
                 (1200, 1500), (3000, 9000), (1024, 2048), (500, 1500), (333, 1000), (100, 300), (64, 200)]


@pytest.mark.parametrize("k,n", ENCODER_CODES)
def test_numba_encoder_bit_exact_vs_sionna(k, n):
    ours = _code(k, n)
    assert ours.encoder_kind == "numba"
    u = _bits(6, k, k + n)
    u[0] = 0
    u[1] = 1
    ref = ours.encoder(torch.from_numpy(u.astype(np.float32))).numpy().astype(np.uint8)
    assert np.array_equal(ours.encode(u), ref)


# every bg2 k_b branch (k <= 192, <= 560, <= 640, > 640), bg1 / bg2 boundaries, each lifting set
CODE5G_CODES = ENCODER_CODES + [(12, 60), (40, 64), (192, 400), (193, 400), (292, 400), (293, 600),
                                (560, 800), (561, 800), (640, 900), (641, 900), (3824, 5736), (3825, 5736),
                                (3824, 5700), (3840, 5000), (1000, 4900), (5000, 5265), (117, 234), (2717, 4000)]


@pytest.mark.parametrize("k,n", CODE5G_CODES)
def test_code5g_is_sionnas_code(k, n):
    """Our parameter selection calls Sionna's routines; every field equals LDPC5GEncoder's."""
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    from ntscc_sim.fec._code5g import code5g

    ref, ours = LDPC5GEncoder(k, n), code5g(k, n)
    assert (ours.z, ours.k_ldpc, ours.n_ldpc) == (ref.z, ref.k_ldpc, ref.n_ldpc)
    assert ours.pcm.shape == ref.pcm.shape and (ours.pcm != ref.pcm).nnz == 0


def test_numba_code_does_not_build_sionnas_encoder():
    """Sionna's encoder set-up is ~85 % of its construction time; the default code skips it."""
    code = LDPCCode(1000, 1500)
    assert code._enc is None
    u = _bits(2, 1000, 3)
    code.decode(20.0 * (2.0 * code.encode(u) - 1.0))
    assert code._enc is None
    assert code.encoder.k == 1000 and code._enc is not None  # built on request


def test_encoders_agree_with_threads_and_empty_batches():
    sionna = LDPCCode(K, N, encoder="sionna")
    threaded = LDPCCode(K, N, num_threads=2)
    u = _bits(7, K, 3)
    assert np.array_equal(threaded.encode(u), sionna.encode(u))
    assert threaded.encode(u[:0]).shape == (0, N)
    with pytest.raises(ValueError, match="encoder"):
        LDPCCode(K, N, encoder="foo")


# ----------------------------------------------------------------- decoders
@pytest.mark.parametrize("decoder,early_stop", [("minsum", True), ("minsum", False),
                                                ("sionna-bp", True), ("sionna-bp", False)])
def test_noiseless_roundtrip(decoder, early_stop):
    code = _code(decoder=decoder, early_stop=early_stop)
    u = _bits(4, K, 3)
    c = code.encode(u)
    llr = 8.0 * (2.0 * c.astype(np.float32) - 1.0)  # BPSK, Sionna logits
    u_hat, ok = code.decode(llr)
    assert u_hat.dtype == np.uint8 and ok.dtype == bool and u_hat.shape == (4, K)
    assert np.array_equal(u_hat, u) and ok.all()
    if early_stop:
        assert (code.last_iters < code.num_iter).all()
    else:
        assert (code.last_iters == code.num_iter).all()
    # opposite sign convention must fail: LLRs are log p(1)/p(0)
    u_bad, ok_bad = code.decode(-llr)
    assert not ok_bad.any() and (u_bad != u).any(axis=1).all()


def test_noiseless_16qam_demapper_roundtrip(code):
    u = _bits(2, K, 4)
    llr = _awgn_16qam_llr(code.encode(u), 30.0, 5)
    u_hat, ok = code.decode(llr)
    assert np.array_equal(u_hat, u) and ok.all()
    assert (code.last_iters <= 2).all()


def _numpy_layered_minsum(pcm, llr, z, num_iter, alpha):
    """Plain numpy layered normalised min-sum on the full lifted matrix."""
    pcm = sp.csr_matrix(pcm)
    pcm.sort_indices()
    L = llr.astype(np.float32).copy()
    a32 = np.float32(alpha)
    layers = []
    for l in range(pcm.shape[0] // z):
        sub = pcm[l * z:(l + 1) * z]
        cols = sub.indices.reshape(z, -1)
        layers.append((cols, np.zeros(cols.shape, dtype=np.float32)))
    for _ in range(num_iter):
        for cols, R in layers:
            t = L[cols] - R
            a = np.abs(t)
            srt = np.sort(a, axis=1)
            min1, min2 = srt[:, :1], srt[:, 1:2]
            neg = t < 0
            s_tot = np.where(neg.sum(axis=1, keepdims=True) % 2 == 1, -a32, a32)
            s = np.where(neg, -s_tot, s_tot).astype(np.float32)
            m = np.where(a == min1, min2, min1)
            R[...] = s * m
            L[cols] = t + R
    return L


@pytest.mark.parametrize("k,n,snr", [(100, 200, 2.0), (1024, 2048, 4.0)])
def test_kernel_bit_exact_vs_numpy_reference_on_full_pcm(k, n, snr):
    """Pruning, filler handling and the vectorised kernel change nothing."""
    code = _code(k, n, early_stop=False, num_iter=4)
    g = code._g
    u = _bits(3, k, 6)
    c = code.encode(u).astype(np.float32)
    rng = np.random.default_rng(7)
    sigma = 10 ** (-snr / 20)
    llr = 2 * ((2 * c - 1) + sigma * rng.standard_normal(c.shape)) / sigma**2
    vn = code._vn_llr(llr.astype(np.float32))
    enc = code.encoder
    for b in range(3):
        full = np.zeros(enc.n_ldpc, dtype=np.float32)
        full[: g.n_vn] = vn[b]
        ref = _numpy_layered_minsum(enc.pcm, full, enc.z, 4, 0.75)
        out = vn[b:b + 1].copy()
        layered_minsum_decode(out, g.layer_ptr, g.e_col, g.e_shift, g.chk_mask,
                              g.z, 4, 0.75, False, k)
        assert np.array_equal(out[0], ref[: g.n_vn])


def test_batching_and_threads_do_not_change_results(code):
    u = _bits(6, K, 8)
    llr = _awgn_16qam_llr(code.encode(u), 9.0, 9)
    a, ok_a = code.decode(llr)
    it_a = code.last_iters.copy()
    parts = [code.decode(llr[i:i + 1]) for i in range(6)]
    assert np.array_equal(a, np.concatenate([p[0] for p in parts]))
    assert np.array_equal(ok_a, np.concatenate([p[1] for p in parts]))
    code.decode(llr[:2])
    assert np.array_equal(code.decode(llr)[0], a) and np.array_equal(code.last_iters, it_a)
    threaded = LDPCCode(K, N, num_threads=2)
    b, ok_b = threaded.decode(llr)
    assert np.array_equal(a, b) and np.array_equal(ok_a, ok_b)
    assert np.array_equal(threaded.last_iters, it_a)


@pytest.mark.parametrize("k,n", [(1024, 2048), (512, 1536), (100, 200)])
@pytest.mark.parametrize("decoder", ["minsum", "sionna-bp"])
def test_other_code_sizes(k, n, decoder):
    code = _code(k, n, decoder=decoder)
    u = _bits(8, k, 10)
    c = code.encode(u)
    assert c.shape == (8, n)
    u_hat, ok = code.decode(8.0 * (2.0 * c - 1.0))
    assert np.array_equal(u_hat, u) and ok.all()
    # 16QAM well above threshold decodes; far below it does not
    llr = _awgn_16qam_llr(c, 14.0 if n / k < 2.5 else 9.0, 11)
    u_hat, ok = code.decode(llr)
    assert np.array_equal(u_hat, u) and ok.all()
    u_hat, ok = code.decode(_awgn_16qam_llr(c, -3.0, 12))
    assert not ok.any()


def test_bad_arguments(code):
    with pytest.raises(ValueError):
        LDPCCode(K, N, decoder="foo")
    with pytest.raises(ValueError):
        code.decode(np.zeros((2, N + 1), np.float32))
    with pytest.raises(ValueError):
        code.encode(np.full((1, K), 2, np.uint8))


# ------------------------------------------------------------ BLER (16QAM)
def test_bler_waterfall_minsum(code):
    err, ok = _bler(code, 96, 8.0, 100)
    assert err.mean() >= 0.99 and not ok.any()
    err, ok = _bler(code, 400, 10.0, 200)
    assert err.mean() <= 1e-2
    assert not (err & ok).any()  # no undetected errors


def test_bler_waterfall_sionna_bp(bp_code):
    err, _ = _bler(bp_code, 16, 8.0, 300)
    assert err.mean() >= 0.99
    err, _ = _bler(bp_code, 32, 10.0, 400)
    assert err.mean() <= 1e-2


def _paired_not_worse(code, bp_code, n_blocks, snr_db, seed):
    u = _bits(n_blocks, K, seed)
    llr = _awgn_16qam_llr(code.encode(u), snr_db, seed + 1)
    e_ms = (code.decode(llr)[0] != u).any(axis=1)
    e_bp = (bp_code.decode(llr)[0] != u).any(axis=1)
    only_ms, only_bp = int((e_ms & ~e_bp).sum()), int((e_bp & ~e_ms).sum())
    # same noise for both: sign test on discordant blocks, ~3 sigma + 2
    margin = 3.0 * np.sqrt(only_ms + only_bp) + 2
    assert only_ms - only_bp <= margin, (snr_db, e_ms.sum(), e_bp.sum())
    return e_ms.mean(), e_bp.mean()


def test_minsum_not_worse_than_sionna_bp_quick(code, bp_stock):
    ms, bp = _paired_not_worse(code, bp_stock, 64, 9.0, 500)
    assert 0.0 < bp < 0.5  # we are on the waterfall


@pytest.mark.slow
@pytest.mark.parametrize("snr_db,n_blocks", [(9.0, 500), (9.25, 2000), (9.5, 2000)])
def test_minsum_not_worse_than_sionna_bp(code, bp_code, snr_db, n_blocks):
    ms, bp = 0.0, 0.0
    for i in range(0, n_blocks, 500):
        a, b = _paired_not_worse(code, bp_code, 500, snr_db, 1000 + i)
        ms, bp = ms + a * 500, bp + b * 500
    print(f"{snr_db} dB: min-sum BLER {ms / n_blocks:.2e}, Sionna BP {bp / n_blocks:.2e}")


# ---------------------------------------------------------------------- CRC
def _crc24a_reference(bits):
    """Bitwise long division by the TS 38.212 CRC24A polynomial."""
    poly = np.zeros(25, dtype=np.uint8)
    poly[[24 - d for d in (24, 23, 18, 17, 14, 11, 10, 7, 6, 5, 4, 3, 1, 0)]] = 1
    reg = np.concatenate([bits, np.zeros(24, dtype=np.uint8)])
    for i in range(len(bits)):
        if reg[i]:
            reg[i:i + 25] ^= poly
    return reg[-24:]


def test_crc_matches_3gpp_polynomial_and_detects_errors():
    b = _bits(5, K - 24, 20)
    x = crc_attach(b)
    assert x.shape == (5, K) and x.dtype == np.uint8
    assert np.array_equal(x[:, :-24], b)
    for i in range(2):
        assert np.array_equal(x[i, -24:], _crc24a_reference(b[i]))
    assert crc_check(x).all()
    rng = np.random.default_rng(21)
    for _ in range(20):  # single flips and bursts <= 24 bits are always detected
        y = x.copy()
        pos = rng.integers(0, K - 24)
        y[1, pos:pos + rng.integers(1, 25)] ^= 1
        assert crc_check(y).tolist() == [True, False, True, True, True]
    crc16 = CRC(100, "CRC16")
    z = crc16.attach(_bits(2, 100, 22))
    assert z.shape == (2, 116) and crc16.check(z).all()
    z[0, 0] ^= 1
    assert crc16.check(z).tolist() == [False, True]


@pytest.mark.parametrize("degree", ["CRC24A", "CRC24B", "CRC24C", "CRC16", "CRC11", "CRC6"])
@pytest.mark.parametrize("k", [1, 40, 1000, 4072])
def test_crc_kernel_bit_exact_vs_sionna(degree, k):
    """Our division kernel appends exactly what Sionna's CRCEncoder appends, and both checks agree."""
    ours, ref = CRC(k, degree), CRC(k, degree, impl="sionna")
    b = _bits(7, k, k + len(degree))
    b[0] = 0
    b[1] = 1
    x = ours.attach(b)
    assert np.array_equal(x, ref.attach(b))
    x[2, k // 2] ^= 1
    x[3, -1] ^= 1
    assert ours.check(x).tolist() == ref.check(x).tolist() == [True, True, False, False, True, True, True]
    assert ours.check(x[:, None]).shape == (7, 1)  # leading dimensions kept
