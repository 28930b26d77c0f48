"""The training recipes run, checkpoint, export, and resume exactly as an uninterrupted run (on synthetic images)."""
from __future__ import annotations

import json

import pytest
import torch

from invgen.app.train_encoder import train_encoder
from invgen.app.training import export_generator, finetune_reconstruction, train_gan
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


def _smooth_images(n: int = 8) -> torch.Tensor:
    """Smooth random 'faces' a tiny network can fit."""
    low = torch.rand(n, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.interpolate(low, size=64, mode="bilinear")


def assert_same_state(a, b, where: str = "checkpoint") -> None:
    """``a`` and ``b`` (nested dicts/lists of tensors and numbers) are identical, bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_resume_is_uninterrupted(train, tmp_path, capsys, epochs: int = 2) -> None:
    """``train(out, epochs, resume)`` for ``epochs`` in one go, and for half of them, stopped,
    then resumed to ``epochs``: the resumed call trains only the second half (a resume that
    retrains from scratch would end the same), and the checkpoints hold the same weights,
    optimiser states (Adam's moments and step counts), random state and losses, and the
    exports are the same."""
    train(tmp_path / "once", epochs, False)
    train(tmp_path / "twice", epochs // 2, False)
    capsys.readouterr()
    train(tmp_path / "twice", epochs, True)
    logged = [json.loads(line)["epoch"] for line in capsys.readouterr().out.splitlines() if line.startswith('{"epoch"')]
    assert logged == list(range(epochs // 2 + 1, epochs + 1))
    once, twice = (torch.load(tmp_path / run / "checkpoint.pt", weights_only=False) for run in ("once", "twice"))
    for checkpoint in (once, twice):  # the time an epoch took is the one thing allowed to differ
        checkpoint["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in checkpoint["history"]]
    assert [h["epoch"] for h in twice["history"]] == list(range(1, epochs + 1))
    assert any(key.startswith("opt") for key in once) and once["epoch"] == epochs
    assert_same_state(once, twice)
    exports = sorted(p.name for p in (tmp_path / "once").glob("*.pt") if p.name != "checkpoint.pt")
    assert exports and exports == sorted(p.name for p in (tmp_path / "twice").glob("*.pt") if p.name != "checkpoint.pt")
    for name in exports:
        assert_same_state(torch.load(tmp_path / "once" / name), torch.load(tmp_path / "twice" / name), name)


@pytest.fixture
def tiny_generator_file(tmp_path):
    G = train_gan(_smooth_images(), tmp_path / "gan", epochs=1, batch_size=4, latent_dim=8, width=4, max_steps=1)
    export_generator(G, tmp_path / "init.pt")
    return tmp_path / "init.pt"


def test_a_resumed_gan_run_is_the_uninterrupted_run(tmp_path, capsys):
    assert_resume_is_uninterrupted(
        lambda out, epochs, resume: train_gan(_images(), out, epochs, batch_size=4, latent_dim=8, width=4,
                                              resume=resume), tmp_path, capsys)


@pytest.mark.parametrize("settings", [{"adv_weight": 0.1}, {"latents": "encoder"}], ids=["per-face+adv", "encoder"])
def test_a_resumed_reconstruction_finetune_is_the_uninterrupted_run(settings, tiny_generator_file, tmp_path,
                                                                    capsys):
    assert_resume_is_uninterrupted(
        lambda out, epochs, resume: finetune_reconstruction(_smooth_images(), out, tiny_generator_file, epochs,
                                                            batch_size=4, resume=resume, **settings), tmp_path, capsys)


def test_a_resumed_encoder_run_is_the_uninterrupted_run(tiny_generator_file, tmp_path, capsys):
    assert_resume_is_uninterrupted(
        lambda out, epochs, resume: train_encoder(_smooth_images(), out, tiny_generator_file, epochs, batch_size=4,
                                                  resume=resume), tmp_path, capsys)


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
