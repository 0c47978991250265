"""The shape of the code base, read from its source (AST), not run: short functions, imports at the top of modules
(only the CLI imports lazily, to keep ``--help`` fast), no import cycles, and every third-party import declared."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "talkavatar"
MAX_FUNCTION_LINES = 70
OPTIONAL = {"gsplat", "lpips", "torchvision", "dlib", "face_recognition_models", "ray", "hama"}
"""Optional dependencies (extras, or absent on some installs): imported where used, after checking they load."""
HEAVY = {"anny", "mediapipe", "scipy.spatial"}
"""Seconds to import: loaded when the body model, the detector or the silhouette's k-d tree runs, not by every
command that imports track (``talkavatar fit BUNDLE`` needs none; scipy.spatial alone costs a track process ~0.4 s)."""
LIGHT_ENTRY_POINTS = ("talkavatar", "talkavatar.cli")
"""``import talkavatar`` and ``talkavatar --help`` load no torch: the modules they load (the CLI, the Python API, the
stage runner, the configs) import a stage or torch inside the function that runs it. Everywhere else imports go at
the top of the module."""
STAGE_CHAINS = "talkavatar.pipeline"
"""The pipeline chains stages: it imports a stage in the function that runs it, so a command reaches the bundle's lock
in a fraction of a second (torch, scipy and OpenCV take seconds), and a second writer says it waits before the first
one is done (tests/test_rough_edges.py)."""


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = (path, ast.parse(path.read_text(), str(path)))
    return out


MODULES = _modules()


def _functions(tree: ast.Module):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return [node.module or ""]


def test_functions_are_at_most_70_lines():
    long = sorted(f"{path.relative_to(ROOT)}::{f.name} ({f.end_lineno - f.lineno + 1} lines)"
                  for path, tree in MODULES.values() for f in _functions(tree)
                  if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES)
    assert not long, "split these:\n" + "\n".join(long)


def _loaded_by(roots: tuple[str, ...]) -> set[str]:
    """The talkavatar modules that importing ``roots`` loads (module-level imports, followed)."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _module_level_imports(name, MODULES[name][1])
    return seen


def test_imports_inside_functions_only_where_the_light_entry_points_need_them():
    light = _loaded_by(LIGHT_ENTRY_POINTS)
    assert {"talkavatar.cli.track", "talkavatar.api", "talkavatar.runner"} <= light
    lazy = []
    for name, (path, tree) in MODULES.items():
        if name in light or name.startswith(STAGE_CHAINS + "."):
            continue
        for f in _functions(tree):
            for node in ast.walk(f):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    lazy += [f"{path.relative_to(ROOT)}:{node.lineno} {m}" for m in _imported(node)
                             if not any(m == h or m.startswith(h + ".") for h in OPTIONAL | HEAVY)]
    assert not lazy, "import these at the top of the module:\n" + "\n".join(sorted(set(lazy)))


def _module_level_imports(name: str, tree: ast.Module) -> set[str]:
    """talkavatar modules that ``name`` imports when it is imported (module level, including under if/try)."""
    out = set()
    for top in tree.body:
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test):
            continue                                     # annotations only: not imported at run time
        for node in [top, *ast.walk(top)] if isinstance(top, (ast.If, ast.Try)) else [top]:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name in MODULES)
            elif isinstance(node, ast.ImportFrom) and node.module in MODULES:
                out.add(node.module)
                out.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return out - {name}


def test_no_import_cycles():
    graph = {name: _module_level_imports(name, tree) for name, (_, tree) in MODULES.items()}
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])
    assert not cycles, "\n".join(cycles)


def declared_distributions() -> set[str]:
    """Every distribution pyproject.toml declares (dependencies and extras), by normalised name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + [s for extra in project["optional-dependencies"].values() for s in extra]
    return {re.split(r"[<>=!~\[; ]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def test_every_third_party_import_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = declared_distributions()
    missing = set()
    for name, (path, tree) in MODULES.items():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or getattr(node, "level", 0):
                continue
            for module in _imported(node):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in OPTIONAL or top in ("talkavatar", "__future__", ""):
                    continue
                dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not dists & declared:
                    missing.add(f"{top} ({', '.join(sorted(dists))}) in {path.relative_to(ROOT)}")
    assert not missing, "declare in pyproject.toml:\n" + "\n".join(sorted(missing))
