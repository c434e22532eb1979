"""The served model's pinned environment: the exact versions it was trained with.

``mlflow models serve`` (or a Docker image built with ``mlflow models build-docker``) rebuilds
the model's environment from its ``requirements.txt``; bare names there would resolve other
versions, or a multi-GB CUDA torch. The requirements are the third-party distributions the
served code imports (read from its source: every ``biomoe`` module the model's entry point
reaches, and each import in it), each pinned to the version in the project's lock file
(``requirements.lock``) or, without one, to the installed version; the lock itself goes with the
model as pip constraints, so their dependencies are pinned too. A CPU build of torch
(``2.13.0+cpu``) brings the index that serves it. MLflow records the Python version in
``python_env.yaml`` beside them.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

import biomoe

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""Where pip finds torch's CPU builds (``torch==X+cpu``)."""

PACKAGE_DIR = Path(biomoe.__file__).parent


def _module_file(name: str) -> Path | None:
    relative = Path(*name.split(".")[1:])
    for candidate in (PACKAGE_DIR / relative / "__init__.py", PACKAGE_DIR / f"{relative}.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of the modules ``path`` (module ``module``) imports, anywhere in it."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imported_top_levels(entry: str) -> set[str]:
    """Top-level third-party modules imported by ``entry`` and the biomoe modules it reaches."""
    seen: set[str] = set()
    pending = [entry]
    external: set[str] = set()
    while pending:
        module = pending.pop()
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        for name in _imports(path, module):
            top = name.split(".")[0]
            if top == "biomoe":
                pending.append(name)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                external.add(top)
    return external


def served_distributions(entry: str) -> list[str]:
    """The distributions that provide ``entry``'s third-party imports, sorted."""
    providers = importlib.metadata.packages_distributions()
    missing = sorted(t for t in imported_top_levels(entry) if t not in providers)
    if missing:
        raise RuntimeError(f"{entry} imports {missing}, which no installed distribution provides")
    return sorted({d for top in imported_top_levels(entry) for d in providers[top]})


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_versions(lock: Path) -> dict[str, str]:
    """``name==version`` lines of a pip freeze, by canonical name."""
    versions: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            versions[_canonical(name)] = version.strip()
    return versions


def pinned_requirements(entry: str, lock: Path | None) -> list[str]:
    """pip requirements for the model whose code starts at ``entry``: every distribution it
    imports at its exact version (``lock``'s, else installed), ``lock`` as constraints."""
    locked = locked_versions(lock) if lock is not None else {}
    requirements: list[str] = []
    for distribution in served_distributions(entry):
        version = locked.get(_canonical(distribution)) or importlib.metadata.version(distribution)
        requirements.append(f"{distribution}=={version}")
    if any(r.startswith("torch==") and "+cpu" in r for r in requirements):
        requirements.insert(0, f"--extra-index-url {TORCH_CPU_INDEX}")
    if lock is not None:
        requirements.append(f"-c {lock}")
    return requirements
