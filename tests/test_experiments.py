"""The experiment runner: sharding, a tiny end-to-end run on a fake CelebA folder, merging."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from invgen.experiments import EXPERIMENTS
from invgen.experiments.common import shard_indices
from invgen.generators.face64 import FaceDCGAN
from invgen.training import export_generator


@pytest.mark.parametrize("n, parts", [(10, 1), (10, 3), (7, 7), (5, 8)])
def test_shards_partition_the_images(n, parts):
    covered = [i for k in range(1, parts + 1) for i in shard_indices(n, f"{k}/{parts}")]
    assert covered == list(range(n))


@pytest.mark.parametrize("bad", ["0/2", "3/2", "two", "1-2"])
def test_bad_shard_spec(bad):
    with pytest.raises(ValueError, match="--shard"):
        shard_indices(10, bad)


@pytest.fixture
def fake_celeba(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "celeba"
    root.mkdir()
    for i in range(9001, 9005):
        Image.fromarray(rng.integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(root / f"{i:06d}.jpg")
    return root


def test_two_shards_then_merge(tmp_path, fake_celeba):
    generator = tmp_path / "tiny.pt"
    export_generator(FaceDCGAN(latent_dim=8, width=4), generator)
    out = tmp_path / "inpainting"
    common = ["--data", str(fake_celeba), "--n-images", "3", "--out", str(out), "--generator", str(generator),
              "--csgm-steps", "2", "--iagan-steps", "2", "--dip-steps", "2"]
    for shard in ("1/2", "2/2"):
        EXPERIMENTS["inpainting"]([*common, "--shard", shard])
    assert not (out / "results.json").exists()
    EXPERIMENTS["inpainting"]([*common, "--merge"])
    results = json.loads((out / "results.json").read_text())
    assert sorted({r["image_id"] for r in results["records"]}) == [9001, 9002, 9003]
    methods = {row["method"]: row for row in results["summary"]}
    assert set(methods) == {"pinv", "dip", "csgm", "csgm-bp", "iagan", "iagan-bp"}
    assert all(row["n_images"] == 3 for row in methods.values())
    assert "| inpaint | iagan-bp | 3 |" in (out / "results.md").read_text()
    assert (out / "examples_inpaint.png").is_file()
