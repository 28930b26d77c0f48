"""The library stands apart from the application: no module under ``invgen/`` outside
``invgen/app/`` imports ``invgen.app`` — at the top, lazily inside a function, relatively,
or through ``importlib.import_module``."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# invgen/__main__.py is the command's entry point (python -m invgen, torchrun -m invgen): application.
LIBRARY = sorted(p for p in (ROOT / "invgen").rglob("*.py")
                 if ROOT / "invgen" / "app" not in p.parents and p != ROOT / "invgen" / "__main__.py")


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
    assert not application_imports("from invgen.solvers import reconstruct_mean\nfrom . import base\n",
                                   "invgen.solvers.registry")


SCRIPTS = sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "examples").glob("*.py")])


def private_imports(source: str) -> list[str]:
    """Every ``invgen`` module or name imported by ``source`` that is private (a part starting with ``_``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "invgen":
            found += [f"{node.module}.{a.name}" for a in node.names
                      if any(part.startswith("_") for part in [*node.module.split("."), a.name])]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names
                      if a.name.split(".")[0] == "invgen" and any(p.startswith("_") for p in a.name.split("."))]
    return found


def test_benchmarks_and_examples_import_nothing_private():
    assert len(SCRIPTS) > 10
    offenders = {p.name: private_imports(p.read_text()) for p in SCRIPTS}
    assert not {name: found for name, found in offenders.items() if found}


def test_the_private_import_check_finds_them():
    assert private_imports("from invgen.priors._per_image import PerImageWeights") == [
        "invgen.priors._per_image.PerImageWeights"]
    assert private_imports("from invgen.solvers.loop import _check_parameters") == [
        "invgen.solvers.loop._check_parameters"]
    assert private_imports("import invgen._secret") == ["invgen._secret"]
    assert not private_imports("from invgen.solvers import csgm\nfrom torch import _C")


def test_no_public_name_of_a_package_shadows_one_of_its_modules():
    import importlib
    import pkgutil

    for package in ("invgen", "invgen.solvers", "invgen.operators", "invgen.generators", "invgen.priors",
                    "invgen.metrics"):
        module = importlib.import_module(package)
        submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
        shadowed = {name for name in getattr(module, "__all__", []) if name in submodules}
        assert not shadowed, f"{package} exports {sorted(shadowed)}, which are also its modules' names"
