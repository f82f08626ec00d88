"""Throughput and BLER of the (4096, 6144) 5G LDPC code with 16QAM on AWGN.

Stock Sionna (``LDPC5GDecoder``, flooding BP, 20 iterations, batch 16) against
ours (:class:`ntscc_sim.fec.LDPCCode`, numba layered min-sum, alpha 0.75, up to
20 iterations with early termination, large batches). Both chains use the
same Sionna encoder, 16QAM ``Mapper``, ``AWGN`` and ``Demapper("app")``; only
the batch size and the decoder differ.

Reported: information Mbit/s of the decoder alone and of the whole chain
(encode, map, AWGN, demap, decode; bit generation excluded), BLER, mean
iterations and per-stage time per block.

    python benchmarks/ldpc_throughput.py                 # ~2-3 min, 1 thread
    python benchmarks/ldpc_throughput.py --threads 2 --ours-blocks 4096
"""

import argparse
import os
import time

import numpy as np
import torch

STAGES = ("encode", "map", "awgn", "demap", "decode")


def run_chain(encode, decode, mapper, channel, demapper, n_blocks, batch, k, snr_db, seed):
    """Simulate ``n_blocks`` blocks; returns (stage seconds, block errors, iters)."""
    import sionna.phy

    sionna.phy.config.seed = seed
    rng = np.random.default_rng(seed)
    no = torch.tensor(10.0 ** (-snr_db / 10.0), dtype=torch.float32)
    t = dict.fromkeys(STAGES, 0.0)
    errors, iters = 0, []
    for start in range(0, n_blocks, batch):
        b = min(batch, n_blocks - start)
        u = rng.integers(0, 2, (b, k), dtype=np.uint8)
        with torch.no_grad():
            t0 = time.perf_counter()
            c = encode(u)
            t1 = time.perf_counter()
            x = mapper(c)
            t2 = time.perf_counter()
            y = channel(x, no)
            t3 = time.perf_counter()
            llr = demapper(y, no)
            t4 = time.perf_counter()
            u_hat, it = decode(llr)
            t5 = time.perf_counter()
        for s, dt in zip(STAGES, np.diff([t0, t1, t2, t3, t4, t5])):
            t[s] += dt
        errors += int((u_hat != u).any(axis=1).sum())
        iters.append(it)
    return t, errors, float(np.mean(np.concatenate(iters)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[9.0, 9.5, 10.0], help="Es/N0 [dB]")
    ap.add_argument("--stock-blocks", type=int, default=128)
    ap.add_argument("--stock-batch", type=int, default=16)
    ap.add_argument("--ours-blocks", type=int, default=2048)
    ap.add_argument("--ours-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch threads and LDPCCode(num_threads)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    from sionna.phy.channel import AWGN
    from sionna.phy.fec.ldpc import LDPC5GDecoder
    from sionna.phy.mapping import Demapper, Mapper

    from ntscc_sim.fec import LDPCCode

    k, n = 4096, 6144
    ours = LDPCCode(k, n, decoder="minsum", num_iter=20, alpha=0.75, early_stop=True,
                   num_threads=args.threads)
    stock_dec = LDPC5GDecoder(ours.encoder, num_iter=20, device="cpu")
    mapper_t, demapper, channel = Mapper("qam", 4), Demapper("app", "qam", 4), AWGN()

    def stock_encode(u):
        return ours.encoder(torch.from_numpy(u.astype(np.float32)))

    def stock_decode(llr):
        u_hat = stock_dec(llr).numpy().astype(np.uint8)
        return u_hat, np.full(len(u_hat), 20)

    def ours_encode(u):
        return torch.from_numpy(ours.encode(u).astype(np.float32))

    def ours_decode(llr):
        u_hat, _ = ours.decode(llr.numpy())
        return u_hat, ours.last_iters

    # warm-up (numba cache load / first-call overheads)
    for enc, dec in ((stock_encode, stock_decode), (ours_encode, ours_decode)):
        run_chain(enc, dec, mapper_t, channel, demapper, 2, 2, k, 10.0, 99)

    print(f"(k, n) = ({k}, {n}) 5G LDPC (Sionna {__import__('sionna').__version__}), 16QAM, AWGN; "
          f"threads = {args.threads}; load average at start {os.getloadavg()[0]:.1f}")
    hdr = (f"{'Es/N0':>6} {'decoder':<26} {'blocks':>6} {'BLER':>9} {'iters':>5} "
           f"{'dec Mb/s':>9} {'chain Mb/s':>10}   us/block: " + " ".join(f"{s:>7}" for s in STAGES))
    print(hdr)
    print("-" * len(hdr))
    for snr in args.snr:
        res = {}
        for name, enc, dec, nb, bs in (
            (f"Sionna BP 20 it, batch {args.stock_batch}", stock_encode, stock_decode,
             args.stock_blocks, args.stock_batch),
            (f"ours min-sum, batch {args.ours_batch}", ours_encode, ours_decode,
             args.ours_blocks, args.ours_batch),
        ):
            t, err, it = run_chain(enc, dec, mapper_t, channel, demapper, nb, bs, k, snr,
                                   args.seed + int(snr * 100))
            dec_mbps = nb * k / t["decode"] / 1e6
            chain_mbps = nb * k / sum(t.values()) / 1e6
            res[name] = (dec_mbps, chain_mbps)
            stage = " ".join(f"{t[s] / nb * 1e6:7.0f}" for s in STAGES)
            print(f"{snr:6.2f} {name:<26} {nb:6d} {err / nb:9.2e} {it:5.1f} "
                  f"{dec_mbps:9.2f} {chain_mbps:10.2f}   {'':9} {stage}", flush=True)
        (d0, c0), (d1, c1) = res.values()
        print(f"{'':6} {'speed-up ours / stock':<26} {'':6} {'':9} {'':5} {d1 / d0:8.1f}x {c1 / c0:9.1f}x")


if __name__ == "__main__":
    main()
