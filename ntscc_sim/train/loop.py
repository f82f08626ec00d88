"""The generic training loop (Adam) shared by every :class:`~ntscc_sim.train.tasks.Task`.

Outputs in ``out_dir`` (default ``runs/<name>``):

* ``config.yaml``     the resolved training config
* ``checkpoint.pt``   full state for ``--resume`` (weights, Adam state, step, RNG), written atomically
* ``model.pt``        final weights (no optimiser state), after ``Task.finalize``
* ``train_log.csv``   one row per ``log.every`` steps: step, epoch, seconds, lr, loss,
                      the task's training values, and ``val_*`` columns at validations
* ``metrics.json``    final validation metrics (e.g. ``psnr``, ``cbr``) and run facts
* ``tensorboard/``    TensorBoard events when ``tensorboard`` is importable

Before every step the Python/NumPy/torch/Sionna generators are reseeded from
``(seed, step)`` and the batch is a function of ``(seed, step)`` too, so a run
resumed from ``checkpoint.pt`` reproduces the uninterrupted run exactly.

``SIGTERM`` (what batch schedulers such as SLURM send before a job's wall time runs out, and
what ``kill`` sends) stops a run like ``time_limit`` does: the step in progress finishes,
``checkpoint.pt`` is written at once, then ``model.pt`` and ``metrics.json`` (``"complete":
false``); ``--resume`` continues it exactly.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import torch
import yaml

from ..config import derive_seed, resolve_device, seed_everything
from .checkpoint import MODEL_FILE, RESUME_FILE, atomic_save, make_checkpoint, read_checkpoint, set_rng_state
from .config import load_config, resume_mismatch, upgrade_config, validate_config
from .data import TrainData
from .tasks import eval_snr, get_task

LOG_FILE = "train_log.csv"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"


class TrainUsageError(Exception):
    """Invalid arguments detected before training starts (exit code 2)."""


class CsvLog:
    """``train_log.csv`` with a header that grows when new columns appear (file rewritten)."""

    def __init__(self, path: Path, keep_until: int | None = None):
        self.path = path
        self.rows: list[dict] = []
        self.columns: list[str] = []
        if keep_until is not None and path.exists():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [r for r in reader if int(float(r["step"])) <= keep_until]
        self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, self.columns, restval="")
            if self.columns:
                w.writeheader()
            w.writerows(self.rows)
        tmp.replace(self.path)

    def append(self, row: dict) -> None:
        row = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
        self.rows.append(row)
        new = [k for k in row if k not in self.columns]
        if new:
            self.columns.extend(new)
            self._rewrite()
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.columns, restval="").writerow(row)


def _tensorboard(out_dir: Path, enabled: bool):
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(out_dir / "tensorboard"))
    except Exception:  # tensorboard not installed
        return None


def lr_factor(config: dict, step: int) -> float:
    """Learning-rate multiplier at (0-based) ``step``: ``lr_gamma`` per milestone passed."""
    o = config["optim"]
    return o["lr_gamma"] ** sum(1 for m in o["lr_milestones"] if step >= m)


@torch.no_grad()
def validate(task, model, data: TrainData, config: dict, device: str) -> dict:
    """Mean of ``task.evaluate`` over the validation images (weighted by batch size).

    The channel noise of validation batch ``i`` is seeded by ``(seed, "val", i)``, so
    every validation of a run sees the same noise.
    """
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for i, batch in enumerate(data.val_batches()):
        seed_everything(derive_seed(config["seed"], "val", i))
        out = task.evaluate(model, batch.to(device), config)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(batch)
        n += len(batch)
    model.train(was_training)
    return {k: v / max(n, 1) for k, v in sums.items()}


def _resolve_config(config) -> dict:
    if isinstance(config, (str, Path)):
        return load_config(config)
    return validate_config(dict(config))


class _SigtermFlag:
    """Records a ``SIGTERM`` instead of dying of it, from :meth:`install` to :meth:`restore`
    (main thread only: elsewhere, e.g. in a Ray worker thread, signals keep their handling)."""

    def __init__(self):
        self.received: str | None = None
        self._previous = None

    def _handler(self, signum, frame):
        self.received = signal.Signals(signum).name

    def install(self) -> "_SigtermFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handler)
        return self

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


def train(config, out_dir=None, resume: bool = False, steps: int | None = None, device: str | None = None,
          threads: int | None = None, progress: bool = True, time_limit: float | None = None) -> dict:
    """Train a model described by a training config.

    Parameters
    ----------
    config : path of a YAML config or a config dict (validated strictly).
    out_dir : output folder (default ``runs/<name>``).
    resume : continue from ``out_dir/checkpoint.pt`` (exactly; starts fresh if there is none).
    steps : override ``optim.steps`` (e.g. to extend a finished run with ``resume=True``).
    device : override ``device`` (``auto|cpu|cuda``); threads: ``torch.set_num_threads``.
    time_limit : wall-clock minutes; once exceeded, the step in progress finishes, a resumable
        ``checkpoint.pt``, the current weights (``model.pt``) and ``metrics.json`` (with
        ``"complete": false``) are written and the call returns (continue with ``resume=True``).
        A ``SIGTERM`` does the same at any time.

    Returns
    -------
    dict: the final validation metrics (as in ``metrics.json``).

    Raises :class:`ntscc_sim.scenario.ScenarioError` for invalid configs and
    :class:`TrainUsageError` for unusable arguments (e.g. an existing run without ``resume``).
    """
    t_start = time.time()
    deadline = None if time_limit is None else t_start + 60.0 * float(time_limit)
    cfg = _resolve_config(config)
    if steps is not None:
        cfg["optim"]["steps"] = int(steps)
    if device is not None:
        cfg["device"] = device
    if threads is not None:
        cfg["threads"] = int(threads)
    out = Path(out_dir) if out_dir is not None else Path("runs") / cfg["name"]
    resume_path = out / RESUME_FILE
    if resume_path.exists() and not resume:
        raise TrainUsageError(f"{out} already holds a training run ({RESUME_FILE}); pass --resume to continue it or --out for a new folder")
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    try:
        dev = resolve_device(cfg["device"])
    except RuntimeError as exc:
        raise TrainUsageError(f"device: {exc}") from None

    seed_everything(cfg["seed"])
    task = get_task(cfg["model"]["kind"])
    memory_format = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    model = task.build(cfg).to(dev, memory_format=memory_format)
    if cfg["compile"]:
        model.compile()
    data = TrainData(cfg)
    optimizer = torch.optim.Adam(task.parameter_groups(model, cfg), lr=cfg["optim"]["lr"],
                                 weight_decay=cfg["optim"]["weight_decay"])
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    params = [p for g in optimizer.param_groups for p in g["params"]]

    start, seconds, metrics = 0, 0.0, {}
    if resume and resume_path.exists():
        ckpt = read_checkpoint(resume_path, map_location=dev)
        diff = resume_mismatch(upgrade_config(ckpt["config"]), cfg)
        if diff:
            raise TrainUsageError(f"{diff}: differs from the config of the run in {out}; resume needs the same config (only optim.steps, log, threads, device may change)")
        model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        start, seconds, metrics = int(ckpt["step"]), float(ckpt.get("seconds", 0.0)), dict(ckpt["metrics"])
    elif cfg["init"]:
        from ..zoo import resolve

        init_ckpt = read_checkpoint(resolve(cfg["init"]), map_location=dev)
        info = task.init_from(model, init_ckpt, cfg)
        print(f"init: {len(info.get('loaded', []))} tensors from {cfg['init']}", file=sys.stderr)

    for warning in task.warnings(cfg):
        print(f"warning: {warning}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(yaml.safe_dump(cfg, sort_keys=False))
    log = CsvLog(out / LOG_FILE, keep_until=start if start else None)
    tb = _tensorboard(out, cfg["log"]["tensorboard"])
    total = cfg["optim"]["steps"]
    lg = cfg["log"]

    def emit(row):
        log.append(row)
        if tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    tb.add_scalar(k, v, row["step"])

    def save_resume(step):
        atomic_save(make_checkpoint(cfg["model"]["kind"], cfg, model, step, data.epoch(step), metrics, optimizer,
                                    extra={"seconds": seconds}), resume_path)

    from tqdm import tqdm

    bar = tqdm(total=total, initial=min(start, total), disable=not progress, unit="step", dynamic_ncols=True,
               file=sys.stderr, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=cfg["name"])
    acc: dict[str, float] = {}
    n_acc = 0
    completed = start
    last_row = None
    stopped = False
    t_last = time.time()
    model.train()
    sigterm = _SigtermFlag().install()
    try:
        for step in range(start, total):
            factor = lr_factor(cfg, step)
            for g, base in zip(optimizer.param_groups, base_lrs):
                g["lr"] = base * factor
            seed_everything(derive_seed(cfg["seed"], "step", step))
            batch = data.batch(step).to(dev, memory_format=memory_format)
            with torch.autocast(torch.device(dev).type, dtype=torch.bfloat16, enabled=cfg["precision"] == "bf16"):
                loss, values = task.loss(model, batch, cfg, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["optim"]["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(params, cfg["optim"]["grad_clip"])
            optimizer.step()
            completed = step + 1
            values = {"loss": float(loss.detach()), **{k: float(v) for k, v in values.items()},
                      **{k: float(v) for k, v in task.after_step(model, cfg, step).items()}}
            if not all(math.isfinite(v) for v in values.values()):
                raise FloatingPointError(f"step {step + 1}: non-finite training values {values}")
            for k, v in values.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            now = time.time()
            seconds += now - t_last
            t_last = now
            done = step + 1
            bar.update(1)
            row = None
            if done % lg["every"] == 0 or done == total:
                row = {"step": done, "epoch": data.epoch(done), "seconds": round(seconds, 2),
                       "lr": optimizer.param_groups[0]["lr"], **{k: v / n_acc for k, v in acc.items()}}
                bar.set_postfix({k: f"{row[k]:.4g}" for k in ("loss", "psnr") if k in row}, refresh=False)
                acc, n_acc = {}, 0
            if done % lg["val_every"] == 0 and done != total:
                metrics = validate(task, model, data, cfg, dev)
                row = row or {"step": done, "epoch": data.epoch(done), "seconds": round(seconds, 2),
                              "lr": optimizer.param_groups[0]["lr"]}
                row.update({f"val_{k}": v for k, v in metrics.items()})
                t_last = time.time()  # validation time is not training time
            stopped = done < total and (sigterm.received is not None or (deadline is not None and time.time() >= deadline))
            if stopped and row is None and n_acc:
                row = {"step": done, "epoch": data.epoch(done), "seconds": round(seconds, 2),
                       "lr": optimizer.param_groups[0]["lr"], **{k: v / n_acc for k, v in acc.items()}}
            if row is not None and (done == total or stopped):
                last_row = row  # completed with the final validation below
            elif row is not None:
                emit(row)
            if done % lg["ckpt_every"] == 0 or done == total or stopped:
                save_resume(done)
                t_last = time.time()
            if stopped:
                break
    except KeyboardInterrupt:
        if completed > start:
            save_resume(completed)
        raise
    finally:
        sigterm.restore()
        bar.close()

    if stopped:  # finalize a copy: the resumable state in checkpoint.pt stays untouched
        model = copy.deepcopy(model)
    task.finalize(model, cfg)
    calibration = task.calibrate(model, data, cfg)
    metrics = validate(task, model, data, cfg, dev)
    final_step = completed if stopped else max(start, total)
    final = {**metrics, "step": final_step, "epoch": data.epoch(final_step), "train_seconds": round(seconds, 1),
             "val_images": data.num_val, "val_snr_db": eval_snr(cfg),
             "num_params": sum(p.numel() for p in model.parameters()),
             "steps_total": total, "complete": not stopped, "threads": torch.get_num_threads()}
    atomic_save(make_checkpoint(cfg["model"]["kind"], cfg, model, final_step, data.epoch(final_step), metrics,
                                extra={"seconds": seconds, **({"calibration": calibration} if calibration else {})}),
                out / MODEL_FILE)
    tmp = out / f".{METRICS_FILE}.tmp"
    tmp.write_text(json.dumps(final, indent=2) + "\n")
    tmp.replace(out / METRICS_FILE)
    if last_row is not None:
        last_row.update({f"val_{k}": v for k, v in metrics.items()})
        emit(last_row)
    if tb is not None:
        tb.close()
    if stopped:
        why = f"{sigterm.received} received" if sigterm.received else f"time limit of {time_limit:g} min reached"
        print(f"{why} after step {final_step} of {total} "
              f"({(time.time() - t_start) / 60:.1f} min); weights so far in {out / MODEL_FILE}.\n"
              f"continue with: python -m ntscc_sim.train {config if isinstance(config, (str, Path)) else 'CONFIG.yaml'} --out {out} --resume "
              f"[--steps N to change the schedule length] [--time-limit MIN]", file=sys.stderr)
    return final
