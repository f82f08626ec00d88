"""Shared fixtures: tiny scenarios on builtin images, paths to ../shared data."""

import os
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NTSCC_SIM_SHARED", REPO.parent / "shared"))
KODAK = SHARED / "data" / "kodak"
CIFAR = SHARED / "data" / "cifar-10-batches-py"
BSDS = SHARED / "data" / "bsds500"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests run on one torch thread, like `ntscc_sim.run` by default (`--threads 1`): on a
    shared 2-core machine torch's default threads slow small models down badly."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test session uses its own encode cache (never the user's)."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("NTSCC_SIM_CACHE", str(cache))


def tiny_scenario(**overrides) -> dict:
    """A small valid scenario: 2 builtin crops, AWGN, a fixed-MCS link and a capacity link."""
    sc = {
        "name": "tiny",
        "seed": 3,
        "dataset": {"kind": "builtin", "names": ["astronaut", "coffee"], "crop": [64, 96]},
        "channel": {"kind": "awgn"},
        "snr_db": [6.0, 12.0],
        "schemes": [
            {"name": "ldpc", "kind": "bpg-ldpc", "cbr": ["1/12", "1/6"], "mcs": {"modulation": "16qam", "rate": "1/2"}, "code": {"k": 1024}},
            {"name": "cap", "kind": "bpg-capacity", "cbr": ["1/12", "1/6"]},
        ],
        "report": {"enabled": False},
    }
    sc.update(overrides)
    return sc


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def python_cmd():
    return [sys.executable, "-m", "ntscc_sim.run"]


def kill_9_after_rows(args, points: Path, rows: int, timeout: float = 120) -> int:
    """Start ``python -m ntscc_sim.run ARGS``, SIGKILL it once ``points`` holds ``rows`` lines
    (or at ``timeout``); return the number of finished rows left in ``points``."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(python_cmd() + list(args), cwd=REPO, env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if points.exists() and points.read_text().count("\n") >= rows:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return points.read_text().count("\n") - 1 if points.exists() else 0
