"""Saving from entropy-coding NTSCC's rate indices with the hyperprior the receiver already has.

For each Kodak image: the indices chosen at ``--eta`` by a shipped NTSCC checkpoint, then
bits per patch with the fixed ``kq`` code, an adaptive (KT) arithmetic coder without
context, the same coder with the hyperprior-predicted index as context
(:mod:`ntscc_sim.models.index_entropy`), with that and the larger of the already decoded
left / upper neighbour indices as context, and the plug-in entropy of the image's histogram.
Only the analysis transforms and the hyperprior run (no channel, no decoder).

    python benchmarks/ntscc_index_entropy.py --images 6 --eta 0.2
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ntscc_sim import zoo
from ntscc_sim.models.index_coding import predicted_index
from ntscc_sim.models.index_entropy import adaptive_code_length, empirical_entropy
from ntscc_sim.models.rate_allocation import patch_information

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def index_bits(model, x: torch.Tensor, eta: float) -> dict:
    """Bits per patch of one image ``[1, 3, H, W]`` under each code (see module docstring)."""
    ntc = model.ntc
    with torch.no_grad():
        y = ntc.g_a(x)
        z = ntc.h_a(y if ntc.prior == "mean-scale" else torch.abs(y))
        z_hat, _ = ntc.entropy_bottleneck(z, training=False)
        means, scales = ntc.params(z_hat)
        _, y_lik = ntc.gaussian_conditional(y, scales, means=means, training=False)
    index = model.allocator(eta * patch_information(y_lik))[0][0]
    predicted = predicted_index(model.allocator, scales, eta)[0]
    levels, n = len(model.allocator), index.numel()
    left = torch.cat([torch.zeros_like(index[:, :1]), index[:, :-1]], dim=1)  # already decoded
    up = torch.cat([torch.zeros_like(index[:1]), index[:-1]], dim=0)
    neighbours = predicted * levels + torch.maximum(left, up)
    return {"fixed": float(model.allocator.bits_per_patch),
            "adaptive": adaptive_code_length(index, levels) / n,
            "adaptive_hyperprior": adaptive_code_length(index, levels, predicted) / n,
            "adaptive_hyperprior_neighbours": adaptive_code_length(index, levels, neighbours) / n,
            "entropy": empirical_entropy(index, levels),
            "predicted_exact": float((predicted == index).double().mean()),
            "patches": n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default="ntscc-bsds500-awgn10-lam1500")
    ap.add_argument("--images", type=int, default=6, help="first N Kodak images")
    ap.add_argument("--eta", type=float, default=0.2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = zoo.load(args.checkpoint, "cpu", kind="ntscc")[1]
    rows = []
    for i in range(1, args.images + 1):
        img = np.asarray(Image.open(KODAK / f"kodim{i:02d}.png").convert("RGB"))
        x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255.0
        r = index_bits(model, x, args.eta)
        rows.append(r)
        print(f"kodim{i:02d}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()),
              flush=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(f"mean over {len(rows)} images ({args.checkpoint}, eta {args.eta}): "
          f"fixed {mean['fixed']:.2f}, adaptive {mean['adaptive']:.3f}, adaptive + hyperprior context "
          f"{mean['adaptive_hyperprior']:.3f}, + neighbours {mean['adaptive_hyperprior_neighbours']:.3f}, plug-in entropy {mean['entropy']:.3f} bits per patch; "
          f"saving with hyperprior context {100 * (1 - mean['adaptive_hyperprior'] / mean['fixed']):.1f} %, "
          f"with hyperprior + neighbours {100 * (1 - mean['adaptive_hyperprior_neighbours'] / mean['fixed']):.1f} %")


if __name__ == "__main__":
    main()
