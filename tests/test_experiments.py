"""The experiments' runner and report: chunks and their shares, a tiny end-to-end run on a fake CelebA
folder, resuming after a kill or a failure, merging."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.app import cli
from invgen.app.experiments import EXPERIMENTS, chunks, runner
from invgen.app.parallel import Team, chunk_ranges, parse_shard
from invgen.app.training import export_generator
from invgen.generators import build_began
from invgen.generators.began import _official_names
from invgen.generators.face64 import FaceDCGAN
from invgen.solvers import Budget
from invgen.solvers.comparison import paired_differences


@pytest.mark.parametrize("n, size, parts", [(10, 3, 1), (10, 3, 3), (7, 1, 7), (5, 2, 8), (33, 16, 2)])
def test_processes_share_chunks_whose_boundaries_ignore_them(n, size, parts):
    ranges = chunk_ranges(n, size)
    assert [i for r in ranges for i in r] == list(range(n)) and all(len(r) == size for r in ranges[:-1])
    shares = [Team(rank, parts).share(ranges) for rank in range(parts)]
    assert [r for share in shares for r in share] == ranges  # every chunk once, in order
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


@pytest.mark.parametrize("bad", ["0/2", "3/2", "two", "1-2"])
def test_bad_shard_spec(bad):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(bad)


@pytest.fixture
def fake_celeba(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "celeba"
    root.mkdir()
    for i in range(9001, 9005):
        Image.fromarray(rng.integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(root / f"{i:06d}.jpg")
    return root


def tiny_run_args(tmp_path, data, out, n_images):
    generator = tmp_path / "tiny.pt"
    export_generator(FaceDCGAN(latent_dim=8, width=4), generator)
    return ["--data", str(data), "--n-images", str(n_images), "--out", str(out), "--generator", str(generator),
            "--csgm-steps", "2", "--iagan-steps", "2", "--dip-steps", "2", "--ilo-steps", "2", "--dgp-steps", "2",
            "--mganprior-steps", "2"]


def test_two_shards_then_merge(tmp_path, fake_celeba, monkeypatch):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    out = tmp_path / "inpainting"
    args = [*tiny_run_args(tmp_path, fake_celeba, out, 3), "--batch-size", "2"]
    for shard in ("1/2", "2/2"):
        EXPERIMENTS["inpainting"]([*args, "--shard", shard])
    assert not (out / "results.json").exists()
    assert sorted(p.name for p in (out / "chunks" / "inpaint").glob("*.json")) == ["009001-009002.json",
                                                                                   "009003-009003.json"]
    EXPERIMENTS["inpainting"]([*args, "--merge"])
    results = json.loads((out / "results.json").read_text())
    assert [r["image"] for r in results["records"] if r["method"] == "pinv"] == [9001, 9002, 9003]
    # each chunk records the settings it ran with, method by method, as the keys that are compared
    shard = json.loads((out / "chunks" / "inpaint" / "009001-009002.json").read_text())
    assert set(chunks.compared()) == {"seed", "generator", "encoder", "batch_size", *Budget().flat()}
    assert {key: shard["config"][key] for key in Budget().flat()} == {
        **Budget().flat(), "csgm.steps": 2, "iagan.steps": 2, "dip.steps": 2, "ilo.steps": 2, "dgp.steps": 2,
        "mganprior.steps": 2}
    methods = {row["method"]: row for row in results["summary"]}
    assert set(methods) == {"pinv", "dip", "csgm", "csgm-bp", "iagan", "iagan-bp", "ilo-bp", "dgp-bp", "mganprior-bp"}
    # Time per face, method by method: a method that continues CSGM counts CSGM's time too.
    face = {r["method"]: r for r in results["records"] if r["image"] == 9001}
    assert all(face[m]["seconds"] >= face["csgm"]["seconds"] > 0 for m in ("iagan-bp", "ilo-bp", "dgp-bp", "mganprior-bp"))
    assert "| s / image |" in (out / "results.md").read_text()
    assert all(row["n_images"] == 3 for row in methods.values())
    report = (out / "results.md").read_text()
    assert "| inpaint | iagan-bp | 3 |" in report
    assert "No LPIPS column" in report and "lpips" not in methods["iagan"]
    assert (out / "examples_inpaint.png").is_file()
    # The generative methods average 4 starts (the default): their spread is scored, the others' is not.
    assert all(-1 <= methods[m]["spread_error_r"] <= 1 and methods[m]["spread"] > 0 for m in ("csgm", "iagan-bp"))
    assert "spread" not in methods["pinv"] and "spread" not in methods["dip"]
    assert "| spread | r(spread, error) |" in report
    # Every method carries the perceptual distance, and each is compared face by face with invgen's default.
    assert all(0 < row["st_lpips"] < 2 for row in methods.values()) and "ST-LPIPS ↓" in report
    assert {row["method"] for row in results["paired"]} == set(methods) - {"iagan-bp"}
    assert "PSNR − iagan-bp (dB)" in report and "ST-LPIPS closer than iagan-bp by" in report
    # … and both perceptual judges: the learned one and HaarPSI, which has no learned weights.
    assert all(0 < row["haarpsi"] <= 1 and row["ms_gmsd"] >= 0 for row in methods.values())
    assert "HaarPSI ↑" in report and "MS-GMSD ↓" in report and "HaarPSI − iagan-bp" in report
    assert all("haarpsi_gain" in row for row in results["paired"])
    assert "PSNR (dB) | ST-LPIPS | HaarPSI" in report
    # How DIP ran, beside its paper's set-up: here far fewer steps than the paper's.
    assert "DIP: 2 steps of a skip network of 32 channels and 4 levels" in report and "to run on a CPU" in report
    assert not (out / "examples_columns.txt").exists()  # the column names are in the panel itself


def test_cs_curve_runs_the_follow_up_methods_at_three_ratios_and_plots_the_rest(tmp_path, fake_celeba, monkeypatch):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    out = tmp_path / "cs"
    EXPERIMENTS["cs-curve"]([*tiny_run_args(tmp_path, fake_celeba, out, 1), "--csgm-restarts", "1",
                             "--lasso-dct-iterations", "2"])
    results = json.loads((out / "results.json").read_text())
    by_setting: dict[str, set[str]] = {}
    for row in results["summary"]:
        by_setting.setdefault(row["setting"], set()).add(row["method"])
    base = {"csgm", "csgm-bp", "iagan", "iagan-bp", "lasso-dct"}
    follow_ups = {"ilo-bp", "dgp-bp", "mganprior-bp"}
    assert by_setting == {f"cs:{r}": base | (follow_ups if r in (0.05, 0.1, 0.5) else set())
                          for r in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)}
    assert (out / "mse_vs_ratio.png").is_file() and "mse_vs_ratio.png" in (out / "results.md").read_text()


def test_paired_differences_against_known_records():
    def rec(method, image, psnr, st):
        return {"setting": "sr4", "method": method, "image": image, "psnr": psnr, "st_lpips": st}

    records = [rec("iagan-bp", 1, 25.0, 0.10), rec("iagan-bp", 2, 24.0, 0.20),
               rec("dip", 1, 24.0, 0.15), rec("dip", 2, 24.5, 0.10)]
    (row,) = paired_differences(records)
    assert row["method"] == "dip" and row["reference"] == "iagan-bp"
    # method − reference: dip is 1 dB behind on face 1, 0.5 ahead on face 2
    assert row["psnr_gain"] == pytest.approx(-0.25) and row["psnr_gain_sem"] == pytest.approx(0.75)
    # reference − method (lower is closer): dip is 0.05 farther on face 1, 0.10 closer on face 2
    assert row["st_lpips_gain"] == pytest.approx(0.025) and row["st_lpips_gain_sem"] == pytest.approx(0.075)
    assert row["psnr_wins"] == 1 and row["st_lpips_wins"] == 1  # both on face 2, where dip is better
    assert paired_differences([r for r in records if r["method"] == "dip"]) == []  # no reference
    # records without a setting (one problem) pair the same way, matched by image, not by order
    unset = [{k: v for k, v in r.items() if k != "setting"} for r in reversed(records)]
    (row_unset,) = paired_differences(unset)
    assert "setting" not in row_unset and row_unset["psnr_gain"] == pytest.approx(-0.25)
    assert row_unset["st_lpips_gain"] == pytest.approx(0.025)
    # a method better on every face reads positive on every axis, and wins every face
    better = records + [rec("csgm-bp", 1, 26.0, 0.05), rec("csgm-bp", 2, 25.0, 0.15)]
    (_, row_better) = paired_differences(better)
    assert row_better["method"] == "csgm-bp" and row_better["psnr_gain"] == pytest.approx(1.0)
    assert row_better["st_lpips_gain"] == pytest.approx(0.05) and row_better["psnr_wins"] == 2
    assert row_better["st_lpips_wins"] == 2


def test_uncertainty_scores_follow_where_the_starts_disagree():
    truth = torch.zeros(2, 1, 4, 4)
    samples = torch.zeros(2, 3, 1, 4, 4)
    samples[:, :, :, :2] = torch.tensor([0.0, 0.3, 0.6]).view(1, 3, 1, 1, 1)  # disagree (and err) on top rows
    scores = runner.uncertainty_scores(samples, truth)
    torch.testing.assert_close(scores["spread"], torch.full((2,), 0.15))  # std 0.3 on half the pixels
    torch.testing.assert_close(scores["spread_error_r"], torch.ones(2))
    samples[1, :, :, :2] = 0.3  # agree on a wrong value: error without spread
    samples[1, :, :, 2:] = torch.tensor([0.0, 0.3, 0.6]).view(3, 1, 1, 1) - 0.3  # unbiased spread below
    torch.testing.assert_close(runner.uncertainty_scores(samples, truth)["spread_error_r"][1], torch.tensor(-1.0))


def test_lpips_column_when_its_weights_are_there(tmp_path, fake_celeba, monkeypatch):
    monkeypatch.setattr(runner, "lpips_available", lambda: True)
    monkeypatch.setattr(runner, "lpips", lambda x, ref: (x - ref).abs().flatten(1).mean(1))
    out = tmp_path / "inpainting"
    EXPERIMENTS["inpainting"](tiny_run_args(tmp_path, fake_celeba, out, 2))
    results = json.loads((out / "results.json").read_text())
    assert all(0 < r["lpips"] < 1 for r in results["records"])
    pinv_row = next(r for r in results["summary"] if r["method"] == "pinv")
    assert pinv_row["lpips"] == pytest.approx(
        sum(r["lpips"] for r in results["records"] if r["method"] == "pinv") / 2)
    report = (out / "results.md").read_text()
    assert "LPIPS ↓ |" in report and "No LPIPS column" not in report


def test_faces_are_read_at_the_generators_resolution(tmp_path, fake_celeba, monkeypatch):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    began = tmp_path / "began128.pth"
    names = _official_names(128)  # invgen's prefixes → the public checkpoint's
    state = build_began(resolution=128, latent_dim=4, width=4).network.state_dict()
    torch.save({f"{names[k.rpartition('.')[0]]}.{k.rpartition('.')[2]}": v for k, v in state.items()}, began)
    out = tmp_path / "inpainting"
    args = tiny_run_args(tmp_path, fake_celeba, out, 1)
    args[args.index("--generator") + 1] = f"began:{began}"
    EXPERIMENTS["inpainting"](args)
    examples = torch.load(out / "chunks" / "inpaint" / "009001-009001.examples.pt")
    assert examples["truth"].shape == (1, 3, 128, 128)
    assert examples["iagan-bp"].shape == (1, 3, 128, 128)


def test_iagan_learning_rates_reach_the_pipeline(tmp_path, fake_celeba, monkeypatch):
    seen = []
    real = runner.reconstruct_samples
    monkeypatch.setattr(runner, "reconstruct_samples",
                        lambda *a, budget, **k: seen.append(budget) or real(*a, budget=budget, **k))
    args = tiny_run_args(tmp_path, fake_celeba, tmp_path / "out", 1)
    EXPERIMENTS["inpainting"]([*args, "--iagan-lr-theta", "3e-4", "--iagan-lr-z", "2e-4"])
    assert [(b.of("iagan").lr_theta, b.of("iagan").lr_z, b.of("iagan").steps) for b in seen] == [(3e-4, 2e-4, 2)]


def _records(out) -> list[dict]:
    """The records of a results file, without the times each method and chunk took."""
    return [{k: v for k, v in r.items() if k not in ("seconds", "batch_seconds")}
            for r in json.loads((out / "results.json").read_text())["records"]]


def test_a_killed_or_failed_run_resumes_to_the_same_records_computing_only_the_rest(tmp_path, fake_celeba,
                                                                                      monkeypatch, capsys):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    real, computed = runner.reconstruct_samples, []

    def counted(model, y, *a, **k):
        computed.append(len(y))
        return real(model, y, *a, **k)

    monkeypatch.setattr(runner, "reconstruct_samples", counted)
    bench = ["bench", "inpainting", *tiny_run_args(tmp_path, fake_celeba, tmp_path / "once", 4), "--batch-size", "1"]
    assert cli.main(bench) == 0 and computed == [1, 1, 1, 1]
    uninterrupted = _records(tmp_path / "once")
    out = tmp_path / "twice"
    bench[bench.index("--out") + 1] = str(out)

    def fails_on_the_third(model, y, *a, **k):
        if len(computed) == 2:
            raise RuntimeError("out of memory (simulated)")
        return counted(model, y, *a, **k)

    computed.clear()
    monkeypatch.setattr(runner, "reconstruct_samples", fails_on_the_third)
    assert cli.main(bench) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("invgen bench: error: failed on faces 009003–009003: RuntimeError: out of memory "
                   "(simulated)")
    assert sorted(p.name for p in (out / "chunks" / "inpaint").glob("*.json")) == ["009001-009001.json",
                                                                                   "009002-009002.json"]
    # A kill while writing leaves no chunk file, at most a temporary one, which is never read as a result.
    (out / "chunks" / "inpaint" / ".009004-009004.json.123.tmp").write_text('{"records": [')
    monkeypatch.setattr(runner, "reconstruct_samples", counted)
    computed.clear()
    assert cli.main(bench) == 0 and computed == [1, 1]  # faces 009003 and 009004 only
    assert "2 chunk(s) of faces already finished" in capsys.readouterr().out
    assert _records(out) == uninterrupted
