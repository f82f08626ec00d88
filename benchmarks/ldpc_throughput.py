"""Throughput and BLER of the (4096, 6144) 5G LDPC code with 16QAM on AWGN: three chains.

* **stock Sionna**: ``LDPC5GEncoder``, ``Mapper``, ``AWGN``, ``Demapper("app")``,
  ``LDPC5GDecoder`` (flooding BP, 20 iterations), batches of 16;
* **old chain** (the simulator before ``ntscc_sim.mapping``): Sionna's encoder, mapper,
  AWGN and app demapper, our numba layered min-sum decoder;
* **new chain** (the simulator's default): numba QC encoder, ``ntscc_sim.mapping``
  mapper and exact ("app") demapper, numpy AWGN, numba min-sum; ``--threads`` threads
  for the numba kernels.

Reported: information Mbit/s of the decoder alone and of the whole chain (encode, map,
AWGN, demap, decode; bit generation excluded), BLER, mean iterations, µs per block and
stage, and the load average (the ratios are what to compare on a shared machine).

    python benchmarks/ldpc_throughput.py                         # 10 dB, 1 thread
    python benchmarks/ldpc_throughput.py --threads 2 --snr 9 9.5 10
"""

import argparse
import os
import time

import numpy as np
import torch

STAGES = ("encode", "map", "awgn", "demap", "decode")


def run_chain(chain, n_blocks, batch, k, snr_db, seed):
    """Simulate ``n_blocks`` blocks; returns (stage seconds, block errors, mean iterations)."""
    import sionna.phy

    sionna.phy.config.seed = seed
    rng = np.random.default_rng(seed)
    no = 10.0 ** (-snr_db / 10.0)
    t = dict.fromkeys(STAGES, 0.0)
    errors, iters = 0, []
    for start in range(0, n_blocks, batch):
        b = min(batch, n_blocks - start)
        u = rng.integers(0, 2, (b, k), dtype=np.uint8)
        with torch.no_grad():
            stamps = [time.perf_counter()]
            c = chain["encode"](u)
            stamps.append(time.perf_counter())
            x = chain["map"](c)
            stamps.append(time.perf_counter())
            y = chain["awgn"](x, no, rng)
            stamps.append(time.perf_counter())
            llr = chain["demap"](y, no)
            stamps.append(time.perf_counter())
            u_hat, it = chain["decode"](llr)
            stamps.append(time.perf_counter())
        for s, dt in zip(STAGES, np.diff(stamps)):
            t[s] += dt
        errors += int((u_hat != u).any(axis=1).sum())
        iters.append(it)
    return t, errors, float(np.mean(np.concatenate(iters)))


def build_chains(k, n, threads):
    from sionna.phy.channel import AWGN
    from sionna.phy.fec.ldpc import LDPC5GDecoder
    from sionna.phy.mapping import Demapper, Mapper

    from ntscc_sim.fec import LDPCCode
    from ntscc_sim.mapping import QAMDemapper, QAMMapper

    old = LDPCCode(k, n, encoder="sionna", num_threads=1)
    new = LDPCCode(k, n, encoder="numba", num_threads=threads)
    stock_dec = LDPC5GDecoder(old.encoder, num_iter=20, device="cpu")
    s_map, s_demap, s_awgn = Mapper("qam", 4), Demapper("app", "qam", 4), AWGN()
    o_map, o_demap = QAMMapper(4), QAMDemapper(4, "app", num_threads=threads)

    def s_encode(u):
        return old.encoder(torch.from_numpy(u.astype(np.float32)))

    def s_channel(x, no, rng):
        return s_awgn(x, torch.tensor(no, dtype=torch.float32))

    def s_demapper(y, no):
        return s_demap(y, torch.tensor(no, dtype=torch.float32)).numpy()

    def stock_decode(llr):
        u_hat = stock_dec(torch.from_numpy(llr)).numpy().astype(np.uint8)
        return u_hat, np.full(len(u_hat), 20)

    def minsum(code):
        def decode(llr):
            u_hat, _ = code.decode(llr)
            return u_hat, code.last_iters
        return decode

    def np_awgn(x, no, rng):
        w = rng.standard_normal(x.shape + (2,), dtype=np.float32)
        w *= np.float32(np.sqrt(no / 2))
        return x + w.view(np.complex64)[..., 0]

    sionna_front = {"encode": s_encode, "map": s_map, "awgn": s_channel, "demap": s_demapper}
    return {
        "stock Sionna (BP 20 it)": dict(sionna_front, decode=stock_decode),
        "old: Sionna enc/demap + min-sum": dict(sionna_front, decode=minsum(old)),
        f"new: numba chain, {threads} thr": {"encode": new.encode, "map": o_map, "awgn": np_awgn,
                                            "demap": o_demap, "decode": minsum(new)},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snr", type=float, nargs="+", default=[10.0], help="Es/N0 [dB]")
    ap.add_argument("--stock-blocks", type=int, default=64)
    ap.add_argument("--old-blocks", type=int, default=512)
    ap.add_argument("--new-blocks", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=64, help="batch of the old and new chains (stock: 16)")
    ap.add_argument("--threads", type=int, default=1, help="numba threads of the new chain (torch: 1)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(1)
    k, n = 4096, 6144
    chains = build_chains(k, n, args.threads)
    for chain in chains.values():  # warm-up (numba cache load / first-call overheads)
        run_chain(chain, 2, 2, k, 10.0, 99)
    blocks = dict(zip(chains, ((args.stock_blocks, 16), (args.old_blocks, args.batch), (args.new_blocks, args.batch))))

    print(f"(k, n) = ({k}, {n}) 5G LDPC (Sionna {__import__('sionna').__version__}), 16QAM, AWGN; "
          f"new chain threads = {args.threads}; load average at start {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    hdr = (f"{'Es/N0':>6} {'chain':<32} {'blocks':>6} {'BLER':>9} {'iters':>5} "
           f"{'dec Mb/s':>9} {'chain Mb/s':>10}   us/block: " + " ".join(f"{s:>7}" for s in STAGES))
    print(hdr)
    print("-" * len(hdr))
    for snr in args.snr:
        res = {}
        for name, chain in chains.items():
            nb, bs = blocks[name]
            t, err, it = run_chain(chain, nb, bs, k, snr, args.seed + int(snr * 100))
            res[name] = (nb * k / t["decode"] / 1e6, nb * k / sum(t.values()) / 1e6)
            stage = " ".join(f"{t[s] / nb * 1e6:7.0f}" for s in STAGES)
            print(f"{snr:6.2f} {name:<32} {nb:6d} {err / nb:9.2e} {it:5.1f} "
                  f"{res[name][0]:9.2f} {res[name][1]:10.2f}   {'':9} {stage}", flush=True)
        (d0, c0), (d1, c1), (d2, c2) = res.values()
        print(f"{'':6} {'speed-up old / stock':<32} {'':6} {'':9} {'':5} {d1 / d0:8.1f}x {c1 / c0:9.1f}x")
        print(f"{'':6} {'speed-up new / stock':<32} {'':6} {'':9} {'':5} {d2 / d0:8.1f}x {c2 / c0:9.1f}x")
        print(f"{'':6} {'speed-up new / old':<32} {'':6} {'':9} {'':5} {d2 / d1:8.1f}x {c2 / c1:9.1f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
