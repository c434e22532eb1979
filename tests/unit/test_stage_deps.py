"""dvc.yaml's source deps and params, derived from the code.

Each stage ``cmd: biomoe <name>`` runs the entry module ``biomoe.stages.<name>``
(src/biomoe/stages/<name>.py; the CLI is only the door and is no dep). Static analysis, by ``ast``
and without importing any analysed module, finds:

* the source files the stage runs: every biomoe module reachable from the entry module through any
  ``import`` / ``from ... import`` (module level or inside functions, relative ones resolved; not
  those under ``if TYPE_CHECKING:``), every package ``__init__.py`` such an import executes, and
  every module named by a string literal (``"biomoe.pretrain.worker"`` given to ``python -m``);
* the params it reads: every attribute chain on the name ``params`` in the entry module
  (``params.images.size`` reads that leaf, ``params.images`` every leaf under it), following bare
  ``params`` into functions of other ``biomoe.stages`` modules. Bare ``params`` given to anything
  else is a failure (pass sections, not the whole Params); a method called on ``params`` itself
  (``params.as_flat_dict()``) is logging, not a read.

Rules for dvc.yaml, src deps: every required file is covered (the file, or a directory holding it)
and every ``src/`` dep is needed (a file dep is a required file; a directory dep only when every
.py file under it is required). Params: every non-operational leaf read is covered (the key, or a
dotted prefix of it) and every entry covers a read leaf and no operational one (``OPERATIONAL``).
Failures name the stage and the exact entries to add and remove, ready to paste.
"""

from __future__ import annotations

import ast
import copy
import functools
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = "biomoe"
STAGES = f"{PACKAGE}.stages"
PARAMS_FILE = "params.yaml"
PARAMS_NAME = "params"


# ---------------------------------------------------------------------------------------------
# Operational keys: they never change an output, so no stage lists them in dvc.yaml (a change
# would re-run stages for nothing). Edit this table, not the code below: ``key`` is a leaf or a
# section (every leaf under it); ``except_stages`` are the stages whose outputs do depend on it.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operational:
    key: str
    why: str
    except_stages: frozenset[str] = frozenset()


OPERATIONAL: tuple[Operational, ...] = (
    Operational("images.threads", "windows rendered in parallel; images are byte-identical"),
    Operational("scaleout", "where shards run (threads, processes, Dask); outputs are identical"),
    Operational("pretrain.num_workers", "DataLoader worker processes; the batches are the same"),
    Operational("pretrain.checkpoint_every", "how often a resumable checkpoint is written"),
    Operational("pretrain.log_every", "how often metrics are logged"),
    Operational(
        "register.tracking_uri",
        "the MLflow store every stage logs its run to; only register's outputs depend on it",
        except_stages=frozenset({"register"}),
    ),
    Operational(
        "register.experiment",
        "the MLflow experiment every stage logs its run to; only register's outputs depend on it",
        except_stages=frozenset({"register"}),
    ),
)


def operational_leaves(
    stage: str, leaves: Iterable[str], table: Iterable[Operational] = OPERATIONAL
) -> set[str]:
    """The leaves that ``stage`` must not list."""
    keys = [op.key for op in table if stage not in op.except_stages]
    return {leaf for key in keys for leaf in under(key, leaves)}


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def under(prefix: str, items: Iterable[str], sep: str = ".") -> set[str]:
    """The items equal to ``prefix`` or below it (``a.b`` is below ``a``; ``ab`` is not)."""
    return {item for item in items if item == prefix or item.startswith(prefix + sep)}


def cover(
    wanted: set[str], universe: set[str], roots: Iterable[str], touch: set[str], sep: str
) -> list[str]:
    """The fewest entries (each a section / directory all of whose items are wanted, or an item)
    that cover every item of ``touch``; entries holding no item of ``touch`` are left out."""
    out: list[str] = []

    def visit(prefix: str) -> None:
        below = under(prefix, universe, sep)
        if not below & touch:
            return
        if below <= wanted:
            out.append(prefix)
            return
        rest = [item[len(prefix) + len(sep) :] for item in below if item != prefix]
        for child in sorted({prefix + sep + item.split(sep)[0] for item in rest}):
            visit(child)

    for root in sorted(set(roots)):
        visit(root)
    return out


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted leaves of a mapping; lists are one leaf (as ``Params.as_flat_dict``)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those in the body of an ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children: list[ast.AST] = [node.test, *node.orelse]
        else:
            children = list(ast.iter_child_nodes(node))
        stack.extend(reversed(children))


# ---------------------------------------------------------------------------------------------
# The package's modules and the imports between them
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


@dataclass(frozen=True)
class Binding:
    """What a name in a module stands for: a module, or ``attr`` of module ``module``."""

    module: str
    attr: str | None = None


class SourceTree:
    """Every module of ``package`` under ``src``, parsed on demand; ``files``: every .py file
    under ``src``, relative to the project (``src``'s parent)."""

    def __init__(self, src: Path, package: str = PACKAGE) -> None:
        self.src = src
        self.files = {path.relative_to(src.parent).as_posix() for path in src.rglob("*.py")}
        self.modules: dict[str, Module] = {}
        for path in sorted((src / package).rglob("*.py")):
            parts = path.relative_to(src).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            parts = parts[:-1] if is_package else parts
            name = ".".join(parts)
            # a package shadows a module file of its name, as in Python's import system
            if all(part.isidentifier() for part in parts) and (
                is_package or name not in self.modules
            ):
                self.modules[name] = Module(name, path, is_package)
        self._trees: dict[str, ast.Module] = {}
        self._parents: dict[str, dict[ast.AST, ast.AST]] = {}
        self._imports: dict[str, set[str]] = {}
        self._bindings: dict[str, dict[str, Binding]] = {}

    def tree(self, name: str) -> ast.Module:
        if name not in self._trees:
            module = self.modules[name]
            self._trees[name] = ast.parse(module.path.read_text(), str(module.path))
        return self._trees[name]

    def parents(self, name: str) -> dict[ast.AST, ast.AST]:
        if name not in self._parents:
            self._parents[name] = {
                child: node
                for node in ast.walk(self.tree(name))
                for child in ast.iter_child_nodes(node)
            }
        return self._parents[name]

    def existing(self, dotted: str) -> str | None:
        """The longest prefix of ``dotted`` that is a module of the package."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None

    def resolve_from(self, name: str, node: ast.ImportFrom) -> str:
        """The absolute module a ``from X import ...`` in module ``name`` imports from."""
        if not node.level:
            return node.module or ""
        base = name.split(".") if self.modules[name].is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)

    def imports(self, name: str) -> set[str]:
        """The package modules that module ``name`` imports directly (their ancestors aside)."""
        if name in self._imports:
            return self._imports[name]
        found: set[str] = set()
        for node in runtime_nodes(self.tree(name)):
            if isinstance(node, ast.Import):
                found.update(filter(None, (self.existing(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = self.resolve_from(name, node)
                if (module := self.existing(base)) is not None:
                    found.add(module)
                for alias in node.names:
                    if f"{base}.{alias.name}" in self.modules:
                        found.add(f"{base}.{alias.name}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in self.modules
            ):
                found.add(node.value)
        self._imports[name] = found
        return found

    def closure(self, entry: str) -> set[str]:
        """Every module that running ``entry`` can execute: imports, transitively, and the
        packages (``__init__``) above each."""
        seen: set[str] = set()
        todo = [entry]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            parts = name.split(".")
            todo.extend(
                p for i in range(1, len(parts)) if (p := ".".join(parts[:i])) in self.modules
            )
            todo.extend(self.imports(name))
        return seen

    def bindings(self, name: str) -> dict[str, Binding]:
        """The names module ``name``'s imports bind (anywhere in it; scopes are not told apart)."""
        if name in self._bindings:
            return self._bindings[name]
        bound: dict[str, Binding] = {}
        for node in runtime_nodes(self.tree(name)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bound[alias.asname] = Binding(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        bound[top] = Binding(top)
            elif isinstance(node, ast.ImportFrom):
                base = self.resolve_from(name, node)
                for alias in node.names:
                    dotted = f"{base}.{alias.name}"
                    target = (
                        Binding(dotted) if dotted in self.modules else Binding(base, alias.name)
                    )
                    bound[alias.asname or alias.name] = target
        self._bindings[name] = bound
        return bound

    def function(self, name: str, attr: str, depth: int = 0) -> tuple[str, ast.FunctionDef] | None:
        """The ``def attr`` of module ``name`` (followed through re-exports), with its module."""
        if name not in self.modules or depth > 10:
            return None
        tree = self.tree(name)
        defs = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == attr
        ]
        top = [node for node in tree.body if node in defs]
        if top or len(defs) == 1:
            return name, (top or defs)[0]  # type: ignore[return-value]
        bound = self.bindings(name).get(attr)
        if bound is not None and bound.attr is not None:
            return self.function(bound.module, bound.attr, depth + 1)
        return None

    def callee(self, name: str, func: ast.expr) -> Binding | None:
        """What a call's ``func`` names in module ``name``: ``Binding(module, function)``."""
        chain: list[str] = []
        while isinstance(func, ast.Attribute):
            chain.insert(0, func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            return None
        if not chain:
            if self.function(name, func.id) is not None and func.id not in self.bindings(name):
                return Binding(name, func.id)
            bound = self.bindings(name).get(func.id)
            return bound if bound is not None and bound.attr is not None else None
        bound = self.bindings(name).get(func.id)
        if bound is None or bound.attr is not None:
            return None
        module = bound.module
        while len(chain) > 1 and f"{module}.{chain[0]}" in self.modules:
            module = f"{module}.{chain.pop(0)}"
        return Binding(module, chain[0]) if len(chain) == 1 else None


# ---------------------------------------------------------------------------------------------
# Params reads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """The dotted leaves of params.yaml (section names are the attribute names)."""

    leaves: frozenset[str]

    @classmethod
    def of(cls, params: Any) -> Schema:
        """From a loaded ``biomoe.config.Params``."""
        return cls(frozenset(params.as_flat_dict()))

    @classmethod
    def from_tree(cls, tree: Mapping[str, Any]) -> Schema:
        return cls(frozenset(flatten(tree)))

    def key(self, attrs: list[str]) -> str | None:
        """The key an attribute chain reads: as many of its attributes as name keys (a leaf or a
        section); None when the first names none."""
        parts: list[str] = []
        for attr in attrs:
            candidate = ".".join([*parts, attr])
            if candidate in self.leaves:
                return candidate
            if not any(leaf.startswith(candidate + ".") for leaf in self.leaves):
                break
            parts = candidate.split(".")
        return ".".join(parts) or None


@dataclass
class Reads:
    keys: set[str] = field(default_factory=set)
    problems: dict[str, None] = field(default_factory=dict)  # ordered and without repeats


def param_reads(
    tree: SourceTree,
    module: str,
    schema: Schema,
    scope: ast.AST | None = None,
    name: str = PARAMS_NAME,
    seen: set[tuple[str, int, str]] | None = None,
) -> Reads:
    """What ``name`` (a Params) reads in ``scope`` of ``module`` (default: the whole module)."""
    reads = Reads()
    seen = set() if seen is None else seen
    parents = tree.parents(module)
    where = tree.modules[module].path.relative_to(tree.src.parent).as_posix()
    for node in runtime_nodes(scope or tree.tree(module)):
        if not (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)):
            continue
        at = f"{where}:{node.lineno}"
        top: ast.expr = node
        attrs: list[str] = []
        while isinstance(parent := parents.get(top), ast.Attribute) and parent.value is top:
            top = parent
            attrs.append(parent.attr)
        parent = parents.get(top)
        if attrs:
            key = schema.key(attrs)
            if key is not None:
                reads.keys.add(key)
            elif not (len(attrs) == 1 and isinstance(parent, ast.Call) and parent.func is top):
                reads.problems[f"{at}: `{ast.unparse(top)}` is not a key of {PARAMS_FILE}"] = None
            continue  # a method called on params itself logs it: no read
        _follow_bare(tree, module, schema, node, parents, at, reads, seen)
    return reads


def _follow_bare(
    tree: SourceTree,
    module: str,
    schema: Schema,
    node: ast.Name,
    parents: dict[ast.AST, ast.AST],
    at: str,
    reads: Reads,
    seen: set[tuple[str, int, str]],
) -> None:
    """Bare ``params`` at ``node``: follow it into a stages function, else a problem."""
    parent = parents.get(node)
    call, position, keyword = None, None, None
    if isinstance(parent, ast.Call) and node in parent.args:
        call, position = parent, parent.args.index(node)
        if any(isinstance(arg, ast.Starred) for arg in parent.args[:position]):
            position = None
    elif isinstance(parent, ast.keyword) and parent.arg is not None:
        call, keyword = parents.get(parent), parent.arg
    if not isinstance(call, ast.Call) or (position is None and keyword is None):
        reads.problems[
            f"{at}: bare `{node.id}` is used in a way this check cannot analyse"
            f" (`{ast.unparse(parent) if parent else node.id}`):"
            " pass sections, not the whole Params"
        ] = None
        return
    callee = tree.callee(module, call.func)
    in_stages = callee is not None and (
        callee.module == STAGES or callee.module.startswith(STAGES + ".")
    )
    if not in_stages:
        named = f"{callee.module}.{callee.attr}" if callee else ast.unparse(call.func)
        reads.problems[
            f"{at}: bare `{node.id}` passed to {named}: pass sections, not the whole Params"
        ] = None
        return
    assert callee is not None and callee.attr is not None
    found = tree.function(callee.module, callee.attr)
    bound = _parameter(found[1], position, keyword) if found else None
    if found is None or bound is None:
        reads.problems[
            f"{at}: bare `{node.id}` passed to {callee.module}.{callee.attr}, whose parameter "
            "this check cannot find: pass sections, not the whole Params"
        ] = None
        return
    key = (found[0], found[1].lineno, bound)
    if key in seen:
        return
    seen.add(key)
    inner = param_reads(tree, found[0], schema, found[1], bound, seen)
    reads.keys |= inner.keys
    reads.problems.update(inner.problems)


def _parameter(func: ast.FunctionDef, position: int | None, keyword: str | None) -> str | None:
    args = func.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    if position is not None:
        return positional[position] if position < len(positional) else None
    named = [a.arg for a in [*args.args, *args.kwonlyargs]]
    return keyword if keyword in named else None


# ---------------------------------------------------------------------------------------------
# One stage against dvc.yaml
# ---------------------------------------------------------------------------------------------


@dataclass
class StageReport:
    stage: str
    entry: str | None = None  # the entry module's file, relative to the project
    required: set[str] = field(default_factory=set)  # .py files the stage runs
    read: set[str] = field(default_factory=set)  # leaves read, operational ones included
    problems: list[str] = field(default_factory=list)
    deps_add: list[str] = field(default_factory=list)
    deps_remove: dict[str, str] = field(default_factory=dict)  # entry -> why
    params_add: list[str] = field(default_factory=list)
    params_remove: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.problems
            or self.deps_add
            or self.deps_remove
            or self.params_add
            or self.params_remove
        )

    def render(self) -> str:
        lines = [f"stage {self.stage!r} ({self.entry or 'no entry module'}):"]
        for title, add, remove in (
            ("deps", self.deps_add, self.deps_remove),
            ("params", self.params_add, self.params_remove),
        ):
            if add:
                lines += [f"  {title} to add:", *(f"    - {entry}" for entry in add)]
            if remove:
                lines.append(f"  {title} to remove:")
                lines += [f"    - {entry}    # {why}" for entry, why in remove.items()]
        if self.problems:
            lines += ["  problems:", *(f"    - {problem}" for problem in self.problems)]
        return "\n".join(lines)


def _stage_command(spec: Mapping[str, Any]) -> str | None:
    cmd = spec.get("cmd")
    words = cmd.split() if isinstance(cmd, str) else []
    if len(words) >= 2 and words[0] == PACKAGE and not words[1].startswith("-"):
        return words[1]
    return None


def src_deps(spec: Mapping[str, Any]) -> list[str]:
    """The stage's deps under src/, normalised (``./`` and a trailing ``/`` dropped)."""
    deps = [str(dep).removeprefix("./").rstrip("/") for dep in spec.get("deps") or []]
    return [dep for dep in deps if dep == "src" or dep.startswith("src/")]


def param_entries(spec: Mapping[str, Any]) -> list[str]:
    """The stage's params entries for params.yaml (other files' are not checked)."""
    entries: list[str] = []
    for item in spec.get("params") or []:
        if isinstance(item, str):
            entries.append(item)
        elif isinstance(item, Mapping):
            entries += [str(key) for key in item.get(PARAMS_FILE) or []]
    return entries


def check_stage(
    root: Path,
    stage: str,
    spec: Mapping[str, Any],
    schema: Schema,
    tree: SourceTree | None = None,
    operational: Iterable[Operational] = OPERATIONAL,
) -> StageReport:
    tree = tree or SourceTree(root / "src")
    report = StageReport(stage)
    command = _stage_command(spec)
    if command is None:
        report.problems.append(f"cmd {spec.get('cmd')!r} is not `{PACKAGE} <name> [options]`")
        return report
    entry = f"{STAGES}.{command.replace('-', '_')}"
    report.entry = f"src/{entry.replace('.', '/')}.py"
    if entry not in tree.modules:
        report.problems.append(
            f"entry module {entry} ({report.entry}) not found: `{spec['cmd']}` must run it"
        )
        return report
    report.entry = tree.modules[entry].path.relative_to(root).as_posix()
    report.required = {
        tree.modules[name].path.relative_to(root).as_posix() for name in tree.closure(entry)
    }
    _check_deps(root, spec, report, tree.files)
    reads = param_reads(tree, entry, schema)
    report.problems += list(reads.problems)
    report.read = {leaf for key in reads.keys for leaf in under(key, schema.leaves)}
    _check_params(spec, schema, report, operational_leaves(stage, schema.leaves, operational))
    return report


def _check_deps(
    root: Path, spec: Mapping[str, Any], report: StageReport, universe: set[str]
) -> None:
    required = report.required
    valid: list[str] = []
    for dep in src_deps(spec):
        path = root / dep
        below = under(dep, universe, "/")
        if not path.exists():
            report.deps_remove[dep] = "no such path"
        elif path.is_file():
            if dep in required:
                valid.append(dep)
            else:
                report.deps_remove[dep] = "the stage does not import it"
        elif not below & required:
            report.deps_remove[dep] = "the stage imports no module under it"
        elif not below <= required:
            report.deps_remove[dep] = (
                f"the stage imports only {len(below & required)} of its {len(below)} .py files"
                " (listed under add)"
            )
        else:
            valid.append(dep)
    covered = {item for dep in valid for item in under(dep, required, "/")}
    missing = required - covered
    roots = {"/".join(item.split("/")[:2]) for item in required}
    report.deps_add = cover(required, universe, roots, missing, "/")
    for dep in valid:
        if added := [a for a in report.deps_add if dep.startswith(a + "/")]:
            report.deps_remove[dep] = f"covered by the added {added[0]}"


def _check_params(
    spec: Mapping[str, Any], schema: Schema, report: StageReport, operational: set[str]
) -> None:
    wanted = report.read - operational
    valid: list[str] = []
    for entry in param_entries(spec):
        below = under(entry, schema.leaves)
        if not below:
            report.params_remove[entry] = f"not a key of {PARAMS_FILE}"
        elif below & operational:
            names = ", ".join(sorted(below & operational))
            report.params_remove[entry] = f"covers operational {names} (listed under add)"
        elif not below & report.read:
            report.params_remove[entry] = "the stage reads none of it"
        else:
            valid.append(entry)
    covered = {leaf for entry in valid for leaf in under(entry, wanted)}
    roots = {leaf.split(".")[0] for leaf in wanted}
    report.params_add = cover(wanted, set(schema.leaves), roots, wanted - covered, ".")
    for entry in valid:
        if added := [a for a in report.params_add if entry.startswith(a + ".")]:
            report.params_remove[entry] = f"covered by the added {added[0]}"


def check_pipeline(
    root: Path,
    dvc: Mapping[str, Any],
    schema: Schema,
    operational: Iterable[Operational] = OPERATIONAL,
    tree: SourceTree | None = None,
) -> list[StageReport]:
    tree = tree or SourceTree(root / "src")
    return [
        check_stage(root, stage, spec, schema, tree, tuple(operational))
        for stage, spec in (dvc.get("stages") or {}).items()
    ]


def render(reports: Iterable[StageReport]) -> str:
    bad = [report.render() for report in reports if not report.ok]
    return "dvc.yaml does not match the code:\n" + "\n".join(bad) if bad else "ok"


@functools.cache
def real_schema() -> Schema:
    from biomoe.config import load_params

    return Schema.of(load_params(PROJECT / PARAMS_FILE))


@functools.cache
def real_tree() -> SourceTree:
    return SourceTree(PROJECT / "src")


def load_dvc(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "dvc.yaml").read_text())


# ---------------------------------------------------------------------------------------------
# The analysis on synthetic package trees
# ---------------------------------------------------------------------------------------------

TREE = {
    "images": {"size": 8, "threads": 0, "waveform": {"line_width": 0.1, "clip": 0.01}},
    "train": {"lr": 0.1, "seed": 0},
    "scaleout": {"runner": "local", "local": {"workers": 1}},
    "register": {"tracking_uri": "sqlite://", "experiment": "e", "model_name": "m"},
}
SCHEMA = Schema.from_tree(TREE)


def write_project(tmp_path: Path, files: Mapping[str, str]) -> Path:
    """``files`` (paths under src/biomoe/) in a project at ``tmp_path``, with empty package
    ``__init__``s and a CLI (no stage's dep) unless ``files`` writes them."""
    for rel, text in {"__init__.py": "", "stages/__init__.py": "", "cli.py": "", **files}.items():
        path = tmp_path / "src" / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def stage(deps: Iterable[str] = (), params: Iterable[Any] = (), name: str = "s") -> dict[str, Any]:
    """A dvc.yaml stage running ``biomoe <name>``, with the two package __init__s as deps."""
    base = ["data/raw", "src/biomoe/__init__.py", "src/biomoe/stages/__init__.py"]
    return {"cmd": f"biomoe {name} --flag", "deps": [*base, *deps], "params": list(params)}


def check(root: Path, spec: Mapping[str, Any], name: str = "s") -> StageReport:
    return check_stage(root, name, spec, SCHEMA)


ENTRY = """
    from biomoe.core import helper

    def s(params):
        helper(params.train.lr)
"""


def test_a_stage_that_matches_passes(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"stages/s.py": ENTRY, "core.py": "import numpy\n"})
    report = check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/core.py"], ["train.lr"]))
    assert report.ok, report.render()
    assert report.required == {
        "src/biomoe/__init__.py",
        "src/biomoe/stages/__init__.py",
        "src/biomoe/stages/s.py",
        "src/biomoe/core.py",
    }
    assert report.read == {"train.lr"}


def test_a_missing_entry_module_names_the_stage(tmp_path: Path) -> None:
    root = write_project(tmp_path, {})
    report = check(root, stage(name="ingest"), name="ingest")
    assert not report.ok
    assert report.problems == [
        "entry module biomoe.stages.ingest (src/biomoe/stages/ingest.py) not found:"
        " `biomoe ingest --flag` must run it"
    ]
    assert "stage 'ingest'" in report.render()


def test_a_missing_dep_is_named(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"stages/s.py": ENTRY, "core.py": ""})
    report = check(root, stage(["src/biomoe/stages/s.py"], ["train.lr"]))
    assert report.deps_add == ["src/biomoe/core.py"]
    assert not report.deps_remove
    assert "deps to add:\n    - src/biomoe/core.py" in report.render()


def test_an_unused_dep_is_named(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"stages/s.py": ENTRY, "core.py": "", "other.py": ""})
    deps = ["src/biomoe/stages/s.py", "src/biomoe/core.py", "src/biomoe/other.py", "src/gone.py"]
    report = check(root, stage(deps, ["train.lr"]))
    assert report.deps_remove == {
        "src/biomoe/other.py": "the stage does not import it",
        "src/gone.py": "no such path",
    }
    assert not report.deps_add


def test_a_directory_dep_partly_unused_is_replaced_by_its_used_files(tmp_path: Path) -> None:
    entry = "from biomoe.lib.a import x\nfrom biomoe.lib.sub import b\n"
    files = {
        "stages/s.py": entry,
        "lib/__init__.py": "",
        "lib/a.py": "",
        "lib/unused.py": "",
        "lib/sub/__init__.py": "",
        "lib/sub/b.py": "",
    }
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/lib/"]))
    assert report.deps_remove == {
        "src/biomoe/lib": "the stage imports only 4 of its 5 .py files (listed under add)"
    }
    # lib/sub is used whole: one directory entry
    assert report.deps_add == [
        "src/biomoe/lib/__init__.py",
        "src/biomoe/lib/a.py",
        "src/biomoe/lib/sub",
    ]
    assert check(root, stage(["src/biomoe/stages/s.py", *report.deps_add])).ok


def test_a_used_directory_dep_passes_and_a_file_inside_an_added_one_is_redundant(
    tmp_path: Path,
) -> None:
    files = {"stages/s.py": "import biomoe.lib.a\n", "lib/__init__.py": "", "lib/a.py": ""}
    root = write_project(tmp_path, files)
    assert check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/lib"])).ok
    report = check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/lib/a.py"]))
    assert report.deps_add == ["src/biomoe/lib"]
    assert report.deps_remove == {"src/biomoe/lib/a.py": "covered by the added src/biomoe/lib"}


def test_package_inits_and_from_imported_submodules_are_required(tmp_path: Path) -> None:
    files = {
        "stages/s.py": "from biomoe.pkg import sub\nfrom biomoe.pkg.sub import thing as _t\n",
        "pkg/__init__.py": "",
        "pkg/sub.py": "",
        "pkg/other.py": "",
    }
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages/s.py"]))
    assert report.deps_add == ["src/biomoe/pkg/__init__.py", "src/biomoe/pkg/sub.py"]


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    files = {
        "stages/s.py": "from . import _shared\nfrom ..pkg import a\n",
        "stages/_shared.py": "from .._util import f\n",
        "_util.py": "",
        "pkg/__init__.py": "from .b import g\n",
        "pkg/a.py": "",
        "pkg/b.py": "",
    }
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages/s.py"]))
    # every module under stages/ is used now: the directory replaces its files
    assert report.deps_add == ["src/biomoe/_util.py", "src/biomoe/pkg", "src/biomoe/stages"]
    assert report.deps_remove == {
        "src/biomoe/stages/__init__.py": "covered by the added src/biomoe/stages",
        "src/biomoe/stages/s.py": "covered by the added src/biomoe/stages",
    }


def test_a_type_checking_import_is_ignored(tmp_path: Path) -> None:
    entry = """
        import typing
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from biomoe.heavy import Model
        if typing.TYPE_CHECKING:
            import biomoe.heavier
        else:
            import biomoe.light
    """
    files = {"stages/s.py": entry, "heavy.py": "", "heavier.py": "", "light.py": ""}
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/heavy.py"]))
    assert report.deps_remove == {"src/biomoe/heavy.py": "the stage does not import it"}
    assert report.deps_add == ["src/biomoe/light.py"]


def test_a_lazy_import_inside_a_function_counts(tmp_path: Path) -> None:
    entry = """
        def s(params):
            from biomoe.lazy import work

            def inner():
                import biomoe.deeper.mod as m
            return work
    """
    files = {"stages/s.py": entry, "lazy.py": "", "deeper/__init__.py": "", "deeper/mod.py": ""}
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages/s.py"]))
    assert report.deps_add == ["src/biomoe/deeper", "src/biomoe/lazy.py"]


def test_a_module_named_in_a_string_counts(tmp_path: Path) -> None:
    entry = """
        import subprocess
        import sys

        def s(params):
            subprocess.run([sys.executable, "-m", "biomoe.pretrain.worker"], check=True)
            print("biomoe.pretrain.worker.nothing", "biomoe.nowhere")
    """
    files = {
        "stages/s.py": entry,
        "pretrain/__init__.py": "",
        "pretrain/worker.py": "from biomoe.model import net\n",
        "pretrain/unused.py": "",
        "model/__init__.py": "",
        "model/net.py": "",
    }
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages/s.py"]))
    assert report.deps_add == [
        "src/biomoe/model",
        "src/biomoe/pretrain/__init__.py",
        "src/biomoe/pretrain/worker.py",
    ]


def test_a_missed_param_is_named(tmp_path: Path) -> None:
    entry = """
        def s(params):
            return params.train.lr, params.images.waveform, params.register.model_name
    """
    root = write_project(tmp_path, {"stages/s.py": entry})
    report = check(root, stage(["src/biomoe/stages/s.py"], ["train.lr"]))
    assert report.read == {
        "train.lr",
        "images.waveform.line_width",
        "images.waveform.clip",
        "register.model_name",
    }
    assert report.params_add == ["images.waveform", "register.model_name"]
    assert "params to add:\n    - images.waveform\n    - register.model_name" in report.render()


def test_a_listed_param_the_stage_does_not_read_is_named(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"stages/s.py": ENTRY, "core.py": ""})
    deps = ["src/biomoe/stages/s.py", "src/biomoe/core.py"]
    report = check(root, stage(deps, ["train", "images.size", "images.nope", {PARAMS_FILE: []}]))
    assert report.params_remove == {
        "images.size": "the stage reads none of it",
        "images.nope": "not a key of params.yaml",
    }
    assert not report.params_add  # "train" covers the read train.lr
    assert check(root, stage(deps, [{PARAMS_FILE: ["train.lr"]}])).ok


def test_an_operational_param_is_not_listed(tmp_path: Path) -> None:
    entry = """
        def s(params):
            return params.images, params.scaleout.runner, params.register.tracking_uri
    """
    root = write_project(tmp_path, {"stages/s.py": entry})
    deps = ["src/biomoe/stages/s.py"]
    report = check(root, stage(deps, ["images", "scaleout", "register.tracking_uri"]))
    assert report.params_remove == {
        "images": "covers operational images.threads (listed under add)",
        "scaleout": "covers operational scaleout.local.workers, scaleout.runner (listed under add)",
        "register.tracking_uri": "covers operational register.tracking_uri (listed under add)",
    }
    assert report.params_add == ["images.size", "images.waveform"]
    # the register stage's outputs depend on the store
    entry = "def register(params):\n    return params.register.tracking_uri\n"
    root = write_project(tmp_path, {"stages/register.py": entry})
    spec = stage(["src/biomoe/stages/register.py"], ["register.tracking_uri"], name="register")
    assert check(root, spec, name="register").ok


def test_the_operational_table_is_editable(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"stages/s.py": "def s(params):\n    return params.train\n"})
    table = (Operational("train.seed", "a test says so"),)
    spec = stage(["src/biomoe/stages/s.py"], ["train"])
    report = check_stage(root, "s", spec, SCHEMA, operational=table)
    assert report.params_remove == {"train": "covers operational train.seed (listed under add)"}
    assert report.params_add == ["train.lr"]


def test_bare_params_passed_outside_the_stages_fails(tmp_path: Path) -> None:
    entry = """
        import mlflow
        from biomoe.tracking import stage_run

        def s(params):
            stage_run("s", params)
            mlflow.log_params(params.as_flat_dict())
            params.logged("s").items()
            print(params)
    """
    root = write_project(tmp_path, {"stages/s.py": entry, "tracking.py": ""})
    report = check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/tracking.py"]))
    assert report.problems == [
        "src/biomoe/stages/s.py:6: bare `params` passed to biomoe.tracking.stage_run:"
        " pass sections, not the whole Params",
        "src/biomoe/stages/s.py:9: bare `params` passed to print: pass sections, not the whole"
        " Params",
    ]
    assert report.read == set()  # as_flat_dict and logged log; they read nothing


def test_bare_params_stored_or_unknown_keys_fail(tmp_path: Path) -> None:
    entry = """
        def s(params, *rest):
            kept = params
            other = [params.train.lr]
            return params.nothing, kept, other, params["train"], f(*rest, params)
    """
    root = write_project(tmp_path, {"stages/s.py": entry})
    problems = check(root, stage(["src/biomoe/stages/s.py"], ["train.lr"])).problems
    assert problems == [
        "src/biomoe/stages/s.py:3: bare `params` is used in a way this check cannot analyse"
        " (`kept = params`): pass sections, not the whole Params",
        "src/biomoe/stages/s.py:5: `params.nothing` is not a key of params.yaml",
        "src/biomoe/stages/s.py:5: bare `params` is used in a way this check cannot analyse"
        " (`params['train']`): pass sections, not the whole Params",
        "src/biomoe/stages/s.py:5: bare `params` is used in a way this check cannot analyse"
        " (`f(*rest, params)`): pass sections, not the whole Params",
    ]


def test_a_stages_helper_is_followed(tmp_path: Path) -> None:
    entry = """
        from biomoe.stages import common
        from biomoe.stages._shared import run as shared_run

        def s(params):
            common.log_run("s", params)
            shared_run(cfg=params)
            _local(1, params)

        def _local(n, p):
            return p.images.size
    """
    shared = """
        from .common import deeper

        def run(other=None, *, cfg):
            deeper(cfg)
            return cfg.train.seed
    """
    common = """
        from biomoe.tracking import stage_run

        def log_run(stage, pr):
            return pr.register.model_name

        def deeper(q):
            stage_run(q)
            return q.train.lr
    """
    files = {
        "stages/s.py": entry,
        "stages/_shared.py": shared,
        "stages/common.py": common,
        "tracking.py": "",
    }
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages", "src/biomoe/tracking.py"]))
    assert report.read == {"register.model_name", "train.seed", "train.lr", "images.size"}
    assert report.params_add == ["images.size", "register.model_name", "train"]
    assert report.problems == [
        "src/biomoe/stages/common.py:8: bare `q` passed to biomoe.tracking.stage_run:"
        " pass sections, not the whole Params"
    ]


def test_a_helper_re_exported_by_the_stages_package_is_followed(tmp_path: Path) -> None:
    files = {
        "stages/__init__.py": "from biomoe.stages.common import helper\n",
        "stages/s.py": "from biomoe.stages import helper\n\ndef s(params):\n    helper(params)\n",
        "stages/common.py": "def helper(params):\n    return params.train.lr\n",
    }
    root = write_project(tmp_path, files)
    report = check(root, stage(["src/biomoe/stages"], ["train.lr"]))
    assert report.ok, report.render()


def test_a_package_shadows_the_module_file_of_its_name(tmp_path: Path) -> None:
    files = {"stages.py": "import biomoe.old\n", "old.py": "", "stages/s.py": "import biomoe.new\n"}
    root = write_project(tmp_path, {**files, "new.py": ""})
    report = check(root, stage(["src/biomoe/stages/s.py", "src/biomoe/new.py"]))
    assert report.ok, report.render()


def test_cover_keeps_whole_sections_together() -> None:
    universe = {"a.x", "a.y", "b.z.p", "b.z.q", "b.w"}
    wanted = {"a.x", "b.z.p", "b.z.q"}
    assert cover(wanted, universe, ["a", "b"], wanted, ".") == ["a.x", "b.z"]
    assert cover(universe, universe, ["a", "b"], {"b.w"}, ".") == ["b"]


# ---------------------------------------------------------------------------------------------
# The real tree
# ---------------------------------------------------------------------------------------------


def test_operational_keys_are_keys_of_params_yaml() -> None:
    leaves = real_schema().leaves
    assert [op.key for op in OPERATIONAL if not under(op.key, leaves)] == []


def test_the_schema_names_the_key_an_attribute_chain_reads() -> None:
    from pydantic import BaseModel

    class Inner(BaseModel):
        size: int = 1
        spec: dict[str, int] = {"a": 1}

    class Model(BaseModel):
        train: Inner = Inner()
        images: Inner = Inner()

        def as_flat_dict(self) -> dict[str, Any]:
            return flatten(self.model_dump())

    schema = Schema.of(Model())
    assert schema.leaves == {"train.size", "train.spec.a", "images.size", "images.spec.a"}
    assert schema.key(["train", "size"]) == "train.size"
    assert schema.key(["images", "size", "bit_length"]) == "images.size"
    assert schema.key(["images", "model_dump"]) == "images"
    assert schema.key(["images", "spec"]) == "images.spec"
    assert schema.key(["as_flat_dict"]) is None


def test_dvc_yaml_matches_the_code() -> None:
    reports = check_pipeline(PROJECT, load_dvc(PROJECT), real_schema(), tree=real_tree())
    if not all(report.ok for report in reports):
        pytest.fail(render(reports), pytrace=False)


def test_a_dropped_src_dep_is_reported_missing() -> None:
    dvc, schema, tree = load_dvc(PROJECT), real_schema(), real_tree()
    for name, spec in dvc["stages"].items():
        report = check_stage(PROJECT, name, spec, schema, tree)
        for dep in src_deps(spec):
            others = [d for d in src_deps(spec) if d != dep and d not in report.deps_remove]
            only_here = under(dep, report.required, "/") - {
                item for other in others for item in under(other, report.required, "/")
            }
            if dep in report.deps_remove or not only_here:
                continue
            dropped = copy.deepcopy(spec)
            dropped["deps"] = [d for d in spec["deps"] if str(d).rstrip("/") != dep]
            after = check_stage(PROJECT, name, dropped, schema, tree)
            assert after.deps_add, f"dropping {dep} from {name} went unnoticed"
            assert any(dep == a or dep.startswith(a + "/") for a in after.deps_add), after.render()
            return
    pytest.fail("no stage has an entry module and a needed src dep yet", pytrace=False)
