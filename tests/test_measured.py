"""Measured inputs end to end: a photograph is y itself (a low-resolution face, a damaged
photo with a hand-drawn mask, a blurred photo with its kernel, a noisy photo), one
``invgen reconstruct --measured`` command each; there is no truth, so the command writes
the estimate, y, the re-measured estimate A x̂ and the consistency ‖A x̂ − y‖/‖y‖."""
from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image, ImageDraw

from invgen.app import cli
from invgen.app.tasks import image_shape, make_operator
from invgen.app.training import export_generator
from invgen.data import read_image, read_kernel, read_mask
from invgen.generators.face64 import FaceDCGAN
from invgen.metrics import consistency
from invgen.operators import Blur, Mask, SuperResolution

pytestmark = pytest.mark.usefixtures("one_thread")
FAST = ["--csgm-steps", "5", "--dip-steps", "5", "--iagan-steps", "2", "--quiet"]
# A horizontal motion blur, off-centre on purpose: a flipped kernel would shift the image.
MOTION = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 2, 3], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], float)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny 64×64 generator and the measured images a user would have."""
    root = tmp_path_factory.mktemp("measured")
    export_generator(FaceDCGAN(latent_dim=8, width=4), root / "tiny.pt")
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        face = Image.open(path).convert("RGB")
    face.resize((16, 16), Image.LANCZOS).save(root / "face_16.png")  # a real low-resolution photo
    face.resize((20, 12), Image.LANCZOS).save(root / "face_20x12.png")
    face.resize((16, 16), Image.LANCZOS).resize((32, 32), Image.LANCZOS).save(root / "face_32.png")
    # A hand-drawn mask: a thick anti-aliased stroke and a blob over the face, black = missing.
    mask = Image.new("L", (64, 64), 255)
    draw = ImageDraw.Draw(mask)
    draw.line([(8, 20), (30, 28), (56, 22)], fill=0, width=5)
    draw.ellipse((36, 38, 50, 52), fill=0)
    mask.save(root / "mask.png")
    mask.resize((32, 32)).save(root / "mask_32.png")
    damaged = np.asarray(face).copy()
    damaged[np.asarray(mask) < 128] = (255, 0, 0)  # the scratches the mask covers
    Image.fromarray(damaged).save(root / "damaged.png")
    # A photo blurred by its kernel (scipy's correlation, mirrored borders as a camera sees them).
    pixels = np.asarray(face, dtype=float) / 255
    kernel = MOTION / MOTION.sum()
    blurred = np.stack([scipy.ndimage.correlate(pixels[..., c], kernel, mode="mirror") for c in range(3)], -1)
    Image.fromarray(np.round(blurred * 255).astype(np.uint8)).save(root / "blurred.png")
    Image.fromarray(np.round(blurred[8:48, 4:52] * 255).astype(np.uint8)).save(root / "blurred_40x48.png")
    np.save(root / "k.npy", MOTION)
    Image.fromarray(np.round(MOTION / MOTION.max() * 255).astype(np.uint8)).save(root / "k.png")
    noisy = np.clip(np.asarray(face) / 255 + 0.05 * np.random.default_rng(0).standard_normal((64, 64, 3)), 0, 1)
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(root / "noisy.png")
    np.save(root / "k_3d.npy", np.ones((3, 3, 3)))
    np.save(root / "k_negative.npy", np.array([[0.5, -0.2], [0.4, 0.3]]))
    np.save(root / "k_zero.npy", np.zeros((3, 3)))
    return root


def run(files, out, *argv) -> tuple[int, dict | None]:
    code = cli.main(["reconstruct", "--measured", *[str(files / a) if (files / a).is_file() else a for a in argv],
                     "--out", str(out)])
    metrics = out / "metrics.json"
    return code, json.loads(metrics.read_text()) if metrics.is_file() else None


def size(path) -> tuple[int, int]:
    with Image.open(path) as img:
        return img.size


def test_a_low_resolution_face_is_super_resolved_to_the_generators_size(files, tmp_path, capsys):
    out = tmp_path / "out"
    code, metrics = run(files, out, "face_16.png", "--task", "sr4", "--method", "iagan", "--bp",
                        "--generator", "tiny.pt", *FAST)
    assert code == 0
    assert "boundary='reflect'" in capsys.readouterr().out  # said in one line
    assert size(out / "face_16_iagan-bp.png") == (64, 64)
    assert size(out / "face_16_measured.png") == size(out / "face_16_iagan-bp_remeasured.png") == (16, 16)
    image = metrics["images"]["face_16"]
    assert metrics["measured"] and metrics["boundary"] == "reflect" and "psnr" not in image
    # Back-projection makes the estimate reproduce the photo (up to clipping to [0, 1]).
    assert image["consistency"] < 0.03


def test_a_photo_with_a_hand_drawn_mask_is_inpainted(files, tmp_path):
    out = tmp_path / "out"
    code, metrics = run(files, out, "damaged.png", "--task", "inpaint", "--mask", "mask.png",
                        "--method", "iagan", "--bp", "--generator", "tiny.pt", *FAST)
    assert code == 0
    known = read_mask(files / "mask.png").bool()
    photo, estimate = read_image(files / "damaged.png"), read_image(out / "damaged_iagan-bp.png")
    assert not known.all() and known.float().mean() > 0.7
    assert read_image(out / "damaged_measured.png")[:, ~known].max() == 0  # the scratches are unknown, not red
    assert torch.equal(estimate[:, known], photo[:, known])  # a mask's back-projection is exact
    assert metrics["images"]["damaged"]["consistency"] < 1e-6
    assert metrics["mask"].endswith("mask.png")


@pytest.mark.parametrize("kernel", ["k.npy", "k.png"])
def test_a_blurred_photo_with_its_kernel_is_deblurred(files, tmp_path, kernel):
    out = tmp_path / "out"
    code, metrics = run(files, out, "blurred.png", "--task", "blur", "--kernel", kernel, "--method", "pinv")
    assert code == 0
    assert size(out / "blurred_pinv.png") == (64, 64)
    # The pseudo-inverse reproduces y up to CG's float32 accuracy and clipping to [0, 1].
    assert metrics["boundary"] == "reflect"
    assert metrics["images"]["blurred"]["consistency"] < 0.02


def test_the_blur_of_a_kernel_file_is_scipys_correlation_with_mirrored_borders(files):
    # scipy made blurred.png; invgen's operator of the same file must reproduce it, borders
    # included (up to 8-bit rounding), and the flipped kernel must not.
    y = read_image(files / "blurred.png")[None].double()
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as path:
        face = read_image(path)[None].double()
    k = read_kernel(files / "k.npy")
    A = make_operator("blur", (3, 64, 64), kernel=k, boundary="reflect")
    flipped = make_operator("blur", (3, 64, 64), kernel=k.flip(0, 1), boundary="reflect")
    assert (A(face) - y).abs().max() <= 0.5 / 255 + 1e-6  # read in float32
    assert (flipped(face) - y).abs().max() > 0.05


def test_methods_without_a_generator_take_any_size(files, tmp_path):
    code, metrics = run(files, tmp_path / "a", "face_20x12.png", "--task", "sr4", "--method", "bicubic")
    assert code == 0
    assert size(tmp_path / "a" / "face_20x12_bicubic.png") == (80, 48)
    assert metrics["images"]["face_20x12"]["estimate_size"] == [48, 80]
    code, metrics = run(files, tmp_path / "b", "blurred_40x48.png", "--task", "blur", "--kernel", "k.png",
                        "--method", "dip", *FAST)
    assert code == 0
    assert size(tmp_path / "b" / "blurred_40x48_dip.png") == (48, 40)
    assert np.isfinite(metrics["images"]["blurred_40x48"]["consistency"])


def test_a_noisy_photo_is_denoised_at_its_noise_level(files, tmp_path):
    code, metrics = run(files, tmp_path / "out", "noisy.png", "--task", "denoise", "--noise", "0.05",
                        "--method", "dip", "--bp", *FAST)
    assert code == 0
    assert metrics["noise_std"] == 0.05
    assert 0 < metrics["images"]["noisy"]["consistency"] < 1
    assert (tmp_path / "out" / "noisy_dip-bp.png").is_file()


def test_resize_fits_a_photo_to_the_generator_and_says_so(files, tmp_path, capsys):
    code, _ = run(files, tmp_path / "out", "face_32.png", "--task", "sr4", "--method", "csgm",
                  "--generator", "tiny.pt", "--resize", *FAST)
    assert code == 0
    assert "resized from 32×32 to 16×16" in capsys.readouterr().out
    assert size(tmp_path / "out" / "face_32_csgm.png") == (64, 64)


def test_resize_crops_and_resizes_the_mask_like_the_photo(files, tmp_path, capsys):
    wide = np.full((96, 128, 3), 200, np.uint8)
    mask = np.full((96, 128), 255, np.uint8)
    mask[40:60, 16:40] = 0  # the centred 96×96 square starts at column 16
    Image.fromarray(wide).save(tmp_path / "wide.png")
    Image.fromarray(mask).save(tmp_path / "wide_mask.png")
    code = cli.main(["reconstruct", "--measured", str(tmp_path / "wide.png"), "--task", "inpaint", "--mask",
                     str(tmp_path / "wide_mask.png"), "--method", "csgm", "--generator", str(files / "tiny.pt"),
                     "--resize", "--out", str(tmp_path / "out"), *FAST])
    assert code == 0
    assert "--mask" in capsys.readouterr().out
    missing = read_image(tmp_path / "out" / "wide_measured.png")[0] == 0
    columns = missing.any(0).nonzero().flatten().tolist()
    rows = missing.any(1).nonzero().flatten().tolist()
    # Cropped: columns 0–23 of the square; resized ×2/3 (nearest): columns 0–15, rows 27–39.
    assert columns == list(range(16)) and rows == list(range(27, 40))


@pytest.mark.parametrize("argv, culprit", [
    (["face_32.png", "--task", "sr4", "--method", "csgm", "--generator", "tiny.pt"], "expects a 16×16"),
    (["face_16.png", "--task", "sr2", "--method", "iagan", "--generator", "tiny.pt"], "expects a 32×32"),
    (["face_32.png", "--task", "inpaint", "--mask", "mask.png", "--method", "pinv"], "--mask"),
    (["damaged.png", "--task", "inpaint", "--mask", "mask_32.png", "--method", "pinv"], "--mask"),
    (["damaged.png", "--task", "inpaint", "--method", "pinv"], "--mask"),
    (["blurred.png", "--task", "blur", "--kernel", "k_3d.npy", "--method", "pinv"], "--kernel"),
    (["blurred.png", "--task", "blur", "--kernel", "k_negative.npy", "--method", "pinv"], "--kernel"),
    (["blurred.png", "--task", "blur", "--kernel", "k_zero.npy", "--method", "pinv"], "--kernel"),
    (["blurred.png", "--task", "blur", "--kernel", "no_such.npy", "--method", "pinv"], "--kernel"),
    (["blurred.png", "--task", "blur:2", "--kernel", "k.npy", "--method", "pinv"], "--kernel"),
    (["blurred.png", "--task", "sr4", "--kernel", "k.npy", "--method", "pinv"], "--kernel"),
    (["noisy.png", "--task", "denoise", "--method", "dip"], "--noise"),
    (["noisy.png", "--task", "cs:0.1", "--method", "pinv"], "--task"),
    (["face_16.png", "face_20x12.png", "--task", "sr4", "--method", "pinv"], "share one size"),
])
def test_measured_mistakes_are_one_line_exit_2_naming_the_culprit(files, tmp_path, capsys, argv, culprit):
    out = tmp_path / "out"
    code, _ = run(files, out, *argv, "--quiet")
    err = capsys.readouterr().err
    assert code == 2
    assert culprit in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_kernel_needs_measured(files, tmp_path, capsys):
    code = cli.main(["reconstruct", str(files / "damaged.png"), "--task", "blur", "--method", "pinv", "--kernel",
                     str(files / "k.npy"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "--kernel applies to --measured" in capsys.readouterr().err


def test_a_simulated_inpainting_masks_the_clean_image_with_the_users_mask(files, tmp_path):
    out = tmp_path / "out"
    with resources.as_file(resources.files("invgen") / "assets" / "astronaut_face_64.png") as face:
        code = cli.main(["reconstruct", str(face), "--task", "inpaint", "--mask", str(files / "mask.png"),
                         "--method", "pinv", "--size", "64", "--out", str(out), "--quiet"])
    assert code == 0
    known = read_mask(files / "mask.png").bool()
    truth = read_image(out / "astronaut_face_64_truth.png")
    measured = read_image(out / "astronaut_face_64_measurement.png")
    assert not known.all() and measured[:, ~known].max() == 0  # black in the mask: missing from y
    assert torch.equal(measured[:, known], truth[:, known])
    # Not the task's own eye band: pixels of the band that the mask keeps are measured.
    eye_band = make_operator("inpaint", (3, 64, 64)).mask[0] == 0
    assert (measured[:, eye_band & known] > 0).any()


def test_a_simulated_inpaintings_mask_must_have_the_images_size(files, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["reconstruct", str(files / "damaged.png"), "--task", "inpaint", "--mask",
                     str(files / "mask_32.png"), "--method", "pinv", "--size", "64", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--mask" in err and "mask_32.png is 32×32" in err and "64×64" in err
    assert not out.exists()


def test_a_simulated_input_smaller_than_the_generator_is_refused_unless_resized(files, tmp_path, capsys):
    argv = ["reconstruct", str(files / "face_16.png"), "--task", "sr4", "--method", "csgm", "--generator",
            str(files / "tiny.pt"), *FAST]
    assert cli.main([*argv, "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err
    assert "face_16.png is 16×16, smaller than the 64×64" in err and "--resize" in err and "--measured" in err
    assert not (tmp_path / "refused").exists()
    assert cli.main([*argv, "--resize", "--out", str(tmp_path / "out")]) == 0
    assert "resized from 16×16 to 64×64" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the API
def test_image_shape_and_operators_of_measured_tasks():
    assert image_shape("sr4", (3, 16, 12)) == (3, 64, 48)
    assert image_shape("blur", (3, 40, 48)) == (3, 40, 48)
    with pytest.raises(ValueError, match="cs:0.1"):
        image_shape("cs:0.1", (3, 8, 8))
    A = make_operator("sr4", (3, 64, 48), boundary="reflect")
    assert isinstance(A, SuperResolution) and A.boundary == "reflect" and A.out_shape == (3, 16, 12)
    k = torch.rand(3, 5, dtype=torch.float64)
    B = make_operator("blur", (1, 8, 8), kernel=k, boundary="replicate")
    assert isinstance(B, Blur) and torch.equal(B.kernel, k) and B.boundary == "replicate"
    m = (torch.rand(8, 8) > 0.5).float()
    assert torch.equal(make_operator("inpaint", (3, 8, 8), mask=m).mask[1], m)
    with pytest.raises(ValueError, match="kernel"):
        make_operator("sr2", (1, 8, 8), kernel=k)
    with pytest.raises(ValueError, match="mask"):
        make_operator("blur", (1, 8, 8), mask=m)


def test_read_kernel_normalises_npy_and_png_alike(files):
    npy, png = read_kernel(files / "k.npy"), read_kernel(files / "k.png")
    assert npy.dtype == torch.float64 and npy.sum().item() == pytest.approx(1)
    assert torch.allclose(npy, torch.from_numpy(MOTION / MOTION.sum()))
    assert torch.allclose(png, npy, atol=2e-3)  # 8-bit grey levels of the same kernel


def test_read_mask_splits_anti_aliased_edges_at_half(tmp_path):
    grey = np.array([[0, 100, 127], [128, 200, 255]], np.uint8)
    Image.fromarray(grey).save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png").tolist() == [[0, 0, 0], [1, 1, 1]]


def test_consistency_is_the_relative_residual():
    A = Mask((1, 4, 4), torch.eye(4))
    x, y = torch.rand(2, 1, 4, 4, dtype=torch.float64), torch.rand(2, 1, 4, 4, dtype=torch.float64)
    expected = (A(x) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
    assert torch.allclose(consistency(A, x, y), expected)
    assert consistency(A, x, A(x)).abs().max() == 0
