"""Swin Transformer blocks and the NTSCC analysis / synthesis transforms of Fig. 5.

Tensors are channels-last token grids ``[B, H, W, C]`` inside this module; the
transforms take and return channels-first images/latents (``[B, 3, H, W]`` and
``[B, M, H / 2^S, W / 2^S]``) so they plug into CompressAI entropy models.

* :class:`WindowAttention` -- multi-head self-attention inside ``w x w`` windows
  with a learned relative position bias (Liu et al. 2021).
* :class:`SwinBlock` -- eqs. (26)-(27): ``O1 = X + MHSA(LN(X))``,
  ``O2 = O1 + MLP(LN(O1))``, (shifted) windows; any ``H, W`` (zero padding to a
  window multiple, window shrunk to the grid when the grid is smaller).
* :class:`SwinAnalysis` / :class:`SwinSynthesis` -- patch embedding + stages of
  blocks joined by patch merging (down) / patch splitting (up).

Example
-------
>>> g_a = SwinAnalysis(out_dim=32, dims=[16, 24], depths=[1, 1], heads=[2, 2], window=4)
>>> g_s = SwinSynthesis(in_dim=32, dims=[16, 24], depths=[1, 1], heads=[2, 2], window=4)
>>> y = g_a(torch.rand(1, 3, 32, 48)); tuple(y.shape)
(1, 32, 8, 12)
>>> tuple(g_s(y).shape)
(1, 3, 32, 48)
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["PatchEmbed", "PatchMerging", "PatchSplit", "SwinAnalysis", "SwinBlock", "SwinStage", "SwinSynthesis", "WindowAttention"]


@lru_cache(maxsize=64)
def _relative_index(ws: int, table_window: int) -> torch.Tensor:
    """[ws*ws, ws*ws] indices into a ``(2*table_window-1)^2`` bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)  # [2, ws*ws]
    rel = coords[:, :, None] - coords[:, None, :] + (table_window - 1)  # [2, N, N], in [0, 2w-2]
    return rel[0] * (2 * table_window - 1) + rel[1]


@lru_cache(maxsize=64)
def _shift_mask(hp: int, wp: int, ws: int, shift: int) -> torch.Tensor:
    """Additive attention mask [nW, ws*ws, ws*ws] for shifted windows on an ``hp x wp`` grid."""
    img = torch.zeros(hp, wp)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[hs, wsl] = cnt
            cnt += 1
    win = img.view(hp // ws, ws, wp // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
    diff = win[:, None, :] - win[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """[B, H, W, C] -> [B * nW, ws*ws, C] (H, W multiples of ``ws``)."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(win: torch.Tensor, ws: int, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`."""
    c = win.shape[-1]
    x = win.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows, with relative position bias.

    Input ``[N, ws*ws, C]`` (``ws <= window``) and an optional additive mask
    ``[nW, ws*ws, ws*ws]``; output has the input's shape.
    """

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.dim, self.heads, self.window = dim, heads, window
        self.scale = (dim // heads) ** -0.5
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ws: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        n, t, c = x.shape
        qkv = self.qkv(x).view(n, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        idx = _relative_index(ws, self.window).to(x.device)
        bias = self.bias_table[idx.view(-1)].view(t, t, self.heads).permute(2, 0, 1)  # [heads, t, t]
        attn = (q * self.scale) @ k.transpose(-2, -1) + bias[None]
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(n // nw, nw, self.heads, t, t) + mask[None, :, None].to(attn.dtype)
            attn = attn.view(n, self.heads, t, t)
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(n, t, c))


class SwinBlock(nn.Module):
    """One Swin Transformer block on ``[B, H, W, C]`` (eqs. (26)-(27), pre-norm).

    ``shift`` selects the shifted-window variant (half-window cyclic shift); it is
    skipped when the grid fits in one window.
    """

    def __init__(self, dim: int, heads: int, window: int = 8, shift: bool = False, mlp_ratio: float = 4.0):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws = min(self.window, h, w)
        shift = ws // 2 if self.shift and max(h, w) > ws else 0
        t = self.norm1(x)
        ph, pw = (-h) % ws, (-w) % ws
        if ph or pw:
            t = F.pad(t, (0, 0, 0, pw, 0, ph))
        hp, wp = h + ph, w + pw
        mask = None
        if shift:
            t = torch.roll(t, shifts=(-shift, -shift), dims=(1, 2))
            mask = _shift_mask(hp, wp, ws, shift).to(x.device)
        t = window_reverse(self.attn(window_partition(t, ws), ws, mask), ws, b, hp, wp)
        if shift:
            t = torch.roll(t, shifts=(shift, shift), dims=(1, 2))
        x = x + t[:, :h, :w]
        return x + self.mlp(self.norm2(x))


class SwinStage(nn.Module):
    """``depth`` Swin blocks alternating regular / shifted windows, ``[B, H, W, C]`` in and out."""

    def __init__(self, dim: int, depth: int, heads: int, window: int):
        super().__init__()
        self.blocks = nn.ModuleList(SwinBlock(dim, heads, window, shift=bool(i % 2)) for i in range(depth))

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x


class PatchEmbed(nn.Module):
    """Split ``[B, 3, H, W]`` into 2x2 patches and embed each linearly: -> ``[B, H/2, W/2, dim]``."""

    def __init__(self, dim: int, in_ch: int = 3, patch: int = 2):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, kernel_size=patch, stride=patch)  # == partition + FC
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchMerging(nn.Module):
    """Concatenate 2x2 neighbours (4C) and project to ``out_dim``: ``[B, H, W, C] -> [B, H/2, W/2, out]``."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x):
        b, h, w, c = x.shape
        x = x.view(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)
        return self.reduction(self.norm(x))


class PatchSplit(nn.Module):
    """Inverse of merging: project to ``4 * out_dim`` and spread over 2x2: ``[B, H, W, C] -> [B, 2H, 2W, out]``."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, 4 * out_dim, bias=False)
        self.out_dim = out_dim

    def forward(self, x):
        b, h, w, _ = x.shape
        x = self.expand(self.norm(x)).view(b, h, w, 2, 2, self.out_dim)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, self.out_dim)


def _per_stage(value, n: int, name: str) -> list[int]:
    if isinstance(value, int):
        return [value] * n
    value = list(value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{name} has {len(value)} entries, expected one per stage ({n})")
    return value


class SwinAnalysis(nn.Module):
    """g_a of Fig. 5: ``[B, 3, H, W] -> [B, out_dim, H / 2^S, W / 2^S]`` with ``S = len(depths)``.

    Stage 1 = 2x2 patch embedding + ``depths[0]`` blocks at ``dims[0]``; stage i > 1 =
    patch merging to ``dims[i]`` + ``depths[i]`` blocks; a final LayerNorm + FC maps to
    the latent width ``out_dim`` (= c). ``H, W`` must be multiples of ``2^S``.
    """

    def __init__(self, out_dim: int, dims, depths, heads=8, window: int = 8):
        super().__init__()
        n = len(depths)
        dims, heads = _per_stage(dims, n, "dims"), _per_stage(heads, n, "heads")
        self.embed = PatchEmbed(dims[0])
        self.downs = nn.ModuleList(nn.Identity() if i == 0 else PatchMerging(dims[i - 1], dims[i]) for i in range(n))
        self.stages = nn.ModuleList(SwinStage(dims[i], depths[i], heads[i], window) for i in range(n))
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], out_dim)
        self.factor = 2**n

    def forward(self, x):
        t = self.embed(x)
        for down, stage in zip(self.downs, self.stages):
            t = stage(down(t))
        return self.head(self.norm(t)).permute(0, 3, 1, 2).contiguous()


class SwinSynthesis(nn.Module):
    """g_s of Fig. 5, symmetric to :class:`SwinAnalysis`: ``[B, in_dim, h, w] -> [B, 3, h 2^S, w 2^S]``."""

    def __init__(self, in_dim: int, dims, depths, heads=8, window: int = 8):
        super().__init__()
        n = len(depths)
        dims, heads = _per_stage(dims, n, "dims"), _per_stage(heads, n, "heads")
        self.head = nn.Linear(in_dim, dims[-1])
        order = list(range(n - 1, -1, -1))
        self.stages = nn.ModuleList(SwinStage(dims[i], depths[i], heads[i], window) for i in order)
        self.ups = nn.ModuleList(PatchSplit(dims[i], dims[i - 1]) if i > 0 else PatchSplit(dims[0], dims[0]) for i in order)
        self.norm = nn.LayerNorm(dims[0])
        self.out = nn.Linear(dims[0], 3)

    def forward(self, y):
        t = self.head(y.permute(0, 2, 3, 1))
        for stage, up in zip(self.stages, self.ups):
            t = up(stage(t))
        return self.out(self.norm(t)).permute(0, 3, 1, 2).contiguous()
