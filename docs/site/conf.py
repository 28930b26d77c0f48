"""Sphinx configuration of invgen's documentation site (pages in MyST markdown, API from docstrings).

Build (from the repository root; the output is git-ignored):
    .venv/bin/pip install -e ".[docs]" && .venv/bin/sphinx-build -W --keep-going -b html docs/site docs/site/_build/html
"""
from __future__ import annotations

import re

import invgen

project = "invgen"
author = "the invgen authors"
copyright = "invgen authors, MIT licence"
version = release = invgen.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]

# The docstrings are reStructuredText prose with ``literals`` and :func: / :class: roles;
# napoleon reads NumPy/Google-style sections where a docstring has them.
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
# A method without a docstring of its own (``forward`` of an ``nn.Module``) shows no
# docstring, rather than torch's text about ``nn.Module``.
autodoc_inherit_docstrings = False

# docs/results/ and docs/default-generator.md are included as they are, from pages at the
# same relative places (results/NAME/results.md, default-generator.md), so their links to
# each other resolve in the site as on GitHub; links into benchmarks/ become downloads
# (the include's relative-docs) or, for folders, the folder's path (below).
# Headings up to ### get GitHub-style anchors, so the results pages' links such as
# ``default-generator.md#the-study-that-chose-it`` resolve in the site as on GitHub.
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"invgen {release}"


_REPOSITORY_FOLDER_LINK = re.compile(r"\[([^\]]+)\]\((?:\.\./)+(benchmarks/[^)\s]*/)\)")


def _repository_folders_as_paths(app, relative_path, parent_docname, content: list[str]) -> None:
    """An included page's link to a folder of the repository (``benchmarks/results/NAME/``)
    has no page in the site: show the folder's path instead of a dead link."""

    def as_path(match: re.Match) -> str:
        text, path = match.group(1), match.group(2)
        return f"`{path}`" if text.strip("`") == path else f"{text} (`{path}`)"

    content[0] = _REPOSITORY_FOLDER_LINK.sub(as_path, content[0])


def _registry_table() -> str:
    """The registered methods as a markdown table, one row per ``invgen.solvers.METHODS`` entry."""
    from invgen.solvers import METHODS

    rows = ["| method | `-bp` | what it does | settings | paper preset |", "|---|---|---|---|---|"]
    for name, method in METHODS.items():
        rows.append(f"| `{name}` | {'yes' if method.back_projectable else 'no'} | {method.summary} | "
                    f"{{class}}`~invgen.solvers.{method.settings.__name__}` | "
                    f"{'yes' if method.paper is not None else '—'} |")
    return "\n".join(rows)


def _generated_from_the_registry(app, docname: str, source: list[str]) -> None:
    """The solvers page lists every registered method, so it cannot fall behind the registry."""
    if docname == "api/solvers":
        source[0] = source[0].replace("<!-- registry-table -->", _registry_table())


def setup(app) -> None:
    app.connect("include-read", _repository_folders_as_paths)
    app.connect("source-read", _generated_from_the_registry)
