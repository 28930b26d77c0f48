"""Many processes, one result (CPU, gloo): ``torchrun --nproc_per_node=2 -m invgen ...`` against one
process. The chunk boundaries come from the image list and every random stream is per image, so
1 and 2 processes write identical records; a rank that fails stops the run with a line naming it
and its images, and the same command then computes only what is missing; ``invgen train`` under
``torchrun`` (``DistributedDataParallel``) updates the weights as one process on the global batch
does, and resumes.

``INVGEN_TEST_DEVICE=cuda`` runs the reconstructions on the GPU (both processes share GPU 0 when
there is one; ``benchmarks/gpu_check.sh``): records then agree to a relative 1e-4 (cuDNN's
kernels need not be bitwise reproducible), and DDP training needs a GPU per process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from invgen.app import cli
from invgen.app.experiments import runner
from invgen.app.reconstruct import chunks
from invgen.app.training import export_generator
from invgen.generators.face64 import FaceDCGAN

pytestmark = pytest.mark.usefixtures("one_thread")
DEVICE = os.environ.get("INVGEN_TEST_DEVICE", "cpu")
# Adam's updates of one and two processes differ by the rounding of the gradients' all-reduce
# (and on CUDA by TF32 convolutions over other batch slices).
DDP_TOLERANCE = 1e-5 if DEVICE == "cpu" else 1e-3


def torchrun(*argv: str, script: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 -m invgen ARGV`` (or ``script``), one CPU thread each."""
    target = [script] if script else ["-m", "invgen"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           *target, *argv], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny generator, five faces to reconstruct, and fake CelebA val and train folders."""
    root = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    export_generator(FaceDCGAN(latent_dim=8, width=4), root / "tiny.pt")
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / f"face{i}.png")
    (root / "celeba").mkdir()
    for i in [*range(1, 9), *range(9001, 9004)]:
        Image.fromarray(rng.integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(root / "celeba" / f"{i:06d}.jpg")
    return root


def reconstruct_argv(inputs, out) -> list[str]:
    """Five faces in chunks of 2 (3 chunks: 2 processes get 1 and 2), noisy, 2 averaged starts."""
    return ["reconstruct", *(str(inputs / f"face{i}.png") for i in range(5)), "--task", "sr4", "--method", "iagan",
            "--bp", "--noise", "0.05", "--generator", str(inputs / "tiny.pt"), "--csgm-steps", "3",
            "--csgm-restarts", "2", "--iagan-steps", "2", "--batch-size", "2", "--out", str(out), "--quiet",
            "--device", DEVICE]


@pytest.fixture(scope="module")
def one_process(inputs, tmp_path_factory):
    """``invgen reconstruct`` in this process: the reference."""
    out = tmp_path_factory.mktemp("one")
    assert cli.main(reconstruct_argv(inputs, out)) == 0
    return out


def pictures(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.png"))}


def assert_same(a, b) -> None:
    """Records ``a`` and ``b`` are identical (on the CPU), or equal to a relative 1e-4 (on CUDA)."""
    if DEVICE == "cpu":
        assert a == b
    else:
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)


def assert_same_pictures(a, b) -> None:
    assert pictures(a).keys() == pictures(b).keys()
    if DEVICE == "cpu":
        assert pictures(a) == pictures(b)


def test_reconstruct_in_1_and_2_processes_writes_identical_records_and_images(inputs, one_process, tmp_path):
    result = torchrun(*reconstruct_argv(inputs, tmp_path))
    assert "[rank 0] images 1–2 of 5" in result.stdout and "[rank 1] images 5–5 of 5" in result.stdout
    one, two = (json.loads((out / "metrics.json").read_text()) for out in (one_process, tmp_path))
    assert len(one["images"]) == 5 and len(pictures(one_process)) == 20
    assert_same(two["images"], one["images"])
    assert_same_pictures(tmp_path, one_process)


def test_a_failing_rank_stops_the_run_naming_it_and_the_same_command_computes_the_rest(inputs, one_process, tmp_path,
                                                                                      monkeypatch, capsys):
    # Rank 1 fails on its first chunk once rank 0 has finished its own (faces 0 and 1).
    script = tmp_path / "failing.py"
    script.write_text(textwrap.dedent(f"""\
        import os, sys, time
        from pathlib import Path
        from invgen.app import cli
        from invgen.app.reconstruct import chunks
        real = chunks.reconstruct_samples
        def failing(*args, **kwargs):
            if os.environ["RANK"] == "1":
                for _ in range(600):
                    if Path({str(tmp_path / "out" / "records" / "face1.json")!r}).is_file():
                        break
                    time.sleep(0.1)
                raise RuntimeError("CUDA out of memory (simulated)")
            return real(*args, **kwargs)
        chunks.reconstruct_samples = failing
        sys.exit(cli.main(sys.argv[1:]))
    """))
    argv = reconstruct_argv(inputs, tmp_path / "out")
    result = torchrun(*argv, script=str(script), check=False)
    assert result.returncode != 0
    line = next(line for line in result.stderr.splitlines() if line.startswith("invgen reconstruct: error:"))
    assert line.startswith("invgen reconstruct: error: rank 1 of 2 failed on images 3–4 of 5 (")
    assert "face2.png" in line and "face3.png" in line and line.endswith("RuntimeError: CUDA out of memory (simulated)")
    assert sorted(p.name for p in (tmp_path / "out" / "records").glob("*.json")) == ["face0.json", "face1.json"]
    # The same command again computes the two chunks that are missing, not the finished one.
    real, computed = chunks.reconstruct_samples, []
    monkeypatch.setattr(chunks, "reconstruct_samples", lambda m, y, *a, **k: computed.append(len(y)) or
                        real(m, y, *a, **k))
    assert cli.main(argv) == 0 and computed == [2, 1]
    assert "1 chunk(s) already finished" in capsys.readouterr().out
    one, resumed = (json.loads((out / "metrics.json").read_text()) for out in (one_process, tmp_path / "out"))
    assert_same(resumed["images"], one["images"])
    assert_same_pictures(tmp_path / "out", one_process)


def bench_records(out) -> list[dict]:
    results = json.loads((out / "results.json").read_text())
    return [{k: v for k, v in r.items() if k not in ("seconds", "batch_seconds")} for r in results["records"]]


def test_bench_in_1_and_2_processes_writes_identical_records(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)  # as in the workers, which lack the weights
    argv = ["bench", "inpainting", "--data", str(inputs / "celeba"), "--n-images", "3", "--batch-size", "1",
            "--generator", str(inputs / "tiny.pt"), "--csgm-steps", "2", "--iagan-steps", "2", "--dip-steps", "2",
            "--ilo-steps", "2", "--dgp-steps", "2", "--mganprior-steps", "2", "--device", DEVICE]
    assert cli.main([*argv, "--out", str(tmp_path / "one")]) == 0
    torchrun(*argv, "--out", str(tmp_path / "two"))
    one = bench_records(tmp_path / "one")
    assert len(one) == 3 * 9
    assert_same(bench_records(tmp_path / "two"), one)
    assert (tmp_path / "two" / "examples_inpaint.png").is_file()


def state(path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(path, weights_only=False)
    return {f"{part}.{key}": value.float() for part in ("G", "D", "latents") for key, value in checkpoint[part].items()}


needs_a_gpu_each = pytest.mark.skipif(DEVICE == "cuda" and torch.cuda.device_count() < 2,
                                      reason="DDP training on CUDA needs a GPU per process")


@needs_a_gpu_each
def test_ddp_training_takes_the_steps_of_one_process_on_the_global_batch_and_resumes(inputs, tmp_path):
    argv = ["train", "--data", str(inputs / "celeba"), "--max-images", "8", "--batch-size", "4", "--recipe", "recon",
            "--init", str(inputs / "tiny.pt"), "--adv-weight", "0.1", "--lr", "0.01", "--lr-latent", "0.1",
            "--device", DEVICE]
    assert cli.main([*argv, "--epochs", "2", "--out", str(tmp_path / "one")]) == 0
    torchrun(*argv, "--epochs", "1", "--out", str(tmp_path / "two"))
    resumed = torchrun(*argv, "--epochs", "2", "--out", str(tmp_path / "two"), "--resume")
    assert "resumed from" in resumed.stdout and '{"epoch": 1' not in resumed.stdout
    one, two = state(tmp_path / "one" / "checkpoint.pt"), state(tmp_path / "two" / "checkpoint.pt")
    assert one.keys() == two.keys() and len(one) > 20
    assert max((one[k] - two[k]).abs().max().item() for k in one) < DDP_TOLERANCE
    # The check can fail: two epochs move the generator far beyond the tolerance.
    init = torch.load(inputs / "tiny.pt")["state_dict"]
    assert max((one[f"G.{k}"] - v.float()).abs().max().item() for k, v in init.items()) > 10 * DDP_TOLERANCE


@needs_a_gpu_each
def test_the_gan_resumes_under_torchrun_with_each_batch_split_between_the_processes(inputs, tmp_path):
    argv = ["train", "--data", str(inputs / "celeba"), "--max-images", "8", "--latent-dim", "8", "--width", "4",
            "--batch-size", "4", "--out", str(tmp_path), "--device", DEVICE]
    assert cli.main([*argv, "--epochs", "1"]) == 0
    result = torchrun(*argv, "--epochs", "2", "--resume")
    assert result.stdout.count("resumed from") == 1 and result.stdout.count('{"epoch": 2') == 1  # rank 0 writes
    history = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert (tmp_path / "face64.pt").is_file() and (tmp_path / "samples" / "epoch_002.png").is_file()
