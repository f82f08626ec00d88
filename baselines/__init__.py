"""Classical source codecs used by the separation (source + channel coding) baselines.

Every codec implements the same small protocol::

    codec.name: str
    codec.qualities: list[int]            # highest quality / most bits first
    codec.encode(image_uint8_hw3, quality) -> bytes   # whole bitstream, headers included
    codec.decode(data, shape=(H, W)) -> np.ndarray uint8 [H, W, 3]   # ValueError if undecodable

Modules: :mod:`baselines.bpg` (BPG / HEVC intra), :mod:`baselines.image_codecs`
(JPEG, WebP, JPEG 2000 through Pillow). Import the submodules directly; this package
imports nothing heavy on its own.
"""
