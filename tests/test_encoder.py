"""The encoder that starts the latent search: training, files, and its place in CSGM."""
import pytest
import torch
import torch.nn.functional as F

from invgen.app.train_encoder import train_encoder
from invgen.app.training import export_generator, train_gan
from invgen.generators import CheckpointMismatchError
from invgen.generators.encoder import FaceEncoder, export_encoder, load_encoder
from invgen.generators.face64 import load_face64
from invgen.operators import SuperResolution
from invgen.solvers import Budget, CSGMSettings, csgm, encoder_starts, reconstruct_mean

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def faces():
    low = torch.rand(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    return F.interpolate(low, size=64, mode="bilinear")


@pytest.fixture(scope="module")
def generator_file(faces, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gan")
    export_generator(train_gan(faces, folder, epochs=1, batch_size=4, latent_dim=8, width=4, max_steps=1),
                     folder / "g.pt")
    return folder / "g.pt"


def test_training_lowers_the_reconstruction_error_and_resumes(faces, generator_file, tmp_path):
    train_encoder(faces, tmp_path, generator_file, epochs=8, batch_size=4, lr=3e-3)
    history = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["history"]
    assert history[-1]["mse"] < history[0]["mse"]
    train_encoder(faces, tmp_path, generator_file, epochs=9, batch_size=4, resume=True)
    history = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["history"]
    assert [h["epoch"] for h in history] == list(range(1, 10))
    encoder = load_encoder(tmp_path / "encoder.pt")
    z = encoder(faces)
    assert z.shape == (8, 8)
    torch.testing.assert_close(z.norm(dim=1), torch.full((8,), 8**0.5))


def test_the_encoder_gives_start_zero_and_csgm_starts_there(faces, generator_file):
    G, E = load_face64(generator_file), FaceEncoder(8, 4).eval()
    A = SuperResolution((3, 64, 64), 4)
    y = A(faces[:2])
    starts = encoder_starts(E, A, y, G, restarts=3)
    assert starts.shape == (2, 3, 8)
    torch.testing.assert_close(starts[:, 0], E(A.pinv(y).clamp(0, 1)))
    assert torch.equal(starts[0, 1:], starts[1, 1:])  # the random starts are shared, seeded
    # the search's first iterate is the starts, image-major, in order
    seen = []
    csgm(A, y, G, CSGMSettings(steps=1, restarts=3), z_init=starts, progress=False,
         callbacks=(lambda step, x, objective, state: seen.append(state["z"].clone()),))
    assert torch.equal(seen[0].view(2, 3, -1), starts)
    with pytest.raises(ValueError, match="z_init"):
        csgm(A, y, G, CSGMSettings(steps=1, restarts=2), z_init=starts, progress=False)


def test_a_file_that_is_not_an_encoder_is_refused(generator_file, tmp_path):
    with pytest.raises(CheckpointMismatchError, match="encoder"):
        load_encoder(generator_file)
    export_encoder(FaceEncoder(8, 4), tmp_path / "e.pt")
    assert load_encoder(tmp_path / "e.pt").latent_dim == 8


def test_the_pipeline_starts_csgm_from_the_encoder(faces, generator_file):
    G, E = load_face64(generator_file), FaceEncoder(8, 4).eval()
    A = SuperResolution((3, 64, 64), 8)
    y = A(faces[:2])
    # one vanishing step: the estimate is the encoder's start
    first = reconstruct_mean(A, y, ["csgm"], G, encoder=E,
                        budget=Budget(csgm=CSGMSettings(steps=1, restarts=1, lr=1e-30)), progress=False)["csgm"]
    with torch.no_grad():
        torch.testing.assert_close(first, G(E(A.pinv(y).clamp(0, 1))))
