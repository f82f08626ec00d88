"""Dependency rules of docs/architecture.md, checked on the static import graph.

Every ``import`` / ``from ... import`` statement of every module is read with ``ast``
(module level and inside functions alike; relative imports resolved to absolute names).
Lazy registries name their targets as strings ("baselines.separation:BPGLDPCScheme") and
are not imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# (files whose path relative to the repository starts with one of these, forbidden module prefixes, why)
RULES = [
    (("ntscc_sim/",), ("baselines",), "the core never imports the baselines"),
    (("ntscc_sim/models/",), ("ntscc_sim.train", "ntscc_sim.schemes", "ntscc_sim.report", "ntscc_sim.zoo"),
     "models are plain modules: they do not know how they are trained, loaded, run or reported"),
    (("ntscc_sim/report/",), ("ntscc_sim.models", "ntscc_sim.schemes", "ntscc_sim.link", "ntscc_sim.banana"),
     "reports read result files only"),
    (("ntscc_sim/channels/", "ntscc_sim/fec/", "ntscc_sim/link/"), ("ntscc_sim.datasets", "ntscc_sim.models"),
     "link components know nothing of images or models"),
    (("ntscc_sim/banana/figures.py",), ("torch", "ntscc_sim.models", "ntscc_sim.banana.experiment", "ntscc_sim.banana.evaluate"),
     "banana figures read result files only"),
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``source`` (the text of ``module``).

    ``from X import a`` yields ``X`` and ``X.a`` (``a`` may be a submodule).
    """
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name != "*"]
    return out


def _forbidden(name: str, prefixes) -> str | None:
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def violations(root: Path = REPO) -> list[str]:
    """Every import that breaks a rule, as ``file:line imports module (why)``."""
    found = []
    for path in sorted((root / "ntscc_sim").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        rules = [(bad, why) for where, bad, why in RULES if any(rel.startswith(w) for w in where)]
        if not rules:
            continue
        imports = imported_modules(path.read_text(encoding="utf-8"), module_name(path, root), path.name == "__init__.py")
        for line, name in imports:
            for bad, why in rules:
                hit = _forbidden(name, bad)
                if hit:
                    found.append(f"{rel}:{line} imports {name} ({why})")
    return sorted(set(found))


def test_dependency_rules_hold():
    assert violations() == []


def _module_file(name: str, root: Path = REPO) -> Path | None:
    path = root.joinpath(*name.split("."))
    for f in (path.with_suffix(".py"), path / "__init__.py"):
        if f.is_file():
            return f
    return None


def _top_level_names(path: Path) -> set[str]:
    """Names bound at module level (definitions, assignments, imports; also inside if/try)."""
    names: set[str] = set()
    todo = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            todo += [n for block in ("body", "orelse", "finalbody", "handlers") for n in getattr(node, block, [])]
        elif isinstance(node, ast.ExceptHandler):
            todo += node.body
    return names


def test_every_internal_import_resolves():
    """After a move, a stale import (also one inside a function) fails here, not at run time:
    every imported ``ntscc_sim`` / ``baselines`` module exists and defines the imported names."""
    missing = []
    for top in ("ntscc_sim", "baselines", "tests", "benchmarks"):
        for path in sorted((REPO / top).rglob("*.py")):
            module = module_name(path, REPO)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                found = imported_modules(ast.unparse(node), module, path.name == "__init__.py")
                if isinstance(node, ast.Import):
                    missing += [f"{where} imports {n}" for _, n in found
                                if n.split(".")[0] in ("ntscc_sim", "baselines") and _module_file(n) is None]
                    continue
                base = found[0][1]
                if base.split(".")[0] not in ("ntscc_sim", "baselines"):
                    continue
                source = _module_file(base)
                if source is None:
                    missing.append(f"{where} imports {base}")
                    continue
                defined = _top_level_names(source)
                missing += [f"{where} imports {a.name} from {base}" for a in node.names
                            if a.name != "*" and a.name not in defined and _module_file(f"{base}.{a.name}") is None]
    assert missing == []


@pytest.mark.parametrize(
    "module, is_package, source, expected",
    [
        ("ntscc_sim.schemes.ntscc", False, "def f():\n    from baselines.separation.link import DigitalLink\n", "baselines.separation.link"),
        ("ntscc_sim.models.ntc_task", False, "from ntscc_sim.train.task import Task\n", "ntscc_sim.train.task"),
        ("ntscc_sim.models.x", False, "from ..train import task\n", "ntscc_sim.train.task"),
        ("ntscc_sim.models", True, "from .ntc import NTC\n", "ntscc_sim.models.ntc"),
        ("ntscc_sim.banana.figures", False, "def g():\n    from .experiment import _eval_ntscc\n", "ntscc_sim.banana.experiment"),
        ("ntscc_sim.codec_rd", False, "import baselines.image_codecs as ic\n", "baselines.image_codecs"),
    ],
)
def test_import_reader_sees_function_level_and_relative_imports(module, is_package, source, expected):
    assert expected in {name for _, name in imported_modules(source, module, is_package)}


def test_rules_catch_the_old_layout(tmp_path):
    """The imports of the layout before docs/architecture.md break the rules (so the check can fail)."""
    old = {
        "ntscc_sim/schemes/ntscc.py": "def f():\n    from baselines.separation.mcs import parse_mcs\n",
        "ntscc_sim/models/ntc_task.py": "from ntscc_sim.train.task import Task\n",
        "ntscc_sim/models/loading.py": "def f():\n    from ntscc_sim.zoo import resolve\n",
        "ntscc_sim/banana/figures.py": "import torch\ndef f():\n    from .experiment import _eval_ntscc, _jscc_link\n",
        "ntscc_sim/report/x.py": "from ..link import DigitalLink\n",
        "ntscc_sim/link/x.py": "from ntscc_sim.datasets import build_dataset\n",
        "ntscc_sim/fec/x.py": "from ..models.ntc import NTC\n",
        "ntscc_sim/sweep.py": "from .datasets import build_dataset\n",  # allowed
    }
    for rel, text in old.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = violations(tmp_path)
    assert {f.split(":")[0] for f in found} == set(old) - {"ntscc_sim/sweep.py"}
    assert any("ntscc_sim.banana.experiment" in f for f in found) and any("imports torch" in f for f in found)
