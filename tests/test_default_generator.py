"""The embedded default generator loads offline and honours the generator contract."""
from __future__ import annotations

import pytest
import torch

from invgen.generators import CheckpointMismatchError, Generator, load_default, load_face64


def test_load_default_shape_range_and_determinism():
    G = load_default()
    assert isinstance(G, Generator)
    assert not G.training
    z = G.sample_latent(4, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4, G.latent_dim)
    with torch.no_grad():
        x1, x2 = G(z), G(z)
    assert x1.shape == (4, 3, 64, 64)
    assert x1.min() >= 0 and x1.max() <= 1
    assert torch.equal(x1, x2)
    # A trained generator maps different latents to different images.
    assert (x1[0] - x1[1]).abs().mean() > 1e-2


def test_sample_latent_is_seeded():
    G = load_default()
    a = G.sample_latent(3, generator=torch.Generator().manual_seed(5))
    b = G.sample_latent(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_load_face64_explains_a_wrong_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointMismatchError, match="not a face64 generator"):
        load_face64(path)
    torch.save({"config": {"latent_dim": 8, "width": 4}, "state_dict": {"project.0.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(CheckpointMismatchError, match="missing"):
        load_face64(path)
