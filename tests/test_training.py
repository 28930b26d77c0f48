"""The GAN training loop runs, checkpoints, exports and resumes (on synthetic images)."""
from __future__ import annotations

import pytest
import torch

from invgen.app.training import train_gan
from invgen.generators.face64 import load_face64


def _images(n: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_one_step_writes_checkpoint_samples_and_export(tmp_path):
    G = train_gan(_images(), tmp_path, epochs=1, batch_size=4, latent_dim=8, width=4, max_steps=1)
    assert (tmp_path / "checkpoint.pt").is_file()
    assert (tmp_path / "samples" / "epoch_001.png").is_file()
    loaded = load_face64(tmp_path / "face64.pt")
    z = loaded.sample_latent(2)
    with torch.no_grad():
        x = loaded(z)
        ref = (G(z) + 1) / 2
    assert x.shape == (2, 3, 64, 64)
    # Exported in float16: equal to the EMA network up to half precision.
    assert torch.allclose(x, ref, atol=1e-2)


def test_training_changes_weights_and_resume_continues(tmp_path):
    first = train_gan(_images(), tmp_path, epochs=1, batch_size=4, latent_dim=8, width=4)
    before = [p.clone() for p in first.parameters()]
    second = train_gan(_images(), tmp_path, epochs=2, batch_size=4, latent_dim=8, width=4, resume=True)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert [h["epoch"] for h in ckpt["history"]] == [1, 2]
    assert any(not torch.equal(a, b) for a, b in zip(before, second.parameters()))


def test_rejects_wrong_image_shape(tmp_path):
    with pytest.raises(ValueError, match=r"\(N, 3, 64, 64\)"):
        train_gan(torch.rand(8, 3, 32, 32), tmp_path, epochs=1, batch_size=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda_and_exports_for_any_device(tmp_path):
    G = train_gan(_images(), tmp_path, epochs=1, batch_size=4, latent_dim=8, width=4, max_steps=1, device="cuda")
    assert next(G.parameters()).is_cuda
    loaded = load_face64(tmp_path / "face64.pt")  # loads on CPU
    assert next(loaded.parameters()).device.type == "cpu"
    resumed = train_gan(_images(), tmp_path, epochs=2, batch_size=4, latent_dim=8, width=4, resume=True,
                        device="cuda")
    assert next(resumed.parameters()).is_cuda


def test_reconstruction_finetune_moves_the_range_toward_the_faces_and_resumes(tmp_path):
    from invgen.app.training import export_generator, finetune_reconstruction

    images = torch.nn.functional.interpolate(torch.rand(8, 3, 4, 4, generator=torch.Generator().manual_seed(0)),
                                             size=64, mode="bilinear")  # smooth faces a tiny network can fit
    start = train_gan(images, tmp_path / "gan", epochs=1, batch_size=4, latent_dim=8, width=4, max_steps=1)
    export_generator(start, tmp_path / "init.pt")
    finetune_reconstruction(images, tmp_path / "recon", tmp_path / "init.pt", epochs=6, batch_size=4,
                            lr=1e-2, lr_latent=1e-1, adv_weight=0.1)
    ckpt = torch.load(tmp_path / "recon" / "checkpoint.pt", weights_only=False)
    mse = [h["mse"] for h in ckpt["history"]]
    assert mse[-1] < 0.9 * mse[0]
    # The per-face latents stay on the sphere of radius √d.
    norms = ckpt["latents"]["weight"].norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 8**0.5), rtol=1e-4)
    finetune_reconstruction(images, tmp_path / "recon", tmp_path / "init.pt", epochs=7, batch_size=4,
                            adv_weight=0.1, resume=True)
    assert [h["epoch"] for h in torch.load(tmp_path / "recon" / "checkpoint.pt", weights_only=False)["history"]] == list(range(1, 8))
    assert load_face64(tmp_path / "recon" / "face64.pt").latent_dim == 8


def test_reconstruction_finetune_with_a_joint_encoder_writes_both_networks(tmp_path):
    from invgen.app.training import export_generator, finetune_reconstruction
    from invgen.generators.encoder import load_encoder

    images = torch.nn.functional.interpolate(torch.rand(8, 3, 4, 4, generator=torch.Generator().manual_seed(0)),
                                             size=64, mode="bilinear")
    export_generator(train_gan(images, tmp_path / "gan", epochs=1, batch_size=4, latent_dim=8, width=4,
                               max_steps=1), tmp_path / "init.pt")
    finetune_reconstruction(images, tmp_path / "ae", tmp_path / "init.pt", epochs=6, batch_size=4, lr=1e-2,
                            lr_latent=1e-2, latents="encoder")
    mse = [h["mse"] for h in torch.load(tmp_path / "ae" / "checkpoint.pt", weights_only=False)["history"]]
    assert mse[-1] < 0.9 * mse[0]
    G, E = load_face64(tmp_path / "ae" / "face64.pt"), load_encoder(tmp_path / "ae" / "encoder.pt")
    with torch.no_grad():
        assert G(E(images)).shape == images.shape


def test_laplacian_pyramid_l1_weighs_every_level_alike():
    from invgen.app.training import laplacian_pyramid_l1

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 16, generator=g)
    assert laplacian_pyramid_l1(x, x) == 0
    # A constant offset lives in the coarsest level only: 1/levels of its L1 size.
    torch.testing.assert_close(laplacian_pyramid_l1(x + 0.4, x), torch.tensor(0.1))
    # A pixel-wise checkerboard lives in the finest level only (its 2×2 averages are zero).
    checker = 0.4 * (torch.arange(16).view(16, 1) + torch.arange(16).view(1, 16)).remainder(2).mul(2).sub(1)
    torch.testing.assert_close(laplacian_pyramid_l1(x + checker, x), torch.tensor(0.1))


def test_reconstruction_finetune_with_the_pyramid_and_perceptual_terms_lowers_both(tmp_path):
    from invgen.app.training import export_generator, finetune_reconstruction

    images = torch.nn.functional.interpolate(torch.rand(8, 3, 4, 4, generator=torch.Generator().manual_seed(0)),
                                             size=64, mode="bilinear")
    export_generator(train_gan(images, tmp_path / "gan", epochs=1, batch_size=4, latent_dim=8, width=4,
                               max_steps=1), tmp_path / "init.pt")
    finetune_reconstruction(images, tmp_path / "p", tmp_path / "init.pt", epochs=5, batch_size=4, lr=1e-2,
                            lr_latent=1e-1, pixel_loss="laplacian-l1", perceptual_weight=0.1)
    history = torch.load(tmp_path / "p" / "checkpoint.pt", weights_only=False)["history"]
    for term in ("laplacian_l1", "st_lpips"):
        assert history[-1][term] < 0.9 * history[0][term], term
    with pytest.raises(ValueError, match="pixel_loss"):
        finetune_reconstruction(images, tmp_path / "q", tmp_path / "init.pt", epochs=1, pixel_loss="l2")
