"""Progress: a tqdm bar on a terminal, a log line every few seconds into a log, nothing when off."""
from __future__ import annotations

import io

import pytest
import torch

import invgen.progress
from invgen.operators import Identity
from invgen.priors.base import Prior
from invgen.progress import LogLines, progress_bar
from invgen.solvers import solve


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """A fake ``time.monotonic`` that advances 1 s a reading."""
    now = iter(range(10_000))
    monkeypatch.setattr(invgen.progress.time, "monotonic", lambda: float(next(now)))


def test_a_log_gets_a_line_every_few_seconds_not_a_bar(clock, monkeypatch):
    monkeypatch.setattr(invgen.progress, "LOG_EVERY", 3.0)
    log = io.StringIO()
    bar = progress_bar(range(10), "csgm", file=log)
    assert isinstance(bar, LogLines)
    for step in bar:
        bar.set_postfix(objective=f"{1 / (step + 1):.2g}")
    bar.close()
    lines = log.getvalue().splitlines()
    # The clock reads 0 at the start and 1 s later before each step: lines at 3, 6 and 9 s,
    # each with the steps done so far and the postfix the last of them set.
    assert lines == ["csgm: 2/10 (3 s, 0.667 it/s) objective=0.5", "csgm: 5/10 (6 s, 0.833 it/s) objective=0.2",
                     "csgm: 8/10 (9 s, 0.889 it/s) objective=0.12"]
    assert "\r" not in log.getvalue()


def test_a_short_run_writes_nothing_to_a_log():
    log = io.StringIO()
    assert list(progress_bar(range(5), "dip", file=log)) == list(range(5))
    assert log.getvalue() == ""


def test_a_terminal_gets_a_tqdm_bar():
    term = Terminal()
    bar = progress_bar(range(3), "iagan", file=term)
    assert not isinstance(bar, LogLines)
    assert list(bar) == [0, 1, 2]
    bar.close()
    assert "iagan" in term.getvalue() and "\r" in term.getvalue()


@pytest.mark.parametrize("file", [io.StringIO(), Terminal()])
def test_disabled_progress_writes_nothing(file, clock):
    assert list(progress_bar(range(50), "csgm", enabled=False, file=file)) == list(range(50))
    assert file.getvalue() == ""


class Pixels(Prior):
    """The image itself is the parameter."""

    def __init__(self) -> None:
        self.x = torch.zeros(1, 1, 2, 2, requires_grad=True)

    def parameter_groups(self) -> list[dict]:
        return [{"params": [self.x], "lr": 0.1}]

    def __call__(self) -> torch.Tensor:
        return self.x


def test_solve_logs_lines_when_stderr_is_not_a_terminal(capsys, monkeypatch, clock):
    monkeypatch.setattr(invgen.progress, "LOG_EVERY", 4.0)
    solve(Identity((1, 2, 2)), torch.ones(1, 1, 2, 2), Pixels(), steps=10, desc="fit", progress=True)
    err = capsys.readouterr().err  # pytest's stderr is not a terminal
    assert err.startswith("fit: 3/11 (4 s") and "objective=" in err and "\r" not in err


def test_lasso_dct_ticks_once_per_image(capsys, monkeypatch, clock):
    from invgen.operators import GaussianCS
    from invgen.solvers import LassoDCTSettings, lasso_dct

    monkeypatch.setattr(invgen.progress, "LOG_EVERY", 1.0)
    A = GaussianCS((1, 4, 4), 8)
    lasso_dct(A, A(torch.rand(3, 1, 4, 4)), LassoDCTSettings(lambda_fraction=0.01, iterations=5))
    assert [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()] == [
        "lasso-dct: 0/3", "lasso-dct: 1/3", "lasso-dct: 2/3"]
    lasso_dct(A, A(torch.rand(3, 1, 4, 4)), LassoDCTSettings(lambda_fraction=0.01, iterations=5), progress=False)
    assert capsys.readouterr().err == ""
