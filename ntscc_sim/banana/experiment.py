"""The banana-source experiment (NTSCC paper Sec. IV-B, Figs. 9-10): scenario schema,
training, evaluation over AWGN, the rate-distortion bound, output files.

Entry points used by ``python -m ntscc_sim.run`` for a scenario with ``experiment: banana``:
:func:`validate_banana_scenario`, :func:`describe`, :func:`run_banana`.

Outputs in ``out_dir`` (each written atomically):
``sdr.csv`` (``scheme, lambda, eta, cbr, sdr_db``), ``bound.csv`` (``cbr, sdr_db``),
``maps.npz`` (the maps of Figs. 9-10, :mod:`.evaluate`), ``run.json`` (resolved scenario,
versions, timings, per-point details) and ``figures/*.png|pdf`` (drawn from those files by
:func:`.figures.make_figures`).
"""

from __future__ import annotations

import copy
import csv
import io
import math
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..channels.capacity import awgn_capacity
from ..channels.model import Channel
from ..config import derive_seed
from ..files import atomic_write, atomic_write_json
from ..models.banana import ACTIVATIONS, NTC, NTSCC, RateAdaptiveJSCC, awgn_real, power_scale
from ..scenario.errors import ScenarioError
from ..scenario.fields import Field, section, validate_mapping
from ..scenario.loader import COMMON_FIELDS, require_name_and_kind
from .bound import banana_bound
from .evaluate import MAPS_FILE, analyse, compute_maps, eval_ntscc, jscc_link, write_maps
from .figures import make_figures
from .source import BananaSource

SDR_COLUMNS = ("scheme", "lambda", "eta", "cbr", "sdr_db")
BOUND_COLUMNS = ("cbr", "sdr_db")
SCHEME_KINDS = ("ntc", "ntc-capacity", "deep-jscc", "ntscc")
_SCHEME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

# ---------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------


def _check_scheme_name(value, key):
    if not _SCHEME_NAME_RE.match(value):
        raise ScenarioError(key, f"invalid scheme name {value!r}: use letters, digits, '.', '_', '+' or '-'")
    return value


def _pair(positive: bool):
    def check(value, key):
        if not isinstance(value, list) or len(value) != 2:
            raise ScenarioError(key, f"expected a list of 2 numbers, got {value!r}")
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                raise ScenarioError(f"{key}[{i}]", f"expected a number, got {v!r}")
            if positive and v <= 0:
                raise ScenarioError(f"{key}[{i}]", f"expected a positive number, got {v!r}")
            out.append(float(v))
        return out

    return check


def _snr(value, key):
    if isinstance(value, list):
        if len(value) != 1:
            raise ScenarioError(key, f"the banana experiment uses one SNR, got {len(value)} values")
        return _snr(value[0], f"{key}[0]")
    return Field("number", min=-50, max=100).validate(value, key)


def _cbr_value(value, key):
    dims = value * 4
    if value <= 0 or abs(dims - round(dims)) > 1e-9:
        raise ScenarioError(key, f"CBR {value!r} must be a positive multiple of 1/4 (one real channel dimension per 2-D sample)")
    return value


_LAYERS = Field("list", item=Field("int", min=1, max=4096), min_len=1)
_FRACTIONS = Field("list", item=Field("fraction", min=1e-12), min_len=1, scalar_ok=True)

DATASET_SCHEMA = {
    "kind": Field("str", choices=("banana",)),
    "train_samples": Field("int", default=1_000_000, min=1000, doc="training set size (paper: 10^7)"),
    "test_samples": Field("int", default=100_000, min=100, doc="test set size (paper: 10^6)"),
    "scale": Field("any", default=lambda: [3.0, 0.5], check=_pair(True), doc="std of the base Gaussian"),
    "curvature": Field("number", default=0.1),
    "rotation_deg": Field("number", default=240.0),
    "shift": Field("any", default=lambda: [1.0, 1.0], check=_pair(False)),
}

CHANNEL_SCHEMA = {"kind": Field("str", default="awgn", choices=("awgn",))}

TRAIN_SCHEMA = {
    "steps": Field("int", default=3000, min=1, doc="Adam steps per model"),
    "batch": Field("int", default=512, min=2),
    "lr": Field("number", default=1e-3, min=1e-8, max=1.0),
    "decay_at": Field("fraction", default=0.7, min=0.0, max=1.0, doc="fraction of steps after which lr is divided by 10"),
    "threads": Field("int", default=1, min=1, max=64, doc="torch threads (results depend on it only through float rounding)"),
}

BOUND_SCHEMA = {
    "step": Field("number", default=0.2, min=1e-3, max=1.0, doc="grid spacing of the discretised source"),
    "tail_sigmas": Field("number", default=4.5, min=2.0, max=8.0, doc="grid half-width in base-Gaussian std"),
    "slopes": Field("int", default=14, min=2, max=200, doc="Blahut-Arimoto slopes (log-spaced)"),
    "max_slope": Field("number", default=16.0, min=0.1, doc="largest slope; the Shannon lower bound is used beyond it"),
    "max_iter": Field("int", default=300, min=1),
    "tol": Field("number", default=1e-9, min=0.0),
    "cbr_max": Field("number", default=3.5, min=0.05, max=100.0),
    "cbr_points": Field("int", default=141, min=2, max=100000),
}

REPORT_SCHEMA = {
    "enabled": Field("bool", default=True),
    "formats": Field("list", default=lambda: ["png", "pdf"], item=Field("str", choices=("png", "pdf")), scalar_ok=True, min_len=1),
    "map_scheme": Field("str", default=None, nullable=True, doc="NTSCC scheme of Figs. 9-10 maps (default: the first ntscc)"),
    "map_jscc": Field("str", default=None, nullable=True, doc="deep JSCC scheme of Fig. 10a (default: the first deep-jscc)"),
    "map_lambda": Field("fraction", default=1 / 256, min=1e-12),
    "map_eta": Field("number", default=1.0, min=1e-6),
    "map_grid": Field("int", default=160, min=8, max=2000),
    "map_noise_draws": Field("int", default=8, min=1, max=1000),
    "dpi": Field("int", default=150, min=30, max=1200),
}

RUN_SCHEMA = {"save_weights": Field("bool", default=False, doc="write trained weights to <out>/weights/")}

EXPERIMENT = "banana"  # the scenario's top-level ``experiment:`` value that selects this runner

TOP_SCHEMA = {
    **COMMON_FIELDS,
    "experiment": Field("str", default=EXPERIMENT, choices=(EXPERIMENT,), doc="selects the banana runner in python -m ntscc_sim.run"),
    "dataset": Field("map", schema=DATASET_SCHEMA),
    "channel": section(CHANNEL_SCHEMA),
    "snr_db": Field("any", check=_snr),
    "lambdas": Field("list", default=lambda: [1 / 32, 1 / 256, 1 / 1024], item=Field("fraction", min=1e-12), min_len=1, scalar_ok=True),
    "schemes": Field("list", item=Field("any"), min_len=1),
    "train": section(TRAIN_SCHEMA),
    "bound": section(BOUND_SCHEMA),
    "report": section(REPORT_SCHEMA),
    "run": section(RUN_SCHEMA),
}

_COMMON = {"name": Field("str", check=_check_scheme_name), "kind": Field("str", choices=SCHEME_KINDS)}
_ACT = tuple(ACTIVATIONS)

SCHEME_SCHEMAS = {
    "ntc": {
        "hidden": Field("list", default=lambda: [200, 200, 200], item=Field("int", min=1, max=4096), min_len=1),
        "activation": Field("str", default="softplus", choices=_ACT),
        "lambdas": Field("list", default=None, nullable=True, item=Field("fraction", min=1e-12), min_len=1, scalar_ok=True,
                         doc="default: the top-level lambdas"),
        "steps": Field("int", default=None, nullable=True, min=1, doc="default: train.steps"),
    },
    "ntc-capacity": {
        "ntc": Field("str", default=None, nullable=True, doc="the ntc scheme whose models are used (default: the first ntc)"),
        "gap_db": Field("number", default=0.0, min=0.0, max=30.0, doc="SNR gap of the channel code to capacity"),
    },
    "deep-jscc": {
        "cbr": Field("list", item=Field("fraction", check=_cbr_value), min_len=1, scalar_ok=True),
        "hidden": Field("list", default=lambda: [200, 200], item=Field("int", min=1, max=4096), min_len=1),
        "activation": Field("str", default="relu", choices=_ACT),
        "steps": Field("int", default=None, nullable=True, min=1),
    },
    "ntscc": {
        "ntc": Field("str", default=None, nullable=True, doc="ntc scheme used for pre-training (default: the first ntc)"),
        "lambdas": Field("list", default=None, nullable=True, item=Field("fraction", min=1e-12), min_len=1, scalar_ok=True),
        "eta": Field("list", default=lambda: [0.25, 0.5, 0.75, 1.0], item=Field("number", min=1e-6, max=1e3), min_len=1, scalar_ok=True),
        "train_eta": Field("list", default=None, nullable=True, item=Field("number", min=1e-6, max=1e3), min_len=1, scalar_ok=True,
                           doc="eta values drawn per sample in training (default: eta)"),
        "rate_levels": Field("int", default=16, min=1, max=256),
        "rate_step": Field("int", default=1, min=1, max=64, doc="real channel dimensions between rate levels"),
        "hidden": Field("list", default=lambda: [200, 200], item=Field("int", min=1, max=4096), min_len=1),
        "activation": Field("str", default="relu", choices=_ACT),
        "side_info": Field("str", default="entropy", choices=("entropy", "fixed", "none"),
                           doc="cost of telling the receiver each sample's rate level"),
        "steps": Field("int", default=None, nullable=True, min=1),
    },
}


def _validate_scheme(raw, index: int) -> dict:
    path = f"schemes[{index}]"
    require_name_and_kind(raw, path)
    kind = _COMMON["kind"].validate(raw["kind"], f"{path}.kind")
    return validate_mapping(raw, {**_COMMON, **SCHEME_SCHEMAS[kind]}, path)


def validate_banana_scenario(raw: dict) -> dict:
    """Validate a parsed banana scenario; fill defaults; raise :class:`ScenarioError`
    naming the key path of the first problem. Returns the resolved mapping."""
    if not isinstance(raw, dict):
        raise ScenarioError("", f"scenario must be a YAML mapping, got {type(raw).__name__}")
    data = validate_mapping(raw, TOP_SCHEMA, "")
    schemes = [_validate_scheme(s, i) for i, s in enumerate(data["schemes"])]
    names: dict[str, int] = {}
    for i, s in enumerate(schemes):
        if s["name"] in names:
            raise ScenarioError(f"schemes[{i}].name", f"duplicate scheme name {s['name']!r} (also schemes[{names[s['name']]}])")
        names[s["name"]] = i
    ntc_names = [s["name"] for s in schemes if s["kind"] == "ntc"]
    for i, s in enumerate(schemes):
        if s["kind"] in ("ntc-capacity", "ntscc"):
            if s["ntc"] is None:
                if not ntc_names:
                    raise ScenarioError(f"schemes[{i}].ntc", f"scheme kind {s['kind']!r} needs an 'ntc' scheme in the list")
                s["ntc"] = ntc_names[0]
            elif s["ntc"] not in ntc_names:
                raise ScenarioError(f"schemes[{i}].ntc", f"{s['ntc']!r} is not an ntc scheme; choose from {ntc_names}")
        if s["kind"] in ("ntc", "ntscc") and s["lambdas"] is None:
            s["lambdas"] = list(data["lambdas"])
        if s["kind"] == "ntscc":
            if s["train_eta"] is None:
                s["train_eta"] = list(s["eta"])
        if s["kind"] == "deep-jscc" and len(set(s["cbr"])) != len(s["cbr"]):
            raise ScenarioError(f"schemes[{i}].cbr", "duplicate CBR values")
    data["schemes"] = schemes
    rep = data["report"]
    for key, kind in (("map_scheme", "ntscc"), ("map_jscc", "deep-jscc")):
        if rep[key] is not None:
            match = [s for s in schemes if s["name"] == rep[key]]
            if not match or match[0]["kind"] != kind:
                raise ScenarioError(f"report.{key}", f"{rep[key]!r} is not a {kind} scheme")
    ntscc = [s for s in schemes if s["kind"] == "ntscc"]
    map_scheme = next((s for s in ntscc if s["name"] == rep["map_scheme"]), ntscc[0] if ntscc else None)
    if rep["enabled"] and map_scheme is not None and not any(math.isclose(rep["map_lambda"], lam) for lam in map_scheme["lambdas"]):
        raise ScenarioError("report.map_lambda", f"{_frac(rep['map_lambda'])} is not among the lambdas of {map_scheme['name']!r}: "
                            f"{[_frac(v) for v in map_scheme['lambdas']]}")
    return data


# ---------------------------------------------------------------------------
# description (dry run)
# ---------------------------------------------------------------------------


def _frac(v: float) -> str:
    f = Fraction(v).limit_denominator(1 << 20)
    return str(f) if abs(float(f) - v) < 1e-12 * max(1.0, abs(v)) else repr(v)


def _source(data) -> BananaSource:
    d = data["dataset"]
    return BananaSource(tuple(d["scale"]), d["curvature"], d["rotation_deg"], tuple(d["shift"]))


def _ntc_lambdas(data) -> dict[str, list[float]]:
    """Every NTC model the run trains: ntc scheme name -> lambdas (deduplicated)."""
    need: dict[str, list[float]] = {s["name"]: [] for s in data["schemes"] if s["kind"] == "ntc"}
    for s in data["schemes"]:
        if s["kind"] == "ntc":
            lams = s["lambdas"]
        elif s["kind"] == "ntscc":
            lams, s = s["lambdas"], {"name": s["ntc"]}
        else:
            continue
        for lam in lams:
            if not any(math.isclose(lam, v) for v in need[s["name"]]):
                need[s["name"]].append(lam)
    return need


def describe(data: dict) -> str:
    """Human-readable plan of a validated banana scenario (for ``--dry-run``)."""
    src = _source(data)
    snr = data["snr_db"]
    cap = awgn_capacity(snr)
    tr = data["train"]
    lines = [
        f"banana experiment {data['name']!r}: seed {data['seed']}, device {data['device']}",
        f"  source: banana (Ballé et al. NTC), E||x||^2 = {src.second_moment():.4f}, h = {src.entropy_bits():.4f} bits; "
        f"train {data['dataset']['train_samples']} / test {data['dataset']['test_samples']} samples",
        f"  channel: AWGN, SNR {snr:g} dB, C = {cap:.4f} bits per complex use; CBR = complex uses / 2 per 2-D sample",
        f"  training: {tr['steps']} Adam steps x batch {tr['batch']}, lr {tr['lr']:g} (/10 after {tr['decay_at']:g}), {tr['threads']} thread(s)",
    ]
    n_models = 0
    for name, lams in _ntc_lambdas(data).items():
        n_models += len(lams)
        lines.append(f"  train ntc {name!r}: lambda in {[_frac(v) for v in lams]}")
    n_points = 0
    ntscc_keys = set()
    for s in data["schemes"]:
        k = s["kind"]
        if k == "ntc":
            n_points += 0
            lines.append(f"  scheme {s['name']} (ntc): source codec, FC {[2, *s['hidden'], 2]} {s['activation']}, factorised prior")
        elif k == "ntc-capacity":
            n_lam = len(_ntc_lambdas(data)[s["ntc"]])
            n_points += n_lam
            lines.append(f"  scheme {s['name']} (ntc-capacity): models of {s['ntc']!r} over a capacity-achieving code"
                         f" (gap {s['gap_db']:g} dB), CBR = bits / (2 C); {n_lam} points")
        elif k == "deep-jscc":
            n_models += 1
            n_points += len(s["cbr"])
            lines.append(f"  scheme {s['name']} (deep-jscc): one multi-head FC model, CBR {[_frac(c) for c in s['cbr']]}")
        elif k == "ntscc":
            keys = {_ntscc_key(s, lam, tr) for lam in s["lambdas"]}
            n_models += len(keys - ntscc_keys)
            ntscc_keys |= keys
            n_points += len(s["lambdas"]) * len(s["eta"])
            lines.append(f"  scheme {s['name']} (ntscc): lambda {[_frac(v) for v in s['lambdas']]} x eta {s['eta']}, "
                         f"{s['rate_levels']} rate levels of {s['rate_step']} real dim(s), side info: {s['side_info']}, "
                         f"pre-trained from {s['ntc']!r}")
    b = data["bound"]
    lines.append(f"  bound: Blahut-Arimoto on a {b['step']:g}-grid ({b['slopes']} slopes up to {b['max_slope']:g}),"
                 f" Shannon lower bound beyond; CBR 0..{b['cbr_max']:g}")
    lines.append(f"  {n_models} models to train, {n_points} (scheme, lambda, eta) points; figures: "
                 f"{data['report']['formats'] if data['report']['enabled'] else 'off'}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


class _Log:
    def __init__(self, progress: bool):
        self.progress = progress
        self.t0 = time.time()

    def __call__(self, msg: str) -> None:
        if self.progress:
            print(f"[banana {time.time() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def _lr_at(step: int, steps: int, lr: float, decay_at: float) -> float:
    return lr if step < decay_at * steps else lr * 0.1


def _fit(params, loss_fn, x_train: torch.Tensor, tr: dict, steps: int, seed: int, log, label: str):
    """Adam on ``loss_fn(batch, generator) -> (loss, info)`` with minibatches of ``x_train``."""
    gen = torch.Generator(device=x_train.device)
    gen.manual_seed(seed)
    opt = torch.optim.Adam(params, lr=tr["lr"])
    n = x_train.shape[0]
    report_every = max(1, steps // 4)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, tr["lr"], tr["decay_at"])
        idx = torch.randint(0, n, (tr["batch"],), generator=gen, device=x_train.device)
        loss, info = loss_fn(x_train[idx], gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % report_every == 0 or step + 1 == steps:
            log(f"{label}: step {step + 1}/{steps} loss {loss.item():.5f} {info}")


def _train_ntc(spec: dict, lam: float, x_train, tr, seed, log, device) -> NTC:
    torch.manual_seed(seed)
    model = NTC(hidden=spec["hidden"], activation=spec["activation"]).to(device)
    model.train()

    def loss_fn(x, gen):
        out = model(x, quantize=False)
        mse = (x - out["x_hat"]).pow(2).sum(1).mean()
        bits = out["bits"].mean()
        return mse + lam * bits, f"(mse {mse.item():.4f}, bits {bits.item():.3f})"

    _fit(model.main_parameters(), loss_fn, x_train, tr, spec["steps"] or tr["steps"], seed, log, f"ntc {spec['name']} lambda={_frac(lam)}")
    return model.eval()


def _train_deep_jscc(spec: dict, snr_db: float, x_train, tr, seed, log, device) -> RateAdaptiveJSCC:
    torch.manual_seed(seed)
    dims = [int(round(4 * c)) for c in spec["cbr"]]
    model = RateAdaptiveJSCC(2, 2, dims, spec["hidden"], spec["activation"]).to(device)
    model.set_standardization(x_train[:100_000], x_train[:100_000])
    model.train()

    def loss_fn(x, gen):
        idx = torch.randint(0, len(dims), (x.shape[0],), generator=gen, device=x.device)
        s, mask = model.encode(x, idx)
        # each CBR is its own block in evaluation: normalise the power per head
        s_hat = awgn_real(s * power_scale(s, mask, idx, len(dims)), mask, snr_db, gen)
        mse = (x - model.decode(s_hat, idx)).pow(2).sum(1).mean()
        return mse, ""

    _fit(list(model.parameters()), loss_fn, x_train, tr, spec["steps"] or tr["steps"], seed, log, f"deep-jscc {spec['name']}")
    return model.eval()


def _ntscc_key(spec: dict, lam: float, tr: dict) -> str:
    """Everything that determines a trained NTSCC model (not its evaluation)."""
    parts = (spec["ntc"], repr(float(lam)), spec["rate_levels"], spec["rate_step"], tuple(spec["hidden"]), spec["activation"],
             tuple(float(e) for e in spec["train_eta"]), spec["steps"] or tr["steps"])
    return repr(parts)


def _train_ntscc(spec: dict, lam: float, ntc: NTC, snr_db: float, x_train, tr, seed, log, device) -> NTSCC:
    torch.manual_seed(seed)
    model = NTSCC(copy.deepcopy(ntc), spec["rate_levels"], spec["rate_step"], spec["hidden"], spec["activation"]).to(device)
    with torch.no_grad():
        y0 = model.ntc.g_a(x_train[:100_000])
    model.jscc.set_standardization(y0, y0)
    model.train()
    etas = torch.tensor(spec["train_eta"], dtype=torch.float32, device=device)

    def loss_fn(x, gen):
        ei = torch.randint(0, len(etas), (x.shape[0],), generator=gen, device=x.device)
        eta = etas[ei]
        out = model.ntc(x, quantize=False)  # noisy proxy: rate term and NTC distortion (Algorithm 1)
        with torch.no_grad():
            _, lik_q = model.ntc.entropy(out["y"], training=False)
            idx = model.allocate(-torch.log2(lik_q).sum(1), eta)
        s, mask = model.jscc.encode(out["y"], idx)
        # each eta is its own block in evaluation: normalise the power per eta
        s_hat = awgn_real(s * power_scale(s, mask, ei, len(etas)), mask, snr_db, gen)
        x_hat = model.ntc.g_s(model.jscc.decode(s_hat, idx))
        mse = (x - x_hat).pow(2).sum(1).mean()
        mse_ntc = (x - out["x_hat"]).pow(2).sum(1).mean()
        rate = (eta * out["bits"]).mean()
        dims = torch.tensor(model.dims, device=x.device, dtype=torch.float32)[idx].mean()
        return mse + mse_ntc + lam * rate, f"(mse {mse.item():.4f}, ntc mse {mse_ntc.item():.4f}, dims {dims.item():.2f})"

    params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    _fit(params, loss_fn, x_train, tr, spec["steps"] or tr["steps"], seed, log, f"ntscc {spec['name']} lambda={_frac(lam)}")
    return model.eval()


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------


def _sdr_db(second_moment: float, mse: float) -> float:
    return 10.0 * math.log10(second_moment / mse)


def _entropy_bits(idx: torch.Tensor, levels: int) -> float:
    counts = torch.bincount(idx, minlength=levels).double()
    pr = counts[counts > 0] / counts.sum()
    return float(-(pr * torch.log2(pr)).sum())


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------


def _csv_text(columns, rows) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r[c] is None else (repr(float(r[c])) if isinstance(r[c], float) else r[c]) for c in columns])
    return buf.getvalue()


def _versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in ("ntscc_sim", "torch", "numpy", "scipy", "compressai", "sionna-no-rt", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_banana(data: dict, out_dir: Path, device: str, progress: bool = True) -> dict:
    """Train, evaluate and plot the banana experiment described by validated ``data``.

    Writes ``sdr.csv``, ``bound.csv``, ``maps.npz``, ``run.json`` and ``figures/`` into ``out_dir``
    (each file atomically) and returns the ``run.json`` content.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = _Log(progress)
    timings: dict[str, float] = {}
    t_start = time.time()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(data["train"]["threads"])
    try:
        return _run(data, out_dir, device, log, timings, t_start)
    finally:
        torch.set_num_threads(threads_before)


def _run(data, out_dir: Path, device: str, log, timings, t_start) -> dict:
    seed = data["seed"]
    snr = float(data["snr_db"])
    tr = data["train"]
    src = _source(data)
    cap = awgn_capacity(snr)
    m2 = src.second_moment()
    channel = Channel("awgn", device=device)

    t = time.time()
    x_train = torch.as_tensor(src.sample(data["dataset"]["train_samples"], seed=derive_seed(seed, "banana", "train")),
                              dtype=torch.float32, device=device)
    x_test = torch.as_tensor(src.sample(data["dataset"]["test_samples"], seed=derive_seed(seed, "banana", "test")),
                             dtype=torch.float32, device=device)
    timings["data_s"] = time.time() - t

    # -- bound ------------------------------------------------------------------
    t = time.time()
    b = data["bound"]
    bound = banana_bound(src, cap, step=b["step"], tail_sigmas=b["tail_sigmas"], num_slopes=b["slopes"],
                         max_slope=b["max_slope"], max_iter=b["max_iter"], tol=b["tol"])
    bound_cbr = np.linspace(0.0, b["cbr_max"], b["cbr_points"])
    bound_sdr = bound.sdr_db(bound_cbr)
    atomic_write(out_dir / "bound.csv", _csv_text(BOUND_COLUMNS, [{"cbr": float(c), "sdr_db": float(s)} for c, s in zip(bound_cbr, bound_sdr)]))
    timings["bound_s"] = time.time() - t
    log(f"bound: {len(bound.curve.rate_bits)} BA points on a {bound.grid_shape} grid, SLB above {bound.r_switch:.2f} bits "
        f"(gap there {bound.slb_gap_db:.3f} dB), {timings['bound_s']:.1f}s")

    rows: list[dict] = []
    details: list[dict] = []
    models: dict[str, dict] = {}

    # -- NTC models ----------------------------------------------------------------
    t = time.time()
    specs = {s["name"]: s for s in data["schemes"]}
    ntc_models: dict[tuple, NTC] = {}
    ntc_eval: dict[tuple, dict] = {}
    for name, lams in _ntc_lambdas(data).items():
        for lam in lams:
            model = _train_ntc(specs[name], lam, x_train, tr, derive_seed(seed, "ntc", name, repr(lam)), log, device)
            with torch.no_grad():
                out = model(x_test, quantize=True)
            mse = float((x_test - out["x_hat"]).pow(2).sum(1).mean())
            ntc_models[(name, lam)] = model
            ntc_eval[(name, lam)] = {"bits": float(out["bits"].mean()), "mse": mse, "sdr_db": _sdr_db(m2, mse)}
            models[f"ntc_{name}_{_frac(lam).replace('/', '-')}"] = model.state_dict()
            log(f"ntc {name} lambda={_frac(lam)}: {ntc_eval[(name, lam)]['bits']:.3f} bits, SDR {_sdr_db(m2, mse):.2f} dB")
    timings["train_ntc_s"] = time.time() - t

    jscc_models: dict[str, RateAdaptiveJSCC] = {}
    ntscc_models: dict[tuple, NTSCC] = {}
    ntscc_trained: dict[str, NTSCC] = {}
    ntscc_evals: dict[tuple, tuple] = {}
    timings["train_deep_jscc_s"] = 0.0
    timings["train_ntscc_s"] = 0.0
    t_eval = 0.0
    for si, spec in enumerate(data["schemes"]):
        kind, name = spec["kind"], spec["name"]
        if kind == "ntc":
            for lam in spec["lambdas"]:
                ev = ntc_eval[(name, lam)]
                details.append({"scheme": name, "kind": kind, "lambda": lam, "bits": ev["bits"], "mse": ev["mse"], "sdr_db": ev["sdr_db"]})
        elif kind == "ntc-capacity":
            c_eff = awgn_capacity(snr - spec["gap_db"])
            for (ntc_name, lam), ev in ntc_eval.items():
                if ntc_name != spec["ntc"]:
                    continue
                cbr = ev["bits"] / (2.0 * c_eff)
                rows.append({"scheme": name, "lambda": lam, "eta": None, "cbr": cbr, "sdr_db": ev["sdr_db"]})
                details.append({"scheme": name, "kind": kind, "lambda": lam, "bits": ev["bits"], "capacity": c_eff,
                                "complex_uses": ev["bits"] / c_eff, "cbr": cbr, "mse": ev["mse"], "sdr_db": ev["sdr_db"]})
        elif kind == "deep-jscc":
            t = time.time()
            model = _train_deep_jscc(spec, snr, x_train, tr, derive_seed(seed, "deep-jscc", name), log, device)
            timings["train_deep_jscc_s"] += time.time() - t
            jscc_models[name] = model
            models[f"deep-jscc_{name}"] = model.state_dict()
            t = time.time()
            for j, cbr in enumerate(spec["cbr"]):
                idx = torch.full((x_test.shape[0],), j, dtype=torch.long, device=device)
                x_hat, scale, _ = jscc_link(model, x_test, idx, snr, derive_seed(seed, "eval", name, j), channel)
                mse = float((x_test - x_hat).pow(2).sum(1).mean())
                rows.append({"scheme": name, "lambda": None, "eta": None, "cbr": float(cbr), "sdr_db": _sdr_db(m2, mse)})
                details.append({"scheme": name, "kind": kind, "cbr": float(cbr), "real_dims": model.dims[j], "power_scale": scale,
                                "mse": mse, "sdr_db": _sdr_db(m2, mse)})
                log(f"deep-jscc {name} CBR {cbr:g}: SDR {_sdr_db(m2, mse):.2f} dB")
            t_eval += time.time() - t
        elif kind == "ntscc":
            for lam in spec["lambdas"]:
                # schemes that differ only in evaluation (e.g. side_info) share the trained model
                key = _ntscc_key(spec, lam, tr)
                if key not in ntscc_trained:
                    t = time.time()
                    ntscc_trained[key] = _train_ntscc(spec, lam, ntc_models[(spec["ntc"], lam)], snr, x_train, tr,
                                                      derive_seed(seed, "ntscc", key), log, device)
                    timings["train_ntscc_s"] += time.time() - t
                    models[f"ntscc_{name}_{_frac(lam).replace('/', '-')}"] = ntscc_trained[key].state_dict()
                model = ntscc_trained[key]
                ntscc_models[(name, lam)] = model
                t = time.time()
                analysed = analyse(model, x_test)
                for eta in spec["eta"]:
                    ekey = (key, float(eta))
                    if ekey not in ntscc_evals:  # shared by schemes that differ only in accounting
                        x_hat, idx, scale, bits = eval_ntscc(model, x_test, eta, snr, derive_seed(seed, "eval", key, repr(float(eta))),
                                                              channel, analysed=analysed)
                        ntscc_evals[ekey] = (float((x_test - x_hat).pow(2).sum(1).mean()), idx.cpu(), scale, bits)
                    mse, idx, scale, bits = ntscc_evals[ekey]
                    dims = torch.tensor(model.dims, dtype=torch.float64)[idx]
                    k_data = float(dims.mean()) / 2.0  # complex uses per sample
                    h_idx = _entropy_bits(idx, model.levels)
                    side_bits = {"entropy": h_idx, "fixed": math.log2(model.levels), "none": 0.0}[spec["side_info"]]
                    k_side = side_bits / cap
                    cbr = (k_data + k_side) / 2.0
                    rows.append({"scheme": name, "lambda": lam, "eta": float(eta), "cbr": cbr, "sdr_db": _sdr_db(m2, mse)})
                    hist = torch.bincount(idx, minlength=model.levels).tolist()
                    details.append({"scheme": name, "kind": kind, "lambda": lam, "eta": float(eta), "cbr": cbr,
                                    "cbr_data": k_data / 2.0, "side_info_bits": side_bits, "rate_index_entropy_bits": h_idx,
                                    "latent_bits": float(bits.mean()), "power_scale": scale, "rate_histogram": hist,
                                    "mse": mse, "sdr_db": _sdr_db(m2, mse)})
                    log(f"ntscc {name} lambda={_frac(lam)} eta={eta:g}: CBR {cbr:.3f} (data {k_data / 2:.3f}), SDR {_sdr_db(m2, mse):.2f} dB")
                t_eval += time.time() - t
    timings["evaluate_s"] = t_eval

    atomic_write(out_dir / "sdr.csv", _csv_text(SDR_COLUMNS, rows))
    for p in details:
        if "cbr" in p:
            p["bound_sdr_db"] = float(bound.sdr_db(p["cbr"]))
            p["bound_tolerance_db"] = float(bound.tolerance_db(p["cbr"]))
            if p["sdr_db"] > p["bound_sdr_db"] + p["bound_tolerance_db"]:
                log(f"WARNING: {p['scheme']} at CBR {p['cbr']:.3f} is {p['sdr_db'] - p['bound_sdr_db']:.3f} dB above the bound")

    # -- figures ----------------------------------------------------------------------
    figures: list[str] = []
    t = time.time()
    if data["report"]["enabled"]:
        # compute -> files -> plots: the maps go to maps.npz, the figures read files only
        write_maps(out_dir / MAPS_FILE, *compute_maps(data, src, jscc_models, ntscc_models, snr, channel, seed, device, x_test=x_test))
        figures = make_figures(out_dir, log=log)
    timings["figures_s"] = time.time() - t

    if data["run"]["save_weights"]:
        wdir = out_dir / "weights"
        wdir.mkdir(exist_ok=True)
        for key, sd in models.items():
            buf = io.BytesIO()
            torch.save(sd, buf)
            atomic_write(wdir / f"{key}.pt", buf.getvalue())

    timings["total_s"] = time.time() - t_start
    bound_info = {
        "method": "Blahut-Arimoto on the discretised source (u coordinates), Shannon lower bound above r_switch",
        "grid_step": bound.step, "grid_shape": list(bound.grid_shape), "cell_noise": bound.cell_noise,
        "r_switch_bits": bound.r_switch, "slb_gap_db_at_switch": bound.slb_gap_db,
        "max_convergence_interval_db": float(np.max(bound.sdr_db_upper(bound_cbr) - bound_sdr)),
        "ba_points": [{"slope": float(s), "rate_bits": float(r), "distortion": float(d), "iterations": int(i), "gap_nats": float(g)}
                      for s, r, d, i, g in zip(bound.curve.slope, bound.curve.rate_bits, bound.curve.distortion,
                                               bound.curve.iterations, bound.curve.gap_nats)],
        "sdr_db_upper": [float(v) for v in bound.sdr_db_upper(bound_cbr)],
    }
    info = {
        "scenario": data,
        "kind": "banana",
        "device": device,
        "torch_threads": data["train"]["threads"],
        "versions": _versions(),
        "source": {"second_moment": m2, "variance": src.variance(), "entropy_bits": src.entropy_bits(),
                   "test_second_moment": float(x_test.double().pow(2).sum(1).mean())},
        "channel": {"kind": "awgn", "snr_db": snr, "capacity_bits": cap},
        "conventions": {
            "cbr": "complex channel uses per 2-D sample / 2 (= real channel dims / 4), side information included",
            "sdr_db": "10 log10(E||x||^2 / mean ||x - x_hat||^2), E||x||^2 in closed form, mean over the test set",
            "power": "average energy 1 per complex channel use over the transmitted test set",
            "bound": "SDR at D(R) with R = 2 CBR C bits per sample",
        },
        "bound": bound_info,
        "points": details,
        "figures": figures,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    atomic_write_json(out_dir / "run.json", info)
    log(f"done in {timings['total_s']:.1f}s -> {out_dir}")
    return info
