"""The ceiling an NTSCC checkpoint's transform puts on its quality, on Kodak.

For each image, the PSNR (uint8-rounded output, averaged in dB) of the synthesis transform
applied to the latent ``y`` itself (``g_s(y)``: what an error-free channel that delivered ``y``
exactly would give, whatever the bandwidth) and to the quantised latent
(``g_s(round(y - mu) + mu)``: the NTC operating point the NTSCC was initialised from). No
channel runs. Whatever the channel codec does, NTSCC's PSNR at any CBR stays below the first
number; a scheme above it (BPG at high CBR) can only be caught with a better transform.

    python benchmarks/ntscc_ceiling.py ntscc-bsds500-p16-awgn10-eta --images 24
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ntscc_sim import zoo

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def psnr_u8(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """PSNR in dB of one image on the uint8-rounded output."""
    x_hat = torch.round(x_hat.clamp(0, 1) * 255) / 255
    return float(-10 * torch.log10(((x_hat - x) ** 2).mean()))


def ceiling(model, x: torch.Tensor) -> tuple[float, float]:
    """(PSNR of g_s(y), PSNR of g_s(quantised y)) for one image ``[1, 3, H, W]``."""
    a = model.analyse(x)
    y, mu = a["y"], a["means"]
    g_s = model.ntc.g_s
    return psnr_u8(x, g_s(y)), psnr_u8(x, g_s(torch.round(y - mu) + mu))


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
            a = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255
            h, w = a.shape[0] // m * m, a.shape[1] // m * m  # crop to whole patches
            x = torch.from_numpy(np.ascontiguousarray(a[:h, :w])).permute(2, 0, 1)[None]
            rows.append(ceiling(model, x))
            print(f"{f.name}: g_s(y) {rows[-1][0]:.2f} dB, g_s(quantised y) {rows[-1][1]:.2f} dB", flush=True)
    r = np.array(rows)
    print(f"{args.checkpoint} on {len(files)} images of {args.folder}: "
          f"g_s(y) {r[:, 0].mean():.2f} dB, g_s(quantised y) {r[:, 1].mean():.2f} dB")


if __name__ == "__main__":
    main()
