"""The ceiling an NTSCC checkpoint's transform puts on its quality, on Kodak.

For each image, the PSNR (uint8-rounded output, averaged in dB) of the synthesis transform
applied to the latent ``y`` itself (``g_s(y)``: what an error-free channel that delivered ``y``
exactly would give, whatever the bandwidth) and to the quantised latent
(``g_s(round(y - mu) + mu)``: the NTC operating point the NTSCC was initialised from). No
channel runs. NTSCC decodes g_s of an estimate of ``y``, so its PSNR at any CBR stays below the
first number in practice (``tests/test_ntscc_ceiling.py`` checks it at eta 1.0); a scheme above it
(BPG at high CBR) can only be caught with a better transform.

    python benchmarks/ntscc_ceiling.py ntscc-bsds500-p16-awgn10-eta --images 24
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from ntscc_sim import zoo
from ntscc_sim.datasets.images import load_image
from ntscc_sim.metrics import psnr, to_uint8

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def ceiling(model, x: torch.Tensor) -> tuple[float, float]:
    """(PSNR of g_s(y), PSNR of g_s(quantised y)) for one image ``[1, 3, H, W]``."""
    a = model.analyse(x)
    y, mu = a["y"], a["means"]
    ref = to_uint8(x[0])

    def score(latent):
        return psnr(ref, to_uint8(model.ntc.g_s(latent)[0].clamp(0, 1)))

    return score(y), score(torch.round(y - mu) + mu)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="NTSCC zoo name or checkpoint path")
    p.add_argument("--folder", type=Path, default=KODAK)
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    task, model, _, _ = zoo.load(args.checkpoint, device="cpu")
    if task.kind != "ntscc":
        raise SystemExit(f"{args.checkpoint}: an NTSCC checkpoint is needed, got task {task.kind!r}")
    files = sorted(f for f in args.folder.iterdir() if f.suffix.lower() in (".png", ".jpg"))[: args.images]
    if not files:
        raise SystemExit(f"--folder {args.folder}: no .png/.jpg images")
    m = model.pad_multiple
    rows = []
    with torch.no_grad():
        for f in files:
            a = load_image(f)
            h, w = a.shape[0] // m * m, a.shape[1] // m * m  # crop to whole patches
            x = torch.from_numpy(a[:h, :w]).permute(2, 0, 1)[None].float() / 255
            rows.append(ceiling(model, x))
            print(f"{f.name}: g_s(y) {rows[-1][0]:.2f} dB, g_s(quantised y) {rows[-1][1]:.2f} dB", flush=True)
    r = np.array(rows)
    print(f"{args.checkpoint} on {len(files)} images of {args.folder}: "
          f"g_s(y) {r[:, 0].mean():.2f} dB, g_s(quantised y) {r[:, 1].mean():.2f} dB")


if __name__ == "__main__":
    main()
