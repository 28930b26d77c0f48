"""A method is one registry line: once registered it runs by name in ``reconstruct_mean`` (with
``-bp``), its setting is a flag of ``invgen reconstruct`` and ``invgen bench`` with the
registry's default and help (``--METHOD-FIELD``), and the experiment runner runs it and
records the setting (``"METHOD.FIELD"``). Registering the same method again is harmless."""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.app import cli
from invgen.app.experiments import common, runner
from invgen.app.training import export_generator
from invgen.generators.face64 import FaceDCGAN
from invgen.operators import Mask
from invgen.solvers import (
    METHODS,
    Budget,
    CSGMSettings,
    Estimates,
    Method,
    Problem,
    Settings,
    reconstruct_mean,
    register,
    setting,
    unregister,
)
from invgen.validation import positive

pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass(frozen=True)
class ScaledSettings(Settings):
    scale: float = setting(1.0, "the factor c of c·A⁺y", positive)


def scaled_pinv(problem: Problem, settings: ScaledSettings) -> Estimates:
    return Estimates.single(settings.scale * problem.A.pinv(problem.y))


def toy_method() -> Method:
    return Method("pinv-scaled", scaled_pinv, ScaledSettings, summary="c·A⁺y, a scaled pseudo-inverse")


#: Made before the toy method is registered.
PAPER_BEFORE = Budget.paper()


def scaled(c: float) -> Budget:
    return Budget(**{"pinv-scaled": ScaledSettings(scale=c)})


@pytest.fixture
def toy():
    register(toy_method())
    yield
    unregister("pinv-scaled")


def help_of(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.fixture
def face_png(tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 72, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_reconstruct_runs_a_registered_method_with_its_setting(toy):
    A = Mask.random((3, 8, 8), 0.5, seed=0)
    y = A(torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)))
    estimates = reconstruct_mean(A, y, ["pinv-scaled", "pinv-scaled-bp"], budget=scaled(0.5), progress=False)
    torch.testing.assert_close(estimates["pinv-scaled"], 0.5 * A.pinv(y))
    torch.testing.assert_close(A(estimates["pinv-scaled-bp"]), y)  # back-projected: consistent with y again
    assert Budget().of("pinv-scaled") == ScaledSettings() and Budget().of("pinv-scaled").scale == 1.0
    assert PAPER_BEFORE.of("pinv-scaled") == ScaledSettings()  # made before: defaults
    assert Budget.paper().of("pinv-scaled") == ScaledSettings()  # no paper preset: the defaults
    assert scaled(0.5).flat()["pinv-scaled.scale"] == 0.5
    assert Budget.from_flat({"pinv-scaled.scale": 0.25}).of("pinv-scaled") == ScaledSettings(scale=0.25)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        ScaledSettings(scale=-1.0)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        Budget.from_flat({"pinv-scaled.scale": -1.0})
    with pytest.raises(TypeError, match="pinv-scaled takes a ScaledSettings, got CSGMSettings"):
        Budget(**{"pinv-scaled": CSGMSettings()})


def test_its_flag_appears_in_the_command_lines_and_goes_with_it(toy, capsys):
    for argv in (["reconstruct"], ["bench", "inpainting"], ["bench", "super-resolution"]):
        text = help_of(argv, capsys)
        assert "pinv-scaled: c·A⁺y, a scaled pseudo-inverse" in text
        assert re.search(r"--pinv-scaled-scale \S+\s+the factor c of c·A⁺y \(default 1\)", text), text


def test_an_unregistered_method_leaves_no_flag(capsys):
    register(toy_method())
    unregister("pinv-scaled")
    assert "pinv-scaled" not in help_of(["reconstruct"], capsys) and "pinv-scaled" not in METHODS


def test_registering_the_same_method_again_replaces_it_and_another_under_its_name_is_refused(toy):
    first = METHODS["pinv-scaled"]
    again = register(toy_method())  # a notebook cell run twice
    assert METHODS["pinv-scaled"] is again and again is not first and list(METHODS).count("pinv-scaled") == 1

    def other_run(problem: Problem, settings: ScaledSettings) -> Estimates:
        return Estimates.single(problem.A.pinv(problem.y))

    with pytest.raises(ValueError, match="'pinv-scaled' is taken by another method"):
        register(Method("pinv-scaled", other_run, ScaledSettings))
    with pytest.raises(ValueError, match="'csgm' is taken by another method"):
        register(Method("csgm", scaled_pinv, ScaledSettings))
    assert METHODS["pinv-scaled"] is again and METHODS["csgm"].settings is CSGMSettings
    with pytest.raises(ValueError, match="ends in '-bp'"):
        register(Method("scaled-bp", scaled_pinv, ScaledSettings))
    with pytest.raises(ValueError, match="continues from 'nothing', which is not registered"):
        register(Method("after-nothing", scaled_pinv, ScaledSettings, after="nothing"))
    assert "scaled-bp" not in METHODS and "after-nothing" not in METHODS


def test_a_setting_made_without_setting_is_refused():
    @dataclass(frozen=True)
    class Bare(Settings):
        scale: float = 1.0

    with pytest.raises(TypeError, match="Bare.scale has no help; make it with setting()"):
        Bare()


def test_invgen_reconstruct_runs_it_and_checks_its_flag(toy, tmp_path, face_png, capsys):
    out = tmp_path / "out"
    argv = ["reconstruct", face_png, "--task", "inpaint", "--method", "pinv-scaled", "--bp", "--size", "32",
            "--out", str(out), "--quiet"]
    assert cli.main([*argv, "--pinv-scaled-scale", "0.5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "pinv-scaled-bp" and metrics["budget"]["pinv-scaled.scale"] == 0.5
    assert (out / "face_pinv-scaled-bp.png").is_file()
    with pytest.raises(SystemExit):
        cli.main([*argv, "--pinv-scaled-scale", "-1", "--overwrite"])
    assert "argument --pinv-scaled-scale: scale must be a finite number > 0" in capsys.readouterr().err


def test_the_experiment_runner_runs_it_and_records_its_setting(toy, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    data = tmp_path / "celeba"
    data.mkdir()
    for i in (9001, 9002):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(
            data / f"{i:06d}.jpg")
    export_generator(FaceDCGAN(latent_dim=8, width=4), tmp_path / "tiny.pt")
    out = tmp_path / "toy"
    common.main("toy", "A toy study.\n", [common.Setting("inpaint")], ["pinv", "pinv-scaled"],
                ["--data", str(data), "--n-images", "2", "--generator", str(tmp_path / "tiny.pt"), "--out", str(out),
                 "--pinv-scaled-scale", "0.5"])
    chunk = json.loads((out / "chunks" / "inpaint" / "009001-009002.json").read_text())
    assert chunk["config"]["pinv-scaled.scale"] == 0.5
    assert {r["method"] for r in chunk["records"]} == {"pinv", "pinv-scaled"}
    panel = torch.load(out / "chunks" / "inpaint" / "009001-009002.examples.pt")
    torch.testing.assert_close(panel["pinv-scaled"].float(), 0.5 * panel["pinv"].float(), atol=1e-3, rtol=0)


def test_the_documented_method_registers_as_written():
    page = (Path(__file__).resolve().parents[1] / "docs" / "site" / "library.md").read_text()
    code = re.search(r"```python\n(.*?)```", page.split("## Adding a method", 1)[1], re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/site/library.md (adding a method)", "exec"), namespace)
    exec(compile(code, "docs/site/library.md (adding a method)", "exec"), namespace)  # the cell run twice
    try:
        (field,) = dataclasses.fields(METHODS["pinv-scaled"].settings)
        A = Mask.random((3, 8, 8), 0.5, seed=0)
        y = A(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)))
        budget = Budget.from_flat({f"pinv-scaled.{field.name}": 0.5})
        x = reconstruct_mean(A, y, ["pinv-scaled"], budget=budget, progress=False)["pinv-scaled"]
        torch.testing.assert_close(x, 0.5 * A.pinv(y))
    finally:
        unregister("pinv-scaled")
