"""Memory stays bounded on large datasets (docs/performance.md, "Large images")."""

import numpy as np
from PIL import Image

from ntscc_sim.datasets import FolderImages, load_image
from ntscc_sim.datasets import images as images_module


def _folder(tmp_path, count=6, size=(24, 40)):
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(tmp_path / f"img{i}.png")
    return tmp_path


def test_folder_images_keep_a_bounded_number_of_decoded_images(tmp_path, monkeypatch):
    one = 24 * 40 * 3
    monkeypatch.setattr(images_module, "IMAGE_CACHE_BYTES", int(2.5 * one))
    ds = FolderImages(_folder(tmp_path))
    for _ in range(2):  # a sweep visits every image once per configuration and SNR
        for image_id, img in ds:
            assert np.array_equal(img, load_image(tmp_path / image_id))
            assert ds._cache.nbytes <= 2.5 * one and len(ds._cache) <= 2
    # the most recent images are served from memory (the same array), older ones re-read
    last = ds.ids[-1]
    assert ds.get(last) is ds.get(last)
    assert ds.ids[0] not in ds._cache


def test_separation_scheme_keeps_qualities_not_bitstreams(tmp_path):
    """A BPG + LDPC sweep remembers each image's rate-matched QP, not its bitstream: the bytes
    come back from the codec's bounded caches, so the rows are the same and memory stays flat."""
    from conftest import tiny_scenario
    from ntscc_sim import sweep
    from ntscc_sim.scenario import validate_scenario

    sc = validate_scenario(tiny_scenario(schemes=tiny_scenario()["schemes"][:1])).data
    sweep.init_worker(sc, "cpu", None, str(tmp_path / "cache"))
    schemes = sweep._STATE["schemes"]
    units, _ = sweep.expand(sc, schemes, sweep._STATE["dataset"].ids, batch_images=1)
    rows = [sweep.run_unit(u) for u in units]  # both SNRs: the second reuses the QP choices
    assert rows == [sweep.run_unit(u) for u in units]
    choice = schemes[0]._choice
    assert len(choice) == 4  # 2 images x 2 CBRs
    assert all(q is None or isinstance(q, int) for q in choice.values())
