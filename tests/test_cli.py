"""The `invgen` command end to end, on a tiny generator and tiny images, with few steps."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.app import cli, demo
from invgen.app.training import export_generator
from invgen.generators.face64 import FaceDCGAN


@pytest.fixture
def tiny_generator(tmp_path):
    path = tmp_path / "tiny.pt"
    export_generator(FaceDCGAN(latent_dim=8, width=4), path)
    return str(path)


@pytest.fixture
def face_png(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "face.png"
    Image.fromarray(rng.integers(0, 256, (80, 72, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "reconstruct", "train", "bench"):
        assert command in text


def test_reconstruct_writes_estimates_and_metrics(tmp_path, tiny_generator, face_png):
    out = tmp_path / "out"
    code = cli.main(["reconstruct", face_png, "--task", "sr4", "--method", "iagan", "--bp", "--generator",
                     tiny_generator, "--csgm-steps", "3", "--iagan-steps", "2", "--out", str(out), "--quiet"])
    assert code == 0
    for suffix in ("truth", "measurement", "iagan-bp"):
        assert (out / f"face_{suffix}.png").is_file()
    with Image.open(out / "face_iagan-bp.png") as img:
        assert img.size == (64, 64)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "iagan-bp"
    assert metrics["budget"]["csgm.steps"] == 3 and metrics["budget"]["iagan.steps"] == 2
    assert metrics["budget"]["csgm.restarts"] == 4 and metrics["budget"]["csgm.average"] is True
    assert np.isfinite(metrics["images"]["face"]["psnr"])
    assert 0 < metrics["images"]["face"]["st_lpips"] < 1
    assert 0 < metrics["images"]["face"]["haarpsi"] <= 1 and metrics["images"]["face"]["ms_gmsd"] >= 0
    # The default budget averages 4 starts: their disagreement is written as an uncertainty map.
    face = metrics["images"]["face"]
    assert face["restart_spread_image"] == "face_iagan-bp_restart_spread.png"
    assert 0 < face["restart_spread_mean"] < face["restart_spread_max"]
    with Image.open(out / "face_iagan-bp_restart_spread.png") as img:
        spread = np.asarray(img)
    assert spread.shape == (64, 64) and spread.max() == 255  # scaled to its largest value


def test_keeping_the_best_start_writes_no_uncertainty_map(tmp_path, tiny_generator, face_png):
    out = tmp_path / "out"
    assert cli.main(["reconstruct", face_png, "--task", "sr4", "--method", "csgm", "--no-csgm-average",
                     "--generator", tiny_generator, "--csgm-steps", "3", "--out", str(out), "--quiet"]) == 0
    assert not list(out.glob("*spread*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["budget"]["csgm.average"] is False and metrics["budget"]["csgm.steps"] == 3
    assert not any("spread" in key for key in metrics["images"]["face"])


def test_paper_takes_the_papers_settings_and_a_flag_still_changes_one(tmp_path, tiny_generator, face_png):
    out = tmp_path / "out"
    assert cli.main(["reconstruct", face_png, "--task", "sr4", "--method", "csgm", "--paper", "--csgm-steps", "3",
                     "--generator", tiny_generator, "--out", str(out), "--quiet"]) == 0
    budget = json.loads((out / "metrics.json").read_text())["budget"]
    assert budget["csgm.steps"] == 3 and budget["csgm.restarts"] == 1 and budget["csgm.average"] is False
    assert budget["csgm.latent_weight"] == 0.0 and budget["iagan.steps"] == 500 and budget["iagan.holdout"] == 0.0
    assert not list(out.glob("*spread*"))  # one start: nothing to disagree


def test_reconstruct_without_generator_method(tmp_path, face_png):
    out = tmp_path / "out"
    assert cli.main(["reconstruct", face_png, "--task", "inpaint", "--method", "pinv", "--size", "32",
                     "--out", str(out), "--quiet"]) == 0
    with Image.open(out / "face_pinv.png") as img:
        assert img.size == (32, 32)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--task", "sr5"], "factor"),
        (["--task", "warp"], "unknown task"),
        (["--task", "sr4", "--generator", "missing.pt"], "no such checkpoint"),
    ],
)
def test_argument_errors_are_clear(tmp_path, face_png, capsys, extra, message):
    code = cli.main(["reconstruct", face_png, "--method", "csgm", "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", [["demo"], ["reconstruct", "FACE", "--task", "sr4", "--method", "pinv"],
                                     ["train", "--data", "no-such-folder"],
                                     ["bench", "inpainting", "--data", "no-such-folder"]])
def test_cuda_without_a_cuda_device_says_so(tmp_path, face_png, capsys, command):
    argv = [face_png if a == "FACE" else a for a in command] + ["--device", "cuda", "--out", str(tmp_path / "out")]
    code = cli.main(argv)
    assert code == 2
    assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.parametrize("command, message", [
    (["bench", "inpainting", "--data", "no-such-folder"], "CelebA folder not found: no-such-folder"),
    (["bench", "inpainting", "--data", "FACES", "--n-images", "1", "--generator", "began:missing.pth"],
     "no such checkpoint file 'missing.pth'"),
    (["train", "--data", "no-such-folder"], "CelebA folder not found: no-such-folder"),
])
def test_long_commands_report_user_errors_in_one_line(tmp_path, face_png, capsys, command, message):
    faces = tmp_path / "faces"
    faces.mkdir()
    Image.open(face_png).convert("RGB").resize((89, 109)).save(faces / "009001.jpg")
    argv = [str(faces) if a == "FACES" else a for a in command]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_and_non_image_files(tmp_path, capsys):
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    assert cli.main(["reconstruct", str(tmp_path / "nope.png"), "--task", "sr4", "--method", "pinv"]) == 2
    assert "no such image file" in capsys.readouterr().err
    assert cli.main(["reconstruct", str(not_image), "--task", "sr4", "--method", "pinv"]) == 2
    assert "is not an image" in capsys.readouterr().err


def test_unknown_method_is_rejected_by_argparse(face_png, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reconstruct", face_png, "--task", "sr4", "--method", "magic"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_demo_with_a_tiny_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "DEMO_CHANGES", {"csgm.steps": 2, "csgm.restarts": 2, "iagan.steps": 2,
                                                 "dip.steps": 2})
    assert cli.main(["demo", "--out", str(tmp_path), "--quiet"]) == 0
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert {key: written["budget"][key] for key in ("csgm.steps", "csgm.restarts", "iagan.steps", "dip.steps")} == {
        "csgm.steps": 2, "csgm.restarts": 2, "iagan.steps": 2, "dip.steps": 2}
    metrics = written["metrics"]
    assert set(metrics) == {"bicubic", "csgm", "csgm-bp", "iagan", "iagan-bp", "dip"}
    table = capsys.readouterr().out
    assert "ST-LPIPS" in table and "HaarPSI" in table
    for name, m in metrics.items():  # each row prints both perceptual judges it stored
        assert 0 < m["st_lpips"] < 1 and f"{m['st_lpips']:.3f}" in table, name
        assert 0 < m["haarpsi"] <= 1 and f"{m['haarpsi']:.3f}" in table, name
    with Image.open(tmp_path / "demo.png") as img:
        assert img.width > 8 * 128


def test_demo_never_overwrites_an_earlier_demo(tmp_path, monkeypatch, capsys):
    (tmp_path / "demo.png").write_bytes(b"an earlier result")
    assert cli.main(["demo", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "demo.png").read_bytes() == b"an earlier result"
    monkeypatch.setattr(demo, "DEMO_CHANGES", {"csgm.steps": 2, "csgm.restarts": 2, "iagan.steps": 2,
                                                 "dip.steps": 2})
    assert cli.main(["demo", "--out", str(tmp_path), "--quiet", "--overwrite"]) == 0
    assert (tmp_path / "demo.png").read_bytes() != b"an earlier result"


@pytest.fixture
def faces(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"face{i}.png"))
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def chunked(faces, tiny_generator, out) -> list[str]:
    """Four faces in chunks of one, noisy: each chunk's numbers are its own."""
    return ["reconstruct", *faces, "--task", "sr4", "--method", "csgm", "--bp", "--noise", "0.05", "--generator",
            tiny_generator, "--csgm-steps", "3", "--csgm-restarts", "2", "--batch-size", "1", "--out", str(out),
            "--quiet"]


def test_a_failed_reconstruction_resumes_to_the_same_results_computing_only_the_rest(faces, tiny_generator, tmp_path,
                                                                                      monkeypatch, capsys):
    from invgen.app.reconstruct import chunks

    assert cli.main(chunked(faces, tiny_generator, tmp_path / "once")) == 0
    uninterrupted = json.loads((tmp_path / "once" / "metrics.json").read_text())
    real, computed = chunks.reconstruct_samples, []

    def fails_on_the_third(model, y, *args, **kwargs):
        if len(computed) == 2:
            raise RuntimeError("killed (simulated)")
        computed.append(len(y))
        return real(model, y, *args, **kwargs)

    monkeypatch.setattr(chunks, "reconstruct_samples", fails_on_the_third)
    argv = chunked(faces, tiny_generator, tmp_path / "twice")
    assert cli.main(argv) == 1
    assert capsys.readouterr().err.strip() == (f"invgen reconstruct: error: failed on images 3–3 of 4 "
                                               f"({faces[2]}): RuntimeError: killed (simulated)")
    records = tmp_path / "twice" / "records"
    assert sorted(p.name for p in records.glob("*.json")) == ["face0.json", "face1.json"]
    assert not (tmp_path / "twice" / "metrics.json").exists()
    # What a kill can leave: a half-written temporary file, and a record of another run: neither is a result.
    (records / ".face2.json.77.tmp").write_text('{"key": ')
    (records / "face3.json").write_text(json.dumps({"key": "another run", "psnr": 99.0}))
    computed.clear()
    assert cli.main(argv) == 0 and computed == [1, 1]
    assert "resumed: 2 chunk(s) already finished" in capsys.readouterr().out
    resumed = json.loads((tmp_path / "twice" / "metrics.json").read_text())
    assert resumed["images"] == uninterrupted["images"] and resumed["batch_size"] == 1
    for name in ("face0_csgm-bp.png", "face3_csgm-bp_restart_spread.png"):
        assert (tmp_path / "twice" / name).read_bytes() == (tmp_path / "once" / name).read_bytes()


def test_shards_of_an_array_job_merge_to_the_results_of_one_run(faces, tiny_generator, tmp_path, capsys):
    assert cli.main(chunked(faces, tiny_generator, tmp_path / "once")) == 0
    argv = chunked(faces, tiny_generator, tmp_path / "shards")
    assert cli.main([*argv, "--shard", "1/3"]) == 0
    assert "merge with the same command and --merge" in capsys.readouterr().out
    assert cli.main([*argv, "--merge"]) == 2
    assert "--merge: 3 of 4 images have no result" in capsys.readouterr().err
    for shard in ("2/3", "3/3"):
        assert cli.main([*argv, "--shard", shard]) == 0
    assert not (tmp_path / "shards" / "metrics.json").exists()
    assert cli.main([*argv, "--merge"]) == 0
    once, merged = (json.loads((tmp_path / out / "metrics.json").read_text()) for out in ("once", "shards"))
    assert merged["images"] == once["images"]
    assert cli.main([*argv, "--merge", "--seed", "3"]) == 2
    assert "holds no run of this command" in capsys.readouterr().err
