"""The Ray executor: same points as the local executor, exactly-once results when the driver is
killed (kill -9) or a worker dies, parallel training recipes, Ray optional.

One local Ray instance for the module, limited to the CI machine's 2 cores.
"""

import json
import subprocess
import sys

import pytest
import ray

from conftest import REPO, kill_9_after_rows, tiny_scenario, write_yaml
from ntscc_sim.run import main
from ntscc_sim.train.__main__ import main as train_main
from test_train import image_dirs, tiny_config  # noqa: F401  (fixture)


def _scenario():
    """20 one-image units: a fixed-MCS link, a capacity link and a learned scheme (deep JSCC, a zoo
    checkpoint shipped through the object store)."""
    sc = tiny_scenario(snr_db=[4.0, 12.0])
    sc["schemes"].append({"name": "djscc", "kind": "deep-jscc", "checkpoint": "deepjscc-cifar10-awgn10-c8"})
    sc["run"] = {"batch_images": 1}
    return sc


def _fault_hook(fault_dir):
    """A worker set-up hook: once ``fault_dir/armed`` exists, the first unit to finish computing
    kills its worker process (SIGKILL) before returning its rows, and leaves ``fault_dir/killed``."""
    fault_dir, repo = str(fault_dir), str(REPO)

    def hook():
        import os
        import signal
        import sys

        sys.path.insert(0, repo)  # the hook runs before Ray adds the driver's path: import this checkout
        from ntscc_sim import sweep

        original = sweep.run_unit

        def run_unit(unit):
            rows = original(unit)
            marker = os.path.join(fault_dir, "killed")
            if os.path.exists(os.path.join(fault_dir, "armed")) and not os.path.exists(marker):
                with open(marker, "w") as f:
                    f.write(f"{os.getpid()} {unit.scheme} {unit.config_key} {unit.snr_db} {list(unit.images)}\n")
                os.kill(os.getpid(), signal.SIGKILL)
            return rows

        sweep.run_unit = run_unit

    return hook


@pytest.fixture(scope="module")
def fault_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ray_fault")


@pytest.fixture(scope="module")
def ray_local(fault_dir):
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, logging_level="ERROR",
             log_to_driver=False, runtime_env={"worker_process_setup_hook": _fault_hook(fault_dir)})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """points.csv of the scenario with the local executor (uninterrupted)."""
    tmp = tmp_path_factory.mktemp("ray_ref")
    f = write_yaml(tmp / "s.yaml", _scenario())
    assert main([str(f), "--out", str(tmp / "ref"), "--quiet"]) == 0
    return (tmp / "ref" / "points.csv").read_text()


def _run_ray(tmp_path, out, *extra):
    f = write_yaml(tmp_path / "s.yaml", _scenario())
    assert main([str(f), "--out", str(out), "--quiet", "--executor", "ray", *extra]) == 0
    return (out / "points.csv").read_text()


def test_ray_equals_local(tmp_path, ray_local, reference):
    out = tmp_path / "ray"
    assert _run_ray(tmp_path, out) == reference
    assert json.loads((out / "run.json").read_text())["executor"] == "ray"
    assert reference.count("\n") == 1 + 20


def test_worker_killed_mid_unit_is_retried_once(tmp_path, ray_local, reference, fault_dir):
    (fault_dir / "armed").touch()
    try:
        got = _run_ray(tmp_path, tmp_path / "ray")
    finally:
        (fault_dir / "armed").unlink()
    assert (fault_dir / "killed").exists(), "no worker was killed: the test did not exercise a retry"
    assert got == reference  # the lost unit was recomputed, its rows appear exactly once


def test_kill_9_driver_then_resume_equals_local(tmp_path, ray_local, reference):
    f = write_yaml(tmp_path / "s.yaml", _scenario())
    out = tmp_path / "killed"
    points = out / "points.csv"
    partial = kill_9_after_rows([str(f), "--out", str(out), "--quiet", "--executor", "ray", "--address", ray_local],
                                points, 6, timeout=300)
    assert 0 < partial < 20, f"kill landed outside the sweep ({partial} rows)"
    with open(points, "a") as fh:  # a row cut mid-write by the kill
        fh.write("ldpc,bpg-ldpc,target_cbr=0.08")
    assert _run_ray(tmp_path, out) == reference


def test_training_recipes_as_ray_tasks_equal_local(tmp_path, ray_local, image_dirs):  # noqa: F811
    paths = []
    for name, c in (("tiny-c2", 2), ("tiny-c4", 4)):
        paths.append(str(write_yaml(tmp_path / f"{name}.yaml", tiny_config(image_dirs, name=name, model={"c": c}))))
    assert train_main(paths + ["--out", str(tmp_path / "local"), "--quiet"]) == 0
    assert train_main(paths + ["--out", str(tmp_path / "ray"), "--quiet", "--executor", "ray"]) == 0
    for name in ("tiny-c2", "tiny-c4"):
        local = json.loads((tmp_path / "local" / name / "metrics.json").read_text())
        remote = json.loads((tmp_path / "ray" / name / "metrics.json").read_text())
        assert (tmp_path / "ray" / name / "model.pt").is_file()
        for k in ("psnr", "step", "num_params"):
            assert remote[k] == local[k], (name, k)
    # the same names again without --resume: refused before anything runs
    assert train_main(paths + ["--out", str(tmp_path / "ray"), "--quiet", "--executor", "ray"]) == 2


def test_preloaded_checkpoints_are_read_from_memory(tmp_path, monkeypatch):
    from ntscc_sim.zoo import checkpoint_files
    from ntscc_sim.train import checkpoint

    monkeypatch.setattr(checkpoint, "_PRELOADED", {})
    (path,) = checkpoint_files("deepjscc-cifar10-awgn10-c8")
    data = open(path, "rb").read()
    moved = tmp_path / "elsewhere" / "model.pt"  # a path this machine does not have
    checkpoint.preload({str(moved): data})
    assert checkpoint.read_checkpoint(moved)["config"] == checkpoint.read_checkpoint(path)["config"]
    from ntscc_sim.zoo import resolve

    assert resolve(moved.parent) == moved  # a run folder that only exists on the driver


def test_without_ray_a_clear_message_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    f = write_yaml(tmp_path / "s.yaml", tiny_scenario())
    assert main([str(f), "--out", str(tmp_path / "out"), "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "[ray]" in err
    assert not (tmp_path / "out").exists()


def test_ntscc_sim_does_not_import_ray():
    code = ("import sys, ntscc_sim, ntscc_sim.run, ntscc_sim.sweep, ntscc_sim.executors, ntscc_sim.train.__main__\n"
            "from ntscc_sim.executors import get_executor\n"
            "get_executor('local', workers=2)\n"
            "assert 'ray' not in sys.modules, 'ray was imported'\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=300)


def test_unreachable_address_is_a_usage_error():
    from ntscc_sim.executors import ExecutorError
    from ntscc_sim.executors.ray_executor import _check_reachable

    with pytest.raises(ExecutorError, match="127.0.0.1:1"):
        _check_reachable("127.0.0.1:1")
