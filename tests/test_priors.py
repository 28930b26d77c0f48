"""Priors: what each optimises, that images never share parameters, that G is never touched."""
import pytest
import torch
from torch import nn

from invgen.generators import wrap
from invgen.priors import DeepImagePrior, GenerativePrior, ImageAdaptivePrior, Prior

LATENT = 6


pytestmark = pytest.mark.usefixtures("one_thread")


def small_generator(seed: int = 0):
    """A random 1×8×8 DCGAN-like generator with batch norm (eval mode)."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(LATENT, 16 * 4 * 4), nn.Unflatten(1, (16, 4, 4)), nn.BatchNorm2d(16), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Tanh(),
    )
    g = wrap(net, LATENT).eval()
    with torch.no_grad():  # non-trivial running statistics, so eval vs train mode differ
        g.network[2].running_mean.uniform_(-0.5, 0.5)
        g.network[2].running_var.uniform_(0.5, 2.0)
    return g


def test_all_priors_follow_the_contract():
    G = small_generator()
    z = torch.randn(3, LATENT)
    for prior in [GenerativePrior(G, 3, lr=0.1), ImageAdaptivePrior(G, z, lr_z=1e-4, lr_theta=1e-4),
                  DeepImagePrior((1, 8, 8), 3, lr=0.01)]:
        assert isinstance(prior, Prior)
        x = prior()
        assert x.shape == (3, 1, 8, 8)
        for group in prior.parameter_groups():
            assert group["lr"] > 0
            assert all(p.requires_grad and p.shape[0] == 3 for p in group["params"])
        assert all(v.shape[0] == 3 for v in prior.state().values())
        # a penalty reads the same tensors by name, whatever the order of the groups
        optimised = [p for group in prior.parameter_groups() for p in group["params"]]
        named = prior.named_parameters()
        assert {id(p) for p in named.values()} == {id(p) for p in optimised} and len(named) == len(optimised)
    names = ImageAdaptivePrior(G, z, lr_z=1e-4, lr_theta=1e-4).named_parameters()
    assert list(names) == ["z", *(f"theta.{name}" for name, _ in G.named_parameters())]


def test_generative_prior_optimises_only_z_and_penalises_its_norm():
    G = small_generator()
    prior = GenerativePrior(G, 4, latent_weight=0.5, lr=0.2, seed=3)
    [group] = prior.parameter_groups()
    assert group["lr"] == 0.2 and group["params"] == [prior.z]
    torch.testing.assert_close(prior.penalty(prior()), 0.5 * prior.z.detach().square().sum(1))
    assert GenerativePrior(G, 4, lr=0.2).penalty(prior()) is None
    torch.testing.assert_close(prior.z, GenerativePrior(G, 4, lr=0.2, seed=3).z)
    assert not torch.equal(prior.z, GenerativePrior(G, 4, lr=0.2, seed=4).z)
    with pytest.raises(ValueError, match="z_init"):
        GenerativePrior(G, 4, lr=0.2, z_init=torch.zeros(3, LATENT))


@pytest.mark.parametrize("make, culprit", [
    (lambda G: GenerativePrior(G, 2), "lr"),  # a learning rate is the caller's choice, never a hidden default
    (lambda G: GenerativePrior(G, 2, lr=0.0), "lr"),
    (lambda G: GenerativePrior(G, 2, lr=0.1, latent_weight=-1.0), "latent_weight"),
    (lambda G: ImageAdaptivePrior(G, torch.zeros(2, LATENT), lr_z=1e-4), "lr_theta"),
    (lambda G: ImageAdaptivePrior(G, torch.zeros(2, LATENT), lr_z=float("nan"), lr_theta=1e-4), "lr_z"),
    (lambda G: DeepImagePrior((1, 8, 8), 2), "lr"),
    (lambda G: DeepImagePrior((1, 8, 8), 2, lr=-0.01), "lr"),
])
def test_priors_need_their_learning_rates(make, culprit):
    with pytest.raises((TypeError, ValueError), match=culprit):
        make(small_generator())


def test_generative_prior_runs_the_generator_in_eval_mode_and_leaves_its_mode():
    G = small_generator().train()
    stats = G.network[2].running_mean.clone()
    prior = GenerativePrior(G, 5, lr=0.1)
    x = prior()
    assert G.training
    torch.testing.assert_close(G.network[2].running_mean, stats)  # no batch statistics taken
    G.eval()
    torch.testing.assert_close(x, G(prior.z))


def test_image_adaptive_prior_starts_at_G_of_z_init_with_its_own_weights_per_image():
    G = small_generator()
    z = torch.randn(3, LATENT)
    prior = ImageAdaptivePrior(G, z, lr_z=1e-3, lr_theta=1e-5)
    lrs = [g["lr"] for g in prior.parameter_groups()]
    assert lrs == [1e-3, 1e-5]
    x = prior()
    torch.testing.assert_close(x, G(z))

    # The gradient of image 1's output reaches only z_1 and θ_1.
    params = [p for g in prior.parameter_groups() for p in g["params"]]
    grads = torch.autograd.grad(x[1].sum(), params)
    for g in grads:
        assert g[1].abs().sum() > 0
        assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0


def test_image_adaptive_prior_never_modifies_the_generator_or_z_init():
    G = small_generator()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    z = torch.randn(2, LATENT)
    z_before = z.clone()
    prior = ImageAdaptivePrior(G, z, lr_z=0.1, lr_theta=0.1)
    optimizer = torch.optim.Adam(prior.parameter_groups())
    for _ in range(3):
        optimizer.zero_grad()
        prior().square().sum().backward()
        optimizer.step()
    assert not torch.allclose(prior(), G(z))  # the copy moved …
    for k, v in G.state_dict().items():  # … the original did not
        assert torch.equal(v, before[k]), k
    assert torch.equal(z, z_before)
    assert not G.training


def test_deep_image_prior_is_seeded_batch_independent_and_leaves_the_global_rng_alone():
    rng_state = torch.random.get_rng_state()
    one = DeepImagePrior((3, 9, 13), 1, lr=0.01, seed=1)()
    three = DeepImagePrior((3, 9, 13), 3, lr=0.01, seed=1)()
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert three.shape == (3, 3, 9, 13) and (three > 0).all() and (three < 1).all()
    torch.testing.assert_close(three[2], one[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(DeepImagePrior((3, 9, 13), 1, lr=0.01, seed=1)(), one, atol=0, rtol=0)
    assert not torch.allclose(DeepImagePrior((3, 9, 13), 1, lr=0.01, seed=2)(), one)


def test_deep_image_prior_gives_each_image_its_own_network():
    prior = DeepImagePrior((1, 8, 8), 2, lr=0.01, channels=8, depth=2)
    [group] = prior.parameter_groups()
    grads = torch.autograd.grad(prior()[0].sum(), group["params"])
    assert all(g[1].abs().sum() == 0 for g in grads)
    assert sum(g[0].abs().sum() for g in grads) > 0
