"""The research scripts in ``examples/`` and the README's "one screen" run as written, on a
budget of a few steps: each writes what it says and scores finite PSNRs, and the scripts
import only the library's public modules, never the application."""
from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
PUBLIC = {"invgen.data", "invgen.fidelity", "invgen.forward", "invgen.generators", "invgen.metrics",
          "invgen.operators", "invgen.priors", "invgen.solvers"}
STEPS = 3


def load(name: str):
    """The example ``examples/NAME.py`` as a module (its ``main`` not yet run)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_examples_are_the_research_scripts():
    assert {p.stem for p in EXAMPLES} == {"quickstart", "robust_fidelity", "sparse_deviations", "custom_operator",
                                          "own_generator", "method_study", "uncertainty", "comparison", "poisson",
                                          "anchored_iagan"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_an_example_imports_only_the_public_library(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    private = sorted(m for m in imported if m.split(".")[0] == "invgen" and m not in PUBLIC)
    assert not private, f"{path.name} imports {private}; examples use only {sorted(PUBLIC)}"


@pytest.mark.parametrize("name", ["quickstart", "robust_fidelity", "sparse_deviations", "custom_operator",
                                  "own_generator", "uncertainty", "anchored_iagan"])
def test_an_example_writes_its_panel_and_finite_scores(name, tmp_path, capsys):
    out = tmp_path / f"{name}.png"
    scores = load(name).main(steps=STEPS, out=str(out))
    assert out.stat().st_size > 0
    assert len(scores) >= 3 and all(math.isfinite(v) for v in scores.values()), scores
    printed = capsys.readouterr().out
    assert all(method in printed for method in scores) and f"wrote {out}" in printed


def test_custom_operator_passes_check_and_a_broken_adjoint_does_not():
    import torch

    from invgen.operators import check

    Grayscale = load("custom_operator").Grayscale
    assert not check(Grayscale((3, 4, 4))).failed

    class WrongAdjoint(Grayscale):
        def _rmatvec(self, y):
            return y * self.w.to(y.dtype).flip(0)  # the weights in the wrong channel order

    with pytest.raises(AssertionError, match="adjoint"):
        check(WrongAdjoint((3, 4, 4)))
    A = Grayscale((3, 4, 4))
    y = torch.rand(2, *A.out_shape, dtype=torch.float64)
    assert torch.allclose(A(A.pinv(y)), y)  # the closed-form pseudo-inverse is a right inverse


def test_iagan_with_weights_anchored_to_the_pretrained_ones_is_iagan_at_lambda_0():
    import torch

    from invgen.generators.face64 import build_face64
    from invgen.operators import SuperResolution
    from invgen.solvers import CSGMSettings, IAGANSettings, csgm, iagan

    torch.manual_seed(0)
    G, A = build_face64(8, 4), SuperResolution((3, 64, 64), 8)
    y = A(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    start = csgm(A, y, G, CSGMSettings(steps=3, restarts=2), progress=False)
    settings = IAGANSettings(steps=6, lr_theta=1e-2)
    anchor = load("anchored_iagan").weight_anchor
    plain = iagan(A, y, G, start, settings, progress=False)
    assert torch.equal(iagan(A, y, G, start, settings, penalty=anchor(G, 0.0), progress=False).x, plain.x)
    stiff = iagan(A, y, G, start, settings, penalty=anchor(G, 1e4), progress=False)  # θᵢ held at θ
    assert (stiff.x - start.x).norm() < 0.5 * (plain.x - start.x).norm()


def test_method_study_prints_a_row_per_budget_and_method_and_writes_json(tmp_path, capsys):
    out = tmp_path / "study.json"
    study = load("method_study")
    table = study.main(steps=STEPS, out=str(out))
    assert set(table) == {"default", "paper"}
    printed = capsys.readouterr().out.splitlines()
    for budget in table:
        assert set(table[budget]) == set(study.METHODS)
        for method, mean in table[budget].items():
            assert math.isfinite(mean)
            assert any(re.match(rf"{budget}\s+{re.escape(method)}\s", line) for line in printed), (budget, method)
    written = json.loads(out.read_text())
    budgets = written["budgets"]
    assert budgets["default"]["csgm.average"] is True and budgets["paper"]["csgm.average"] is False
    assert budgets["default"]["csgm.steps"] == budgets["paper"]["csgm.steps"] == STEPS
    assert budgets["default"]["csgm.restarts"] == 4 and budgets["paper"]["csgm.restarts"] == 1
    assert len(written["psnr_db"]) == 2 * len(study.METHODS)


def test_poisson_fits_each_method_by_its_likelihood_and_by_least_squares(tmp_path, capsys):
    out = tmp_path / "poisson.png"
    scores = load("poisson").main(steps=STEPS, out=str(out))
    assert out.stat().st_size > 0
    assert set(scores) == {f"{method} ({fit})" for method in ("csgm-bp", "iagan-bp")
                           for fit in ("Poisson NLL", "least squares")}
    assert all(math.isfinite(v) for v in scores.values()), scores
    printed = capsys.readouterr().out
    for key, value in scores.items():  # one line per method and fit, with the PSNR it returns
        method, fit = key.removesuffix(")").split(" (")
        line = rf"^{re.escape(method)}\s+{re.escape(fit)}\s+PSNR\s+{value:.2f} dB\s+ST-LPIPS 0\.\d{{3}}$"
        assert re.search(line, printed, re.M), (key, printed)
    assert f"wrote {out}" in printed


def test_comparison_prints_its_table_and_writes_the_records(tmp_path, capsys):
    out = tmp_path / "comparison.json"
    table = load("comparison").main(steps=STEPS, out=str(out))
    assert table in capsys.readouterr().out
    written = json.loads(out.read_text())
    methods = ["bicubic", "dip", "csgm-bp", "iagan-bp"]
    assert [row["method"] for row in written["summary"]] == methods
    assert len(written["records"]) == 4 * len(methods) and {r["image"] for r in written["records"]} == {0, 1, 2, 3}
    for row in written["summary"]:  # each row: the mean over its 4 images' records
        psnrs = [r["psnr"] for r in written["records"] if r["method"] == row["method"]]
        assert row["n_images"] == 4 and row["psnr"] == pytest.approx(sum(psnrs) / 4)
        assert f"| {row['method']} | 4 |" in table
    assert [row["method"] for row in written["paired"]] == methods[:-1]  # each against iagan-bp
    assert "PSNR − iagan-bp (dB)" in table
    # method − reference: over the same images, the mean paired difference is the difference of the means
    psnr = {row["method"]: row["psnr"] for row in written["summary"]}
    for row in written["paired"]:
        assert row["psnr_gain"] == pytest.approx(psnr[row["method"]] - psnr["iagan-bp"])


def readme_one_screen() -> str:
    """The first Python block under the README's "The library in one screen"."""
    section = (ROOT / "README.md").read_text().split("## The library in one screen", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_one_screen_reproduces_the_command_lines_numbers(tmp_path, capsys):
    from importlib import resources

    from invgen.app import cli

    code = readme_one_screen()
    assert "CSGMSettings()" in code and "IAGANSettings()" in code, "the one screen runs invgen's defaults"
    code = code.replace("CSGMSettings()", f"CSGMSettings(steps={STEPS})").replace(
        "IAGANSettings()", f"IAGANSettings(steps={STEPS})")  # the defaults, cut to a few steps
    namespace: dict = {}
    exec(compile(code, "README.md (one screen)", "exec"), namespace)
    assert tuple(namespace["x_hat"].shape) == tuple(namespace["x"].shape) == (1, 3, 64, 64)
    capsys.readouterr()
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as face:
        assert cli.main(["reconstruct", str(face), "--task", "sr4", "--method", "iagan", "--bp", "--csgm-steps",
                         str(STEPS), "--iagan-steps", str(STEPS), "--out", str(tmp_path), "--quiet"]) == 0
    scores = json.loads((tmp_path / "metrics.json").read_text())["images"]["astronaut_face_64"]
    psnr, st_lpips = namespace["psnr"], namespace["st_lpips"]
    assert psnr(namespace["x_hat"], namespace["x"]).item() == pytest.approx(scores["psnr"], abs=1e-4)
    assert st_lpips(namespace["x_hat"], namespace["x"]).item() == pytest.approx(scores["st_lpips"], abs=1e-5)
