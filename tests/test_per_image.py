"""Per-image weights: the grouped path (one network call for the batch) gives the same
outputs and gradients as vmap over functional_call, and keeps every image's θ its own."""
import pytest
import torch
from torch import nn

from invgen.generators import wrap
from invgen.generators.face64 import build_face64
from invgen.operators import Identity
from invgen.priors import DeepImagePrior, ImageAdaptivePrior
from invgen.priors import _per_image
from invgen.priors._per_image import PerImageWeights
from invgen.solvers import solve

pytestmark = pytest.mark.usefixtures("one_thread")


def _randomise(network: nn.Module, seed: int) -> None:
    """Random weights and batch-norm statistics, so that no layer is close to the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in network.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / p[0].numel() ** 0.5)
        for m in network.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen, dtype=m.running_mean.dtype))
                m.running_var.uniform_(0.5, 2.0, generator=gen)


def _spread(weights: PerImageWeights, seed: int) -> None:
    """Make the images' copies differ, as they do after a few steps."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in weights.params.values():
            p.mul_(1 + 0.2 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def _outputs_and_gradients(weights: PerImageWeights, call, inputs: torch.Tensor, seed: int):
    inputs = inputs.detach().clone().requires_grad_()
    out = call(inputs)
    probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    grads = torch.autograd.grad((out * probe).sum(), [inputs, *weights.params.values()])
    return out.detach(), grads


def _assert_paths_agree(weights: PerImageWeights, inputs: torch.Tensor, contiguous: bool = True) -> None:
    assert weights.steps is not None, "this network should run on the grouped path"
    out, grads = _outputs_and_gradients(weights, weights.call_grouped, inputs, 7)
    expected_out, expected_grads = _outputs_and_gradients(weights, weights.call_vmap, inputs, 7)
    torch.testing.assert_close(out, expected_out, rtol=1e-12, atol=1e-12)
    names = ["inputs", *weights.params]
    for name, g, e in zip(names, grads, expected_grads):
        assert name == "inputs" or g.is_contiguous() or not contiguous, \
            f"{name}: the fused Adam would copy a strided gradient"
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12 * e.abs().max().item(), msg=name)


@pytest.mark.parametrize("skinny", [0, 10**9], ids=["grouped-convolutions", "products-and-col2im"])
def test_default_face_generator_grouped_equals_vmap_in_float64(monkeypatch, skinny):
    """The default architecture (narrower, for speed), both ways of running its transposed convolutions."""
    monkeypatch.setattr(_per_image, "SKINNY", skinny)
    G = build_face64(latent_dim=16, width=4).double()
    _randomise(G, seed=1)
    weights = PerImageWeights(G, 3)
    _spread(weights, seed=2)
    _assert_paths_agree(weights, torch.randn(3, 16, dtype=torch.float64))


def test_default_face_generator_at_full_width_grouped_equals_vmap():
    """Width 32 as shipped, so the size rule picks products for some layers and grouped convolutions for others."""
    G = build_face64(latent_dim=128, width=32).double()
    _randomise(G, seed=3)
    weights = PerImageWeights(G, 2)
    _spread(weights, seed=4)
    _assert_paths_agree(weights, torch.randn(2, 128, dtype=torch.float64))


@pytest.mark.parametrize("skinny", [0, 10**9], ids=["grouped-convolutions", "products-and-col2im"])
def test_every_supported_layer_grouped_equals_vmap(monkeypatch, skinny):
    """Biases, groups, reflection padding, output padding, a 1-D batch norm without affine weights."""
    monkeypatch.setattr(_per_image, "SKINNY", skinny)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(5, 24), nn.BatchNorm1d(24, affine=False), nn.LeakyReLU(0.2),
        nn.Unflatten(1, (6, 2, 2)),
        nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2), nn.BatchNorm2d(4), nn.ELU(),
        nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect", groups=2), nn.SiLU(),
        nn.Conv2d(6, 4, 3, stride=2, padding=1, bias=False), nn.Tanh(),
        nn.Flatten(), nn.Linear(16, 3 * 4 * 4), nn.Unflatten(1, (3, 4, 4)), nn.Sigmoid(),
    ).double().eval()
    _randomise(net, seed=5)
    weights = PerImageWeights(wrap(net, 5, output_range=(0.0, 1.0)), 4)
    _spread(weights, seed=6)
    _assert_paths_agree(weights, torch.randn(4, 5, dtype=torch.float64))


def test_links_it_does_not_know_run_through_vmap_one_link_at_a_time():
    """A layer with parameters it has no grouped form of (PReLU), a block with its own forward,
    and a parameter-free layer it does not know: each through vmap over that link alone, the
    same outputs and gradients as vmap over the whole network."""

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.b(torch.tanh(self.a(x)))

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 8), nn.PReLU(), Block(), nn.Softsign(), nn.Linear(8, 48),
                        nn.Unflatten(1, (3, 4, 4))).double()
    weights = PerImageWeights(wrap(net, 4), 3)
    _spread(weights, seed=2)
    # vmap's weight gradients may be strided (the solver makes them contiguous for Adam)
    _assert_paths_agree(weights, torch.randn(3, 4, dtype=torch.float64), contiguous=False)


class NotAChain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 48)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).view(-1, 3, 4, 4)


def test_a_network_that_is_not_a_chain_runs_on_vmap():
    assert PerImageWeights(wrap(NotAChain(), 4), 3).steps is None


def test_the_deep_image_prior_runs_on_vmap():
    assert DeepImagePrior((1, 8, 8), 2, lr=0.01, channels=4, depth=2, input_channels=4).network.steps is None


def test_image_adaptive_prior_on_the_grouped_path_freezes_a_stopped_image():
    """A stopped image's θ and z stay put while the other image keeps fitting (the solver
    restores its rows after each step; the grouped path must keep the images on dim 0)."""
    G = build_face64(latent_dim=8, width=2)
    _randomise(G, seed=8)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(9))
    prior = ImageAdaptivePrior(G, z, lr_z=1e-2, lr_theta=1e-2)
    assert prior.network.steps is not None
    A = Identity((3, 64, 64))
    y = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(10))
    snapshots = []

    def stop_first_at_2(step, x, objective, state):
        snapshots.append({k: v.detach().clone() for k, v in prior.network.params.items()})
        return torch.tensor([step >= 2, False])

    result = solve(A, y, prior, 5, callbacks=[stop_first_at_2], progress=False)
    assert result.stop_step.tolist() == [2, 5]
    final = {k: v.detach() for k, v in prior.network.params.items()}
    assert all(torch.equal(final[k][0], snapshots[2][k][0]) for k in final)
    assert all(not torch.equal(final[k][1], snapshots[2][k][1]) for k in final)
    assert result.objective[1] < result.history[0, 1]



def test_an_image_fits_the_same_on_the_vmap_path_in_any_batch():
    """vmap returns a linear layer's per-image weight gradient transposed; the fused CPU Adam
    misread it (image 0 fitted differently at batch 2 than alone) until the solver made it
    contiguous."""
    torch.manual_seed(0)
    G = wrap(NotAChain(), 4)
    z0 = torch.randn(2, 4)
    prior = ImageAdaptivePrior(G, z0, lr_z=1e-2, lr_theta=1e-2)
    assert prior.network.steps is None
    params = [p for g in prior.parameter_groups() for p in g["params"]]
    grads = torch.autograd.grad(prior().sum(), params)
    assert not all(g.is_contiguous() for g in grads), "vmap no longer returns a strided gradient"
    A = Identity((3, 4, 4))
    y = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    both = solve(A, y, prior, 20, progress=False)
    alone = solve(A, y[:1], ImageAdaptivePrior(G, z0[:1], lr_z=1e-2, lr_theta=1e-2), 20, progress=False)
    torch.testing.assert_close(both.history[:, 0], alone.history[:, 0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("latents, error, message", [
    (torch.randn(2, 16, dtype=torch.float64), TypeError, "latents z are torch.float64 but the generator's weights"),
    (torch.randn(2, 15), ValueError, r"expected latents of shape \(B, 16\)"),
])
def test_the_grouped_path_checks_latents_as_the_generator_does(latents, error, message):
    weights = PerImageWeights(build_face64(latent_dim=16, width=2), 2)
    assert weights.steps is not None
    with pytest.raises(error, match=message):
        weights(latents)
