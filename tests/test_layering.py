"""The layering of DESIGN.md, read from the import statements (an AST walk, imports inside functions included):
cli -> (batch) -> pipeline / api -> stages -> motion, bundle, core. Stages never import each other; nothing below
the stages imports them; no ``_private`` name is imported from another module. (That ``import talkavatar`` and
``talkavatar --help`` load no torch nor any other heavy dependency: tests/test_cli.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "talkavatar"
STAGES = {"track", "pseudo", "fit", "audio", "render", "eval", "export"}
COMPOSERS = {"pipeline", "api", "cli", "batch", "docs", "__main__", "__init__"}  # may import stages
# (docs: for the man page; the package root binds the API)


def _imports():
    """(importing file, its top-level part, imported module, names) for every ``talkavatar`` import."""
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0].removesuffix(".py")
        module = ".".join(("talkavatar",) + rel.with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("talkavatar"):
                yield rel, part, module, node.module, [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("talkavatar"):
                        yield rel, part, module, alias.name, []


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_walk_sees_the_imports():
    found = list(_imports())
    assert len(found) > 300
    assert any(part == "pipeline" and _part(target) == "track" for _, part, _, target, _ in found)


def test_no_stage_imports_another_stage():
    """Only settings compose across stages: a stage's config may hold another's (EvalConfig holds a TrackConfig and
    a RenderConfig); no other module of a stage is imported by another stage."""
    crossing = sorted({f"{rel} -> {target}" for rel, part, module, target, _ in _imports()
                       if part in STAGES and _part(target) in STAGES and _part(target) != part
                       and not (module.endswith(".config") and target.endswith(".config"))})
    assert crossing == []


def test_only_the_composing_layers_import_stages():
    """core, motion, bundle and the shared modules (config, errors, runner, ...) sit below every stage."""
    upward = sorted({f"{rel} -> {target}" for rel, part, _, target, _ in _imports()
                     if part not in STAGES | COMPOSERS and _part(target) in STAGES | COMPOSERS - {"docs"}})
    assert upward == []


def test_no_private_name_is_imported_across_modules():
    private = sorted({f"{rel}: {name} from {target}" for rel, _, module, target, names in _imports()
                      for name in names if name.startswith("_") and not name.startswith("__") and target != module})
    assert private == []


def test_stage_packages_named_like_api_functions_are_reached_by_from_imports():
    """``talkavatar.fit`` is the API function, so ``import talkavatar.fit.stage as s`` cannot work (it looks the
    attribute up); ``from talkavatar.fit import stage`` does. Checked over the package, tests and benchmarks."""
    api = {"track", "pseudo", "fit", "render"}
    root = PACKAGE.parent
    plain = sorted(f"{path.relative_to(root)}:{node.lineno}" for folder in ("talkavatar", "tests", "benchmarks")
                   for path in (root / folder).rglob("*.py")
                   for node in ast.walk(ast.parse(path.read_text(), str(path))) if isinstance(node, ast.Import)
                   for alias in node.names if alias.name.split(".")[:2][-1] in api and
                   alias.name.startswith("talkavatar."))
    assert plain == []
