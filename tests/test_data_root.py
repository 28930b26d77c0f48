"""One data-root setting: ``--data DIR``, default ``$INVGEN_DATA``, else the shared folder —
defined once (``invgen.app.celeba``) and used by training, the experiments and the benchmarks."""
from __future__ import annotations

from pathlib import Path

import pytest

from invgen.app import cli
from invgen.app.celeba import DATA_VARIABLE, SHARED_DATA
from invgen.app.experiments import common

ROOT = Path(__file__).resolve().parents[1]


def test_the_shared_folder_is_written_in_one_place():
    sources = [*(ROOT / "invgen").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    assert len(sources) > 50
    holders = sorted(str(p.relative_to(ROOT)) for p in sources if "shared/data" in p.read_text())
    assert holders == ["invgen/app/celeba.py"]


@pytest.mark.parametrize("command", [["train"], ["bench"]])
def test_the_environment_variable_sets_the_default_and_data_overrides_it(command, tmp_path, monkeypatch):
    def parsed(argv):
        if command == ["bench"]:
            return common.build_parser("inpainting", "x").parse_args(argv).data
        return cli.build_parser().parse_args([*command, *argv]).data

    monkeypatch.delenv(DATA_VARIABLE, raising=False)
    assert parsed([]) == SHARED_DATA
    monkeypatch.setenv(DATA_VARIABLE, str(tmp_path / "celeba"))
    assert parsed([]) == str(tmp_path / "celeba")
    assert parsed(["--data", "elsewhere"]) == "elsewhere"


@pytest.mark.parametrize("command", [["train"], ["bench", "inpainting"]])
def test_a_missing_folder_is_one_line_naming_the_flag_and_the_variable(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_VARIABLE, str(tmp_path / "not-here"))
    assert cli.main([*command, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(tmp_path / "not-here") in err and "--data" in err and DATA_VARIABLE in err
