"""A method is one registry line: once registered it runs by name in ``reconstruct`` (with
``-bp``), its setting is a flag of ``invgen reconstruct`` and ``invgen bench`` with the
registry's default and help, and the experiment runner runs it and records the setting."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.app import cli
from invgen.app.experiments import common
from invgen.app.training import export_generator
from invgen.generators.face64 import FaceDCGAN
from invgen.operators import Mask
from invgen.solvers import METHODS, PAPER, Budget, Method, Problem, reconstruct, register, setting, unregister
from invgen.validation import positive

pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass(frozen=True)
class ScaledSettings:
    pinv_scale: float = setting(1.0, "the factor c of c·A⁺y", positive)


def scaled_pinv(problem: Problem, settings: ScaledSettings) -> torch.Tensor:
    return settings.pinv_scale * problem.A.pinv(problem.y)


@pytest.fixture
def toy():
    register(Method("pinv-scaled", scaled_pinv, ScaledSettings, "c·A⁺y, a scaled pseudo-inverse"))
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
    estimates = reconstruct(A, y, ["pinv-scaled", "pinv-scaled-bp"], budget=Budget(pinv_scale=0.5), progress=False)
    torch.testing.assert_close(estimates["pinv-scaled"], 0.5 * A.pinv(y))
    torch.testing.assert_close(A(estimates["pinv-scaled-bp"]), y)  # back-projected: consistent with y again
    assert Budget().pinv_scale == 1.0 and PAPER.of("pinv-scaled") == ScaledSettings()  # made before: defaults
    with pytest.raises(ValueError, match="pinv_scale must be a finite number > 0"):
        Budget(pinv_scale=-1.0)


def test_its_flag_appears_in_the_command_lines_and_goes_with_it(toy, capsys):
    for argv in (["reconstruct"], ["bench", "inpainting"], ["bench", "super-resolution"]):
        text = help_of(argv, capsys)
        assert "pinv-scaled: c·A⁺y, a scaled pseudo-inverse" in text
        assert "--pinv-scale PINV_SCALE" in text and "the factor c of c·A⁺y (default 1)" in " ".join(text.split())


def test_an_unregistered_method_leaves_no_flag(capsys):
    register(Method("pinv-scaled", scaled_pinv, ScaledSettings, "c·A⁺y, a scaled pseudo-inverse"))
    unregister("pinv-scaled")
    assert "pinv-scale" not in help_of(["reconstruct"], capsys) and "pinv-scaled" not in METHODS


def test_invgen_reconstruct_runs_it_and_checks_its_flag(toy, tmp_path, face_png, capsys):
    out = tmp_path / "out"
    argv = ["reconstruct", face_png, "--task", "inpaint", "--method", "pinv-scaled", "--bp", "--size", "32",
            "--out", str(out), "--quiet"]
    assert cli.main([*argv, "--pinv-scale", "0.5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "pinv-scaled-bp" and metrics["budget"]["pinv_scale"] == 0.5
    assert (out / "face_pinv-scaled-bp.png").is_file()
    with pytest.raises(SystemExit):
        cli.main([*argv, "--pinv-scale", "-1", "--overwrite"])
    assert "argument --pinv-scale: pinv_scale must be a finite number > 0" in capsys.readouterr().err


def test_the_experiment_runner_runs_it_and_records_its_setting(toy, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "lpips_available", lambda: False)
    data = tmp_path / "celeba"
    data.mkdir()
    for i in (9001, 9002):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(
            data / f"{i:06d}.jpg")
    export_generator(FaceDCGAN(latent_dim=8, width=4), tmp_path / "tiny.pt")
    out = tmp_path / "toy"
    common.main("toy", "A toy study.\n", [common.Setting("inpaint")], ["pinv", "pinv-scaled"],
                ["--data", str(data), "--n-images", "2", "--generator", str(tmp_path / "tiny.pt"), "--out", str(out),
                 "--pinv-scale", "0.5"])
    shard = json.loads((out / "shards" / "shard_1_of_1.json").read_text())
    assert shard["config"]["pinv_scale"] == 0.5
    assert {r["method"] for r in shard["records"]} == {"pinv", "pinv-scaled"}
    panel = torch.load(out / "shards" / "shard_1_of_1.examples.pt")["inpaint"]
    torch.testing.assert_close(panel["pinv-scaled"].float(), 0.5 * panel["pinv"].float(), atol=1e-3, rtol=0)


def test_the_readmes_method_registers_as_written():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme.split("### Adding a method", 1)[1], re.S).group(1)
    exec(compile(code, "README.md (adding a method)", "exec"), {})
    try:
        A = Mask.random((3, 8, 8), 0.5, seed=0)
        y = A(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)))
        x = reconstruct(A, y, ["pinv-scaled"], budget=Budget(pinv_scale=0.5), progress=False)["pinv-scaled"]
        torch.testing.assert_close(x, 0.5 * A.pinv(y))
    finally:
        unregister("pinv-scaled")
