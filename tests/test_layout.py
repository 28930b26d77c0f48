"""The library stands apart from the application: no module under ``invgen/`` outside
``invgen/app/`` imports ``invgen.app`` — at the top, lazily inside a function, relatively,
or through ``importlib.import_module``."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted(p for p in (ROOT / "invgen").rglob("*.py") if ROOT / "invgen" / "app" not in p.parents)


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every module the code of ``module`` (a dotted name) may import: ``import a.b`` gives
    ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (b may be a module), relative
    ``from`` resolved against ``module``'s package; ``import_module("a.b")`` / ``__import__``
    with a literal name gives ``a.b``."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            name = ".".join(part for part in (base, node.module) if part)
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            yield str(node.args[0].value)


def application_imports(source: str, module: str) -> list[str]:
    return sorted({m for m in imported_modules(source, module) if m == "invgen.app" or m.startswith("invgen.app.")})


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_no_module_of_the_library_imports_the_application():
    assert ROOT / "invgen" / "solvers" / "registry.py" in LIBRARY and len(LIBRARY) > 40
    offenders = {str(p.relative_to(ROOT)): application_imports(p.read_text(), module_name(p)) for p in LIBRARY}
    assert not {path: found for path, found in offenders.items() if found}


def test_the_check_finds_every_way_of_importing_the_application():
    sources = [
        "import invgen.app.cli",
        "from invgen.app.tasks import make_operator",
        "from invgen import app",
        "def run():\n    from invgen.app.experiments import common\n",
        "from ..app import celeba",
        "importlib.import_module('invgen.app.training')",
    ]
    for source in sources:
        assert application_imports(source, "invgen.solvers.registry"), source
    assert not application_imports("from invgen.solvers import reconstruct\nfrom . import base\n",
                                   "invgen.solvers.registry")
