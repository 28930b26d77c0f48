"""Every generator a researcher already has, with every method: each loader's network is a chain
of blocks, on checkpoints written here in the key layouts and wrappers real files use (the
PyTorch DCGAN tutorial's ``{"netG_state_dict": …}`` at 32, 64 and 128 pixels, ``module.``
prefixes, ptrblck's and GAN zoo's PGGAN, BEGAN under ``{"generator": …}``, rosinality's
``{"g_ema": …, "latent_avg": …}``, NVIDIA's network pickles), a user's own network wrapped, and
a user's own loader by name; ILO, DGP and mGANprior run on each and IAGAN's per-image weights
take the grouped path. Bad generators are refused at load, before anything is written."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_generators_public import began_shapes, gan_zoo_checkpoint, ptrblck_state, random_state
from test_stylegan2_ada import nvidia_generator, rosinality_state, snapshot, write_nvidia_pickle
from torch import nn

from invgen.app import cli
from invgen.generators import (Generator, NonFiniteGeneratorError, chain_of, kinds, load_default, load_generator,
                               register_loader, wrap)
from invgen.generators.spec import LOADERS
from invgen.operators import SuperResolution
from invgen.priors import ImageAdaptivePrior, IntermediateLayerPrior, MultiCodePrior
from invgen.solvers import CSGMSettings, DGPSettings, ILOSettings, MGANpriorSettings, csgm, dgp, ilo, mganprior

pytestmark = pytest.mark.usefixtures("one_thread")


def tutorial_netg(nz: int, widths: list[int], nc: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    """The tutorial's ``netG.main`` state dict, keys written out: ConvT, BN, ReLU per block, then
    ConvT, Tanh (``widths``: the feature maps after each block; 4 at 64×64)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for k, (c_in, c_out) in enumerate(zip([nz, *widths], widths)):
        shapes[f"main.{3 * k}.weight"] = (c_in, c_out, 4, 4)
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"main.{3 * k + 1}.{leaf}"] = (c_out,)
        shapes[f"main.{3 * k + 1}.num_batches_tracked"] = ()
    shapes[f"main.{3 * len(widths)}.weight"] = (widths[-1], nc, 4, 4)
    state = random_state(shapes, seed)
    for key, value in state.items():  # as trained: unit-scale features, few dead ReLUs
        if key.endswith("0.weight") or value.dim() == 4:
            state[key] = value / 0.3 / (value.shape[0] * 4) ** 0.5 * 2
        elif key.endswith(".weight"):
            state[key] = 1 + value
    return state


def tutorial_checkpoint(state: dict[str, torch.Tensor]) -> dict:
    """How the tutorial saves it: ``torch.save({"netG_state_dict": …, "optimizerG_state_dict": …, …})``."""
    return {"epoch": 5, "netG_state_dict": state, "netD_state_dict": {"main.0.weight": torch.zeros(4, 3, 4, 4)},
            "optimizerG_state_dict": {"state": {}, "param_groups": []}, "loss": 0.7}


class Upsampler(nn.Module):
    """A user's own network that is not an nn.Sequential: it says what its forward applies."""

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(6, 8 * 4 * 4), nn.Unflatten(1, (8, 4, 4)), nn.LeakyReLU(0.2))
        self.up = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(4, 3, 4, 2, 1),
                                nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.project(z))

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return [("project", self.project), ("up", self.up)]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Spec → checkpoint file in each real layout (tiny networks)."""
    where = tmp_path_factory.mktemp("checkpoints")

    def saved(name: str, obj: object) -> str:
        torch.save(obj, where / name)
        return str(where / name)

    specs = {
        "dcgan-32": "dcgan:" + saved("netG_32.pth", tutorial_checkpoint(
            {f"module.{k}": v for k, v in tutorial_netg(8, [8, 4, 2]).items()})),
        "dcgan-64": "dcgan:" + saved("netG_64.tar", tutorial_checkpoint(tutorial_netg(8, [8, 4, 4, 2]))),
        "dcgan-128": "dcgan:" + saved("netG_128.pth", tutorial_netg(8, [8, 4, 4, 2, 2])),
        "began": "began:" + saved("gen_64.pth", {"generator": random_state(began_shapes(64, h=8, n=4)),
                                                 "discriminator": {"l0.weight": torch.zeros(2, 2)}}),
        "pggan": "pggan:" + saved("network-snapshot.pth", ptrblck_state((8, 8, 4))),
        "pggan-zoo": "pggan-zoo:" + saved("celebaHQ_s2.pth", gan_zoo_checkpoint((8, 4), {"alpha": 0.0})),
    }
    ros, w_avg = rosinality_state(), torch.randn(12)
    for space in ("", "-z", "-w+"):
        specs[f"stylegan2{space}"] = f"stylegan2{space}:" + saved("550000.pt", {"g_ema": ros, "latent_avg": w_avg})
    with pytest.MonkeyPatch.context() as monkeypatch:
        pkl = write_nvidia_pickle(where / "network-snapshot.pkl", snapshot(nvidia_generator(ros, w_avg)),
                                  where / "marker", monkeypatch)
    for space in ("", "-w+"):
        specs[f"stylegan2-ada{space}"] = f"stylegan2-ada{space}:{pkl}"
    return specs


KINDS = ["dcgan-32", "dcgan-64", "dcgan-128", "began", "pggan", "pggan-zoo", "stylegan2", "stylegan2-z",
         "stylegan2-w+", "stylegan2-ada", "stylegan2-ada-w+", "default", "wrap-sequential", "wrap-blocks"]


def generator_of(kind: str, checkpoints: dict[str, str]) -> Generator:
    if kind == "default":
        return load_default()
    if kind == "wrap-sequential":
        torch.manual_seed(0)
        return wrap(nn.Sequential(nn.Linear(6, 8 * 4 * 4), nn.Unflatten(1, (8, 4, 4)), nn.ELU(),
                                  nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(4, 3, 3, padding=1), nn.Tanh()).eval(), 6)
    if kind == "wrap-blocks":
        torch.manual_seed(0)
        return wrap(Upsampler().eval(), 6, latent="uniform", output_range=(0.0, 1.0))
    return load_generator(checkpoints[kind])


def test_dcgan_reads_the_depth_from_the_keys(checkpoints):
    for kind, side in [("dcgan-32", 32), ("dcgan-64", 64), ("dcgan-128", 128)]:
        G = load_generator(checkpoints[kind])
        assert G.image_shape() == (3, side, side) and chain_of(G).points == side.bit_length() - 3


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_a_chain_with_the_grouped_per_image_path(kind, checkpoints):
    G = generator_of(kind, checkpoints)
    chain = chain_of(G)
    assert chain.points >= 2  # ILO's and mGANprior's defaults need two
    z = G.sample_latent(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(G.to_unit(chain.run(chain.run(z, z, 0, 1), z, 1, chain.points + 1)), G(z))
    prior = ImageAdaptivePrior(G, z, lr_z=1e-2, lr_theta=1e-3)
    assert prior.network.steps is not None, "every loader's network takes the grouped path"
    with torch.no_grad():
        torch.testing.assert_close(prior.network.call_grouped(z), prior.network.call_vmap(z), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(prior(), G(z), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_ilo_dgp_and_mganprior_run_on_each_kind_and_end_below_csgm(kind, checkpoints):
    G = generator_of(kind, checkpoints)
    shape = G.image_shape()
    A = SuperResolution(shape, 2)
    y = A(torch.rand(1, *shape, generator=torch.Generator().manual_seed(1)))  # noise: outside the range
    start = csgm(A, y, G, CSGMSettings(steps=5, restarts=1, latent_weight=0.0, lr=0.05), progress=False)
    for method, settings in [(ilo, ILOSettings(stages=2, steps=4, lr=0.05, holdout=0.0)),
                             (dgp, DGPSettings(steps=4, stages=2, lr_z=1e-2, lr_theta=1e-2, holdout=0.0)),
                             (mganprior, MGANpriorSettings(codes=2, steps=4, lr_z=0.05, lr_alpha=0.05, holdout=0.0))]:
        result = method(A, y, G, start, settings, progress=False)
        assert result.x.shape == start.x.shape
        assert (result.objective < start.objective).all(), (method.__name__, result.objective, start.objective)


def test_the_intermediate_priors_leave_the_callers_generator_in_its_mode():
    G = load_default()
    z = G.sample_latent(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = G(z)
    G.train()
    chain = chain_of(G)
    features = chain.run(z, z, 0, 1).detach()
    with torch.no_grad():
        ilo_x = IntermediateLayerPrior(G, z, features, 1, radius=0.1, lr=0.01)()
        codes = MultiCodePrior(G, z[:, None], torch.ones(2, 1, features.shape[1]), 1, lr_z=0.01, lr_alpha=0.01)()
    assert G.training and all(m.training for m in G.modules())
    torch.testing.assert_close(ilo_x, expected)  # run in eval mode: batch norm's running statistics
    torch.testing.assert_close(codes, expected)


# ---------------------------------------------------------------- a user's loader by name
def save_upsampler(path) -> None:
    torch.manual_seed(3)
    torch.save({"weights": Upsampler().state_dict(), "latent_dim": 6}, path)


def load_upsampler(path: str) -> Generator:
    """A user's loader: reads the user's own format and wraps the network with its latent law."""
    saved = torch.load(path, weights_only=True)
    network = Upsampler()
    network.load_state_dict(saved["weights"])
    return wrap(network.eval(), saved["latent_dim"], latent="uniform", output_range=(0.0, 1.0))


@pytest.fixture
def mine(monkeypatch):
    monkeypatch.setitem(LOADERS, "mine", None)  # restored (removed) after the test
    register_loader("mine", load_upsampler)
    return "mine"


@pytest.fixture
def face16(tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_a_registered_loader_is_a_kind_of_every_command(tmp_path, mine, face16):
    save_upsampler(tmp_path / "up.bin")
    assert "mine" in kinds()
    G = load_generator(f"mine:{tmp_path / 'up.bin'}")
    assert G.latent == "uniform" and G.image_shape() == (3, 16, 16)
    out = tmp_path / "out"
    code = cli.main(["reconstruct", face16, "--task", "sr2", "--method", "ilo", "--bp", "--generator",
                     f"mine:{tmp_path / 'up.bin'}", "--csgm-steps", "3", "--csgm-restarts", "1", "--ilo-steps", "2",
                     "--out", str(out), "--quiet"])
    assert code == 0 and (out / "face_ilo-bp.png").is_file()
    assert json.loads((out / "metrics.json").read_text())["method"] == "ilo-bp"


@pytest.mark.parametrize("kind, loader, error, message", [
    ("dcgan", load_upsampler, ValueError, "'dcgan' is a built-in generator kind"),
    ("Mine", load_upsampler, ValueError, "lower-case letters"),
    ("mine", "load_upsampler", TypeError, "must be a function of the checkpoint's path, got str"),
])
def test_register_loader_refuses_what_would_not_work(mine, kind, loader, error, message):
    with pytest.raises(error, match=message):
        register_loader(kind, loader)


def test_a_loader_that_returns_a_bare_network_is_told_to_wrap_it(tmp_path, mine):
    save_upsampler(tmp_path / "up.bin")
    register_loader("mine", lambda path: Upsampler())
    with pytest.raises(TypeError, match="returned a Upsampler, not a Generator; return invgen.generators.wrap"):
        load_generator(f"mine:{tmp_path / 'up.bin'}")


def test_an_installed_package_adds_a_kind_through_its_entry_point(tmp_path, monkeypatch):
    """A distribution on sys.path with an ``invgen.generators`` entry point, as pip installs one."""
    (tmp_path / "my_gan_loaders.py").write_text(
        "from test_bring_your_own_generator import load_upsampler\n\ndef load(path):\n    return load_upsampler(path)\n")
    info = tmp_path / "my_gan_loaders-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-gan-loaders\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[invgen.generators]\nmy-gan = my_gan_loaders:load\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    save_upsampler(tmp_path / "up.bin")
    assert "my-gan" in kinds() and "my-gan" not in LOADERS
    assert load_generator(f"my-gan:{tmp_path / 'up.bin'}").image_shape() == (3, 16, 16)


# ---------------------------------------------------------------- bad generators, refused before any work
def test_a_nan_weight_is_refused_at_load_naming_the_tensor_and_the_file(tmp_path, face16, capsys):
    state = tutorial_netg(8, [4, 2])  # 16×16
    state["main.3.weight"][0, 0, 1, 2] = float("nan")  # a diverged training run
    torch.save(tutorial_checkpoint(state), tmp_path / "diverged.pth")
    with pytest.raises(NonFiniteGeneratorError, match=r"diverged\.pth: main\.3\.weight holds 1 NaN"):
        load_generator(f"dcgan:{tmp_path / 'diverged.pth'}")
    out = tmp_path / "out"
    code = cli.main(["reconstruct", face16, "--task", "sr2", "--method", "csgm", "--generator",
                     f"dcgan:{tmp_path / 'diverged.pth'}", "--out", str(out), "--quiet"])
    assert code == 2
    assert "main.3.weight holds 1 NaN" in capsys.readouterr().err
    assert not out.exists()


def test_a_generator_whose_images_are_not_finite_is_refused_at_load(tmp_path, mine):
    save_upsampler(tmp_path / "up.bin")
    G = wrap(nn.Sequential(nn.Linear(6, 48), nn.Unflatten(1, (3, 4, 4)), nn.Tanh()), 6)
    register_loader("mine", lambda path: G)
    with torch.no_grad():
        G.network[0].bias[5] = float("inf")
    with pytest.raises(NonFiniteGeneratorError, match=r"up\.bin: 0\.bias holds 1 NaN or infinite value\(s\) of 48"):
        load_generator(f"mine:{tmp_path / 'up.bin'}")
    with torch.no_grad():
        G.network[0].bias[5] = 0.0
        G.network[0].weight.fill_(3e38)  # finite, but its images overflow
    with pytest.raises(NonFiniteGeneratorError, match="weights are finite, but its images from random latents"):
        load_generator(f"mine:{tmp_path / 'up.bin'}")


def test_an_image_whose_run_fails_leaves_no_estimate_only_a_one_line_error(tmp_path, face16, monkeypatch, capsys,
                                                                          mine):
    from invgen.app.reconstruct import chunks

    save_upsampler(tmp_path / "up.bin")

    def diverged(model, y, methods, G, **kwargs):
        from invgen.solvers import Estimates

        x = torch.full((len(y), 1, 3, 16, 16), 0.5)
        x[0, 0, 0, :8] = float("nan")
        return {methods[0]: Estimates(x=x)}

    monkeypatch.setattr(chunks, "reconstruct_samples", diverged)
    out = tmp_path / "out"
    code = cli.main(["reconstruct", face16, "--task", "sr2", "--method", "csgm", "--generator",
                     f"mine:{tmp_path / 'up.bin'}", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "csgm made NaN or infinite estimates of face (128 values)" in err and "rank" not in err
    assert not list(out.glob("face_*.png")) and not list(out.glob("records/*"))
