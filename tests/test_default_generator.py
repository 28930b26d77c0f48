"""The embedded generators load offline, by name, and honour the generator contract."""
from __future__ import annotations

import pytest
import torch

from invgen.generators import (EMBEDDED, CheckpointMismatchError, Generator, load_default, load_embedded, load_face64,
                               load_generator)


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


@pytest.mark.parametrize("name", list(EMBEDDED))
def test_every_embedded_generator_loads_by_name(name):
    G = load_generator(name)
    assert isinstance(G, Generator) and not G.training and G.image_shape() == (3, 64, 64)
    with torch.no_grad():
        x = G(G.sample_latent(2, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (2, 3, 64, 64) and torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert (x[0] - x[1]).abs().mean() > 1e-2


def test_the_embedded_generators_differ_and_default_is_load_default():
    z = torch.randn(1, 100, generator=torch.Generator().manual_seed(0))
    digiface = load_embedded("digiface-celeba")
    def size(G: Generator) -> int:
        return sum(p.numel() for p in G.parameters())

    assert digiface.latent_dim == 100 and size(digiface) > 2.5 * size(load_default())
    d = load_default().latent_dim
    with torch.no_grad():
        assert torch.equal(load_generator("default")(torch.zeros(1, d)), load_default()(torch.zeros(1, d)))
        assert torch.isfinite(digiface(z)).all()
    with pytest.raises(KeyError, match="ships default, digiface-celeba"):
        load_embedded("celeba")


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
