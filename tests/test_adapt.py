"""The ``adapt`` recipe: a pretrained DCGAN ``netG`` (as saved by the PyTorch tutorial) adapted to
new faces; it moves the range toward them, resumes exactly and exports in the loader's layout."""
from __future__ import annotations

import torch

from invgen.app.train_adapt import adapt_pretrained, nearest_latents
from invgen.app.train_parts import recalibrate_batchnorm
from invgen.generators import load_generator
from invgen.generators.dcgan import build_dcgan
from test_training import _smooth_images, assert_resume_is_uninterrupted

TINY = {"batch_size": 4, "init_samples": 64, "disc_width": 4}


def _netG_file(tmp_path) -> str:
    """A tiny tutorial ``netG`` (nz 8, ngf 8) saved as ``{"netG_state_dict": …}``, its spec; its
    batch-norm statistics are estimated, as a trained network's are (fresh ones leave it near 0)."""
    torch.manual_seed(0)
    network = build_dcgan(latent_dim=8, width=8).network
    recalibrate_batchnorm(network, batches=2, batch_size=64)
    torch.save({"netG_state_dict": network.state_dict()}, tmp_path / "netG.tar")
    return f"dcgan:{tmp_path / 'netG.tar'}"


def test_a_resumed_adaptation_is_the_uninterrupted_run(tmp_path, capsys):
    spec = _netG_file(tmp_path)
    assert_resume_is_uninterrupted(
        lambda out, epochs, resume: adapt_pretrained(_smooth_images(), out, spec, epochs, resume=resume, **TINY),
        tmp_path, capsys)


def test_adaptation_lowers_the_reconstruction_error_and_exports_what_dcgan_loads(tmp_path):
    spec = _netG_file(tmp_path)
    network = adapt_pretrained(_smooth_images(), tmp_path / "run", spec, epochs=12, lr=1e-2, lr_latent=1e-1,
                               adv_weight=1e-3, pixel_loss="mse", **TINY)
    history = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["history"]
    assert history[-1]["mse"] < 0.7 * history[0]["mse"]
    loaded = load_generator(f"dcgan:{tmp_path / 'run' / 'generator.pt'}")
    z = loaded.sample_latent(3)
    with torch.no_grad():
        assert torch.allclose(loaded(z), (network(z) + 1) / 2, atol=1e-2)  # exported in float16


def test_nearest_latents_find_the_draw_that_made_a_face():
    torch.manual_seed(0)
    network = build_dcgan(latent_dim=8, width=4).network
    recalibrate_batchnorm(network, batches=2, batch_size=64)
    pool = torch.randn(32, 8, generator=torch.Generator().manual_seed(1 + 1))  # the draws of seed 1
    with torch.no_grad():
        faces = ((network(pool[[3, 17]]) + 1) * 127.5).round().to(torch.uint8)
    z = nearest_latents(network, faces, n_samples=32, seed=1)
    assert torch.allclose(z, torch.nn.functional.normalize(pool[[3, 17]], dim=1) * 8**0.5)
