"""Bad input, table-driven: every mistake gives a named error (API) or one line and exit code 2
(CLI), and nothing is written; results are never lost or mixed; JSON output is strict."""
from __future__ import annotations

import hashlib
import json
import math
import pickle
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from invgen.app import cli
from invgen.app.experiments import common, runner
from invgen.app.training import export_generator
from invgen.data import decode_image
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.generators import CheckpointMismatchError, load_generator, wrap
from invgen.generators.face64 import FaceDCGAN
from invgen.metrics import psnr
from invgen.operators import GaussianCS, Identity, Mask, SubsampledDCT, SuperResolution
from invgen.priors import GenerativePrior
from invgen.solvers import (
    Budget,
    CSGMSettings,
    DIPSettings,
    Estimates,
    IAGANSettings,
    LassoDCTSettings,
    back_project,
    csgm,
    dip,
    iagan,
    lasso_dct,
    reconstruct_mean,
)
from invgen.solvers.comparison import markdown_table, summarise

pytestmark = pytest.mark.usefixtures("one_thread")
LATENT = 4


# --------------------------------------------------------------------------- fixtures
def _tiny_network(out_activation: nn.Module | None = None, side: int = 16) -> nn.Sequential:
    layers = [nn.Linear(LATENT, 8 * 4 * 4), nn.Unflatten(1, (8, 4, 4)), nn.ReLU(),
              nn.ConvTranspose2d(8, 1, 4, 2, 1)]
    if side == 16:
        layers += [nn.ReLU(), nn.ConvTranspose2d(1, 1, 4, 2, 1)]
    return nn.Sequential(*layers, out_activation or nn.Tanh())


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return wrap(_tiny_network(), LATENT).eval()


@pytest.fixture
def files(tmp_path):
    """Every kind of bad file the CLI may be given, and a good face image."""
    rng = np.random.default_rng(0)
    paths = {"face": tmp_path / "face.png", "text": tmp_path / "notes.txt", "empty": tmp_path / "empty.pt",
             "evil": tmp_path / "evil.pt", "truncated": tmp_path / "truncated.pt", "generator": tmp_path / "gen.pt",
             "bomb": tmp_path / "bomb.png", "dcgan_state": tmp_path / "state.pt"}
    Image.fromarray(rng.integers(0, 256, (80, 72, 3), dtype=np.uint8)).save(paths["face"])
    paths["text"].write_text("not a checkpoint, not an image\n")
    paths["empty"].touch()
    paths["evil"].write_bytes(pickle.dumps(_Evil()))
    export_generator(FaceDCGAN(latent_dim=8, width=4), paths["generator"])
    paths["truncated"].write_bytes(paths["generator"].read_bytes()[:500])
    torch.save({"main.0.weight": torch.zeros(3)}, paths["dcgan_state"])
    paths["bomb"].write_bytes(_png_header(30000, 30000))
    return {k: str(v) for k, v in paths.items()}


class _Evil:
    def __reduce__(self):
        return (print, ("this pickle runs code",))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that only claims its size: what a decompression bomb shows PIL first."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``invgen ARGV`` (argparse's errors exit by SystemExit)."""
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- CLI, table-driven
RECONSTRUCT = ["reconstruct", "FACE", "--task", "sr4", "--method", "csgm", "--generator", "GENERATOR"]

CLI_CASES = [
    # (extra arguments replacing or extending RECONSTRUCT, what the one line must name)
    (["--csgm-steps", "0"], "--csgm-steps"),
    (["--csgm-steps", "-5"], "--csgm-steps"),
    (["--csgm-steps", "2.5"], "--csgm-steps"),
    (["--steps", "3"], "unrecognized arguments: --steps"),  # gone: --csgm-steps, --dip-steps
    (["--iagan-steps", "-1"], "--iagan-steps"),
    (["--csgm-restarts", "0"], "--csgm-restarts"),
    (["--restarts", "2"], "unrecognized arguments: --restarts"),  # now --csgm-restarts
    (["--best-start"], "unrecognized arguments: --best-start"),  # now --no-csgm-average
    (["--csgm-lr", "0"], "--csgm-lr"),
    (["--csgm-latent-weight", "-1"], "--csgm-latent-weight"),
    (["--method", "dip", "--dip-lr", "nan"], "--dip-lr"),
    (["--method", "dip", "--dip-steps", "0"], "--dip-steps"),
    (["--task", "cs:0.1", "--method", "lasso-dct", "--lasso-dct-iterations", "0"], "--lasso-dct-iterations"),
    (["--task", "cs:0.1", "--method", "lasso-dct", "--lasso-dct-lambda-fraction", "-1"],
     "--lasso-dct-lambda-fraction"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "99999999999999999999"], "--seed"),
    (["--noise", "nan"], "--noise"),
    (["--noise", "inf"], "--noise"),
    (["--noise", "-0.1"], "--noise"),
    (["--task", "cs:0.1", "--method", "bicubic"], "bicubic"),
    (["--task", "blur:-1"], "sigma"),
    (["--task", "cs:abc"], "ratio"),
    (["--task", "dct:1.5"], "ratio"),
    (["--task", "sr1"], "factor"),
    (["--task", "sr5"], "factor"),
    (["--task", "warp"], "unknown task"),
    (["--task", "inpaint", "--method", "pinv", "--size", "4"], "--size"),
    (["--method", "pinv", "--bp"], "--bp"),
    (["--generator", "foo:TEXT"], "unknown generator kind 'foo'"),
    (["--generator", "TEXT"], "notes.txt is not a PyTorch checkpoint"),
    (["--generator", "EMPTY"], "empty.pt is empty"),
    (["--generator", "EVIL"], "evil.pt holds Python objects"),
    (["--generator", "TRUNCATED"], "truncated.pt is truncated or corrupt"),
    (["--generator", "DCGAN_STATE"], "state.pt is not a face64 generator file"),
    (["--generator", "began:GENERATOR"], "gen.pt is not a began checkpoint"),
    (["--generator", "missing.pt"], "no such checkpoint file 'missing.pt'"),
    (["--image", "missing.png"], "no such image file: missing.png"),
    (["--image", "TEXT"], "notes.txt is not an image"),
    (["--image", "BOMB"], "decompression bomb"),
    (["--out", "FACE"], "is a file"),
    (["--out", "TMP"], "--overwrite"),
    (["--task", "cs:0.1", "--method", "iagan", "--iagan-holdout-block", "4"], "held-out blocks need image"),
    (["--method", "iagan", "--iagan-holdout", "1"], "--iagan-holdout"),
    (["--csgm-precision", "float8"], "--csgm-precision"),
    (["--iagan-precision", "float8"], "--iagan-precision"),
]


def _substitute(argv: list[str], files: dict[str, str], tmp_path) -> list[str]:
    """The fixture's paths for the placeholders FACE, TEXT, ... and TMP (also after ``KIND:``)."""
    names = {k.upper(): v for k, v in files.items()} | {"TMP": str(tmp_path)}

    def one(arg: str) -> str:
        kind, sep, rest = arg.partition(":")
        return names.get(arg) or (f"{kind}:{names[rest]}" if sep and rest in names else arg)

    return [one(arg) for arg in argv]


def _argv(extra: list[str], files: dict[str, str], tmp_path) -> list[str]:
    """RECONSTRUCT with ``extra`` (a leading ``--image X`` replaces the image) and a fresh --out."""
    argv = list(RECONSTRUCT)
    if extra[:1] == ["--image"]:
        argv[1], extra = extra[1], extra[2:]
    argv += extra if "--out" in extra else [*extra, "--out", str(tmp_path / "out")]
    return _substitute(argv, files, tmp_path)


@pytest.mark.parametrize("extra, culprit", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_mistakes_are_one_line_exit_2_nothing_written(extra, culprit, files, tmp_path, capsys):
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli(_argv(extra, files, tmp_path), capsys)
    assert code == 2
    assert culprit in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "weights_only" not in err and "mat1" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, not even --out


BENCH_CASES = [
    (["--csgm-steps", "0"], "--csgm-steps"),
    (["--dip-steps", "-3"], "--dip-steps"),
    (["--csgm-restarts", "0"], "--csgm-restarts"),
    (["--iagan-lr-z", "nan"], "--iagan-lr-z"),
    (["--iagan-lr-theta", "-1"], "--iagan-lr-theta"),
    (["--iagan-holdout", "-0.1"], "--iagan-holdout"),
    (["--n-images", "0"], "--n-images"),
    (["--n-images", "5000"], "--n-images 5000"),
    (["--seed", "2.5"], "--seed"),
    (["--shard", "3/2"], "--shard"),
    (["--shard", "two"], "--shard"),
    (["--out", "FACE"], "is a file"),
    (["--generator", "foo:TEXT"], "unknown generator kind"),
    (["--data", "no-such-folder"], "CelebA folder not found"),
    (["--iagan-holdout-block", "100"], "at least 2 measurements (or blocks)"),
]


@pytest.mark.parametrize("extra, culprit", BENCH_CASES, ids=[" ".join(c[0]) for c in BENCH_CASES])
def test_bench_mistakes_are_one_line_exit_2(extra, culprit, files, fake_celeba, tmp_path, capsys):
    argv = ["bench", "inpainting", "--data", str(fake_celeba), "--n-images", "1", "--out", str(tmp_path / "out")]
    code, _, err = run_cli(_substitute(argv + extra, files, tmp_path), capsys)
    assert code == 2
    assert culprit in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


OTHER_CASES = [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--batch-size", "-1"], "--batch-size"),
    (["demo", "--out", "FACE"], "is a file"),
    (["demo", "--out", "FACE/sub"], "cannot be created"),
]


@pytest.mark.parametrize("argv, culprit", OTHER_CASES, ids=[" ".join(c[0]) for c in OTHER_CASES])
def test_train_and_demo_mistakes_are_one_line_exit_2(argv, culprit, files, tmp_path, capsys):
    argv = [files["face"] + a[4:] if a.startswith("FACE") else a for a in argv]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and culprit in err and len(err.strip().splitlines()) == 1, err


def test_help_and_usage_name_the_subcommand(capsys):
    code, out, _ = run_cli(["bench", "--help"], capsys)
    assert code == 0 and "invgen bench NAME" in out and "super-resolution" in out
    code, out, _ = run_cli(["bench", "inpainting", "--help"], capsys)
    assert code == 0 and out.startswith("usage: invgen bench inpainting")
    code, _, err = run_cli(["bench"], capsys)
    assert code == 2 and "name an experiment" in err


# --------------------------------------------------------------------------- images of every mode
def _image(mode: str) -> tuple[Image.Image, float]:
    """A 16×16 image of ``mode`` and the grey level in [0, 1] it should read as."""
    if mode == "1":
        return Image.new("1", (16, 16), 1), 1.0
    if mode == "L":
        return Image.new("L", (16, 16), 51), 0.2
    if mode == "I;16":
        return Image.fromarray(np.full((16, 16), 13107, dtype=np.uint16)), 0.2  # 13107 / 65535
    if mode == "P":
        return Image.new("L", (16, 16), 102).convert("P"), 0.4
    if mode == "RGBA":
        return Image.new("RGBA", (16, 16), (0, 0, 0, 0)), 1.0  # fully transparent: white
    if mode == "CMYK":
        return Image.new("CMYK", (16, 16), (0, 0, 0, 0)), 1.0
    return Image.new("RGB", (16, 16), (51, 51, 51)), 0.2


@pytest.mark.parametrize("mode", ["1", "L", "I;16", "P", "RGBA", "CMYK", "RGB"])
def test_every_image_mode_reads_as_rgb_in_0_1(mode, tmp_path):
    img, level = _image(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    x, notes = decode_image(path)
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    assert torch.allclose(x, torch.full_like(x, level), atol=1 / 255)
    assert (notes == []) == (mode == "RGB")


def test_reconstruct_notes_conversions_and_keeps_same_named_inputs_apart(tmp_path, capsys):
    for folder, mode in [("a", "L"), ("b", "RGBA")]:
        (tmp_path / folder).mkdir()
        Image.new(mode, (20, 16), 200).save(tmp_path / folder / "face.png")
    out = tmp_path / "out"
    argv = ["reconstruct", str(tmp_path / "a" / "face.png"), str(tmp_path / "b" / "face.png"), "--task", "denoise",
            "--method", "pinv", "--size", "16", "--out", str(out), "--quiet"]
    code, stdout, _ = run_cli(argv, capsys)
    assert code == 0
    assert "grey image converted to RGB" in stdout and "resized" not in stdout
    assert "centre-cropped from 20×16" in stdout and "written as face-2" in stdout
    assert {p.name for p in out.glob("*_pinv.png")} == {"face-1_pinv.png", "face-2_pinv.png"}
    # Denoising without noise is exact: PSNR is +inf, written as null (strict JSON).
    text = (out / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert metrics["images"]["face-1"]["psnr"] is None
    assert metrics["images"]["face-2"]["source"].endswith("b/face.png")
    # The same command again resumes: everything is finished, nothing is recomputed.
    code, stdout, _ = run_cli(argv, capsys)
    assert code == 0 and "1 chunk(s) already finished" in stdout and "0 computed" in stdout
    assert json.loads((out / "metrics.json").read_text())["images"] == metrics["images"]
    # Another run into the same folder would overwrite: refused without --overwrite.
    code, _, err = run_cli([*argv, "--seed", "1"], capsys)
    assert code == 2 and "another run's results" in err and "--overwrite" in err
    assert run_cli([*argv, "--seed", "1", "--overwrite"], capsys)[0] == 0


# --------------------------------------------------------------------------- bench: nothing lost or mixed
@pytest.fixture
def fake_celeba(tmp_path):
    return _fake_celeba_folder(tmp_path / "celeba", range(9001, 9003))


def _fake_celeba_folder(root, ids):
    """Random 89×109 JPEGs named like the CelebA photos ``ids``."""
    rng = np.random.default_rng(0)
    root.mkdir()
    for i in ids:
        Image.fromarray(rng.integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(root / f"{i:06d}.jpg")
    return root


def _tiny_bench(fake_celeba, generator: str, *extra: str) -> list[str]:
    return ["bench", "inpainting", "--data", str(fake_celeba), "--n-images", "2", "--generator", generator,
            "--csgm-steps", "1", "--iagan-steps", "1", "--dip-steps", "1", "--ilo-steps", "1", "--dgp-steps", "1",
            "--mganprior-steps", "1", *extra]


def _tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_bench_without_out_leaves_docs_untouched(tmp_path, fake_celeba, files, monkeypatch, capsys):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    committed = tmp_path / "docs" / "results" / "inpainting"
    (committed / "shards").mkdir(parents=True)
    (committed / "results.md").write_text("the committed table\n")
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path / "docs")
    assert run_cli(_tiny_bench(fake_celeba, files["generator"]), capsys)[0] == 0
    assert _tree(tmp_path / "docs") == before
    results = json.loads((tmp_path / "invgen-results" / "inpainting" / "results.json").read_text())
    assert {r["image"] for r in results["records"]} == {9001, 9002}
    assert results["commands"][0].startswith("invgen bench inpainting --data")


def test_bench_refuses_to_mix_settings_before_computing(tmp_path, fake_celeba, files, monkeypatch, capsys):
    monkeypatch.setattr(runner, "lpips_available", lambda: False)
    out = str(tmp_path / "out")
    bench = _tiny_bench(fake_celeba, files["generator"], "--batch-size", "1", "--out", out)
    assert run_cli([*bench, "--shard", "1/2"], capsys)[0] == 0
    chunk = tmp_path / "out" / "chunks" / "inpaint" / "009001-009001.json"
    before = chunk.read_bytes()
    monkeypatch.setattr(runner, "reconstruct_samples", lambda *a, **k: pytest.fail("computed before refusing"))
    code, _, err = run_cli([*bench, "--shard", "2/2", "--csgm-steps", "2", "--seed", "1"], capsys)
    assert code == 2 and "seed: 0 in inpaint/009001-009001.json, 1 in this run" in err
    assert "csgm.steps: 1 in inpaint/009001-009001.json, 2 in this run" in err
    # Other chunks of faces (another --n-images or --batch-size) would mix two runs' faces.
    code, _, err = run_cli([*bench, "--batch-size", "2"], capsys)
    assert code == 2 and "batch_size: 1 in inpaint/009001-009001.json, 2 in this run" in err
    (tmp_path / "out" / "chunks" / "inpaint" / "009002-009002.json").write_text(
        chunk.read_text().replace("9001", "9002"))
    code, _, err = run_cli([*bench[:-4], "--n-images", "1", *bench[-4:]], capsys)
    assert code == 2 and "009002-009002.json" in err and "not a chunk of this run" in err
    # A different task in the same folder is refused too.
    monkeypatch.setattr(runner, "reconstruct_samples", lambda *a, **k: pytest.fail("computed before refusing"))
    code, _, err = run_cli(["bench", "deblurring", *bench[2:]], capsys)
    assert code == 2 and "not a chunk of this run" in err
    assert chunk.read_bytes() == before


def test_merge_refuses_chunks_of_other_settings_or_the_same_faces(tmp_path, capsys):
    folder = tmp_path / "out" / "chunks" / "inpaint"
    folder.mkdir(parents=True)
    config = vars(common.resolve_settings(common.build_parser("inpainting", "x").parse_args([])))
    record = {"task": "inpaint", "noise_std": 0.0, "setting": "inpaint", "method": "pinv", "mse": 0.1, "psnr": 10.0,
              "ssim": 0.5, "image": 9001}

    def write(name, images, config=config, **changes):
        (folder / name).write_text(json.dumps({"command": "x", "config": {**config, **changes}, "setting": "inpaint",
                                               "images": images,
                                               "records": [{**record, "image": i} for i in images]}))

    write("009001-009001.json", [9001])
    write("009002-009002.json", [9002], generator="began:g.pth", **{"iagan.steps": 7})
    merge = ["bench", "inpainting", "--merge", "--out", str(tmp_path / "out")]
    code, _, err = run_cli(merge, capsys)
    assert code == 2 and ("generator: 'default' in inpaint/009001-009001.json, 'began:g.pth' in "
                          "inpaint/009002-009002.json") in err
    assert f"iagan.steps: {Budget().of('iagan').steps} in inpaint/009001-009001.json, 7 in" in err
    write("009002-009002.json", [9001, 9002])
    code, _, err = run_cli(merge, capsys)
    assert code == 2 and "both hold face 009001 of inpaint" in err
    # A chunk of an older invgen (flat settings such as "iagan_steps", no "iagan.steps") is refused, not guessed.
    older = {k: v for k, v in config.items() if "." not in k} | {"csgm_steps": 1600, "iagan_steps": 500}
    write("009002-009002.json", [9002], config=older)
    code, _, err = run_cli(merge, capsys)
    assert code == 2 and "made by an older invgen records no" in err and "csgm.steps" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out" / "results.json").exists()


def test_bench_names_a_broken_face_or_chunk_file(tmp_path, fake_celeba, files, capsys):
    (tmp_path / "out" / "chunks" / "inpaint").mkdir(parents=True)
    (tmp_path / "out" / "chunks" / "inpaint" / "009001-009002.json").write_text("{ not json")
    code, _, err = run_cli(["bench", "inpainting", "--merge", "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "009001-009002.json is not a chunk file" in err
    (fake_celeba / "009002.jpg").write_text("not a jpeg")
    code, _, err = run_cli(_tiny_bench(fake_celeba, files["generator"], "--out", str(tmp_path / "out2")), capsys)
    assert code == 2 and "009002.jpg is not an image" in err and len(err.strip().splitlines()) == 1


def test_undefined_scores_are_null_in_results(tmp_path):
    records = [{"setting": "denoise", "task": "denoise", "noise_std": 0.0, "method": "pinv", "mse": 0.0,
                "psnr": psnr, "ssim": 1.0} for psnr in (None, 30.0)]
    row = summarise(records)[0]
    assert math.isnan(row["psnr"]) and row["ssim"] == 1.0
    assert "| denoise | pinv | 2 | 0.00000 | n/a ± n/a | 1.000 |" in markdown_table([row])
    write_json(tmp_path / "r.json", {"summary": [row]})
    assert json.loads((tmp_path / "r.json").read_text())["summary"][0]["psnr"] is None


# --------------------------------------------------------------------------- API, table-driven
SHAPE = (1, 8, 8)


def _y(A, value=0.5):
    return torch.full((2, *A.out_shape), value)


API_CASES = [
    ("pinv of NaN y", lambda G: Identity(SHAPE).pinv(_y(Identity(SHAPE), math.nan)), ValueError, "NaN"),
    ("pinv eps=nan", lambda G: Identity(SHAPE).pinv(_y(Identity(SHAPE)), eps=math.nan), ValueError, "eps"),
    ("pinv eps<0", lambda G: Mask.random(SHAPE, 0.5).pinv(_y(Identity(SHAPE)), eps=-1.0), ValueError, "eps"),
    ("float16 x", lambda G: SuperResolution(SHAPE, 2)(torch.zeros(1, *SHAPE, dtype=torch.float16)), TypeError,
     "float32"),
    ("int y", lambda G: Identity(SHAPE).adjoint(torch.zeros(1, *SHAPE, dtype=torch.int64)), TypeError, "float64"),
    ("csgm lr=nan", lambda G: csgm(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16), G,
                                   CSGMSettings(steps=1, lr=math.nan), progress=False), ValueError, "lr"),
    ("csgm steps=0", lambda G: csgm(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16), G, CSGMSettings(steps=0),
                                    progress=False), ValueError, "steps"),
    ("csgm restarts=0", lambda G: csgm(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16), G,
                                       CSGMSettings(restarts=0), progress=False), ValueError, "restarts"),
    ("csgm average=1", lambda G: CSGMSettings(average=1), ValueError, "average must be True or False"),
    ("csgm precision", lambda G: CSGMSettings(precision="float8"), ValueError, "precision must be one of"),
    ("csgm noise=inf", lambda G: csgm(ForwardModel(Identity((1, 16, 16)), sigma=math.inf),
                                      torch.zeros(1, 1, 16, 16), G, progress=False), ValueError, "sigma"),
    ("csgm of no operator", lambda G: csgm("sr4", torch.zeros(1, 1, 16, 16), G, progress=False), TypeError,
     "expected a ForwardModel or an invgen LinearOperator, got str"),
    ("csgm z_init shape", lambda G: csgm(Identity((1, 16, 16)), torch.zeros(2, 1, 16, 16), G,
                                         CSGMSettings(steps=1, restarts=2), z_init=torch.zeros(2, 1, LATENT),
                                         progress=False), ValueError, r"z_init must have shape.*\(2, 2, 4\)"),
    ("iagan lr_theta=inf", lambda G: iagan(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16), G,
                                           Estimates(torch.zeros(1, 1, 1, 16, 16), z=torch.zeros(1, 1, LATENT)),
                                           IAGANSettings(lr_theta=math.inf), progress=False),
     ValueError, "lr_theta"),
    ("iagan holdout=1", lambda G: IAGANSettings(holdout=1.0), ValueError, "holdout must be a number in"),
    ("iagan start without latents", lambda G: iagan(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16), G,
                                                    Estimates.single(torch.zeros(1, 1, 16, 16)), progress=False),
     ValueError, "start must be the latent search's estimates"),
    ("dip lr=0", lambda G: dip(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16), DIPSettings(lr=0.0),
                               progress=False), ValueError, "lr"),
    ("lasso iterations=0", lambda G: lasso_dct(Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16),
                                               LassoDCTSettings(iterations=0), progress=False), ValueError,
     "iterations"),
    ("prior z_init NaN", lambda G: GenerativePrior(G, 1, lr=0.1, z_init=torch.full((1, LATENT), math.nan)),
     ValueError, "z_init"),
    ("wrong resolution", lambda G: csgm(Identity((1, 32, 32)), torch.zeros(1, 1, 32, 32), G, CSGMSettings(steps=1),
                                        progress=False), ValueError, "Sequential, latent_dim=4"),
    ("back_project batch", lambda G: back_project(Identity(SHAPE), torch.zeros(2, *SHAPE), torch.zeros(3, *SHAPE)),
     ValueError, "estimate x"),
    ("wrong latent size", lambda G: wrap(_tiny_network(), 6), ValueError, "latents of shape \\(B, 6\\); its first layer takes 4 features"),
    ("z dtype", lambda G: G(torch.zeros(1, LATENT, dtype=torch.float64)), TypeError, "float64"),
    ("holdout blocks of vectors", lambda G: reconstruct_mean(
        GaussianCS((1, 16, 16), 64), torch.zeros(1, 64), ["csgm", "iagan"], G,
        budget=Budget(iagan=IAGANSettings(holdout_block=4)), progress=False), ValueError, "held-out blocks need image"),
    ("budget of an unknown method", lambda G: Budget(magic=CSGMSettings()), TypeError, "unknown method 'magic'"),
    ("budget of other settings", lambda G: Budget(iagan=CSGMSettings()), TypeError,
     "iagan takes a IAGANSettings, got CSGMSettings"),
    ("budget of an unknown method's", lambda G: Budget().of("magic"), KeyError, "unknown method 'magic'"),
    ("budget changed in place", lambda G: setattr(Budget(), "csgm", CSGMSettings()), AttributeError,
     r"immutable; use budget.replace\(csgm=...\)"),
    ("psnr NaN", lambda G: psnr(torch.full((1, *SHAPE), math.nan), torch.zeros(1, *SHAPE)), ValueError, "x contains"),
]


@pytest.mark.parametrize("call, error, culprit", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_mistakes_raise_named_errors(call, error, culprit, G):
    with pytest.raises(error, match=culprit) as info:
        call(G)
    assert "mat1" not in str(info.value)


@pytest.mark.parametrize("name", ["text", "empty", "evil", "truncated", "dcgan_state"])
def test_checkpoints_that_are_not_name_the_file(name, files):
    with pytest.raises(CheckpointMismatchError) as info:
        load_generator(files[name])
    message = str(info.value).splitlines()[0]
    assert files[name] in message and "expected" in message and "weights_only" not in str(info.value)


def test_wrap_warns_when_the_output_range_is_not_the_networks():
    with pytest.warns(UserWarning, match=r"output_range=\(-1.0, 1.0\).*\(0, 1\) for a sigmoid"):
        wrap(_tiny_network(nn.Sigmoid()), LATENT)
    with pytest.warns(UserWarning, match="output_range"):
        wrap(_tiny_network(nn.Identity()), LATENT, output_range=(0.0, 0.001))


# --------------------------------------------------------------------------- hypothesis: NaN/inf never spread
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
OPERATORS = [Identity(SHAPE), Mask.random(SHAPE, 0.5), GaussianCS(SHAPE, 20), SubsampledDCT(SHAPE, 20),
             SuperResolution(SHAPE, 2)]


@settings(max_examples=30, deadline=None)
@given(op=st.sampled_from(OPERATORS), bad=NON_FINITE, where=st.integers(0, 10**6), dtype=st.sampled_from(
    [torch.float32, torch.float64]))
def test_non_finite_measurements_are_refused(op, bad, where, dtype):
    y = op(torch.rand(2, *SHAPE, dtype=dtype))
    y.view(-1)[where % y.numel()] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        op.pinv(y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        back_project(op, y, torch.zeros(2, *SHAPE, dtype=dtype))


HYPER_PARAMETERS = {
    "csgm": ["lr", "steps", "restarts", "latent_weight"],
    "iagan": ["lr_z", "lr_theta", "steps", "holdout", "holdout_block"],
    "dip": ["lr", "steps", "input_noise", "channels", "depth"],
    "lasso-dct": ["lambda_fraction", "iterations"],
}


def _solve(method: str, G, **setting):
    A, y = Identity((1, 16, 16)), torch.zeros(1, 1, 16, 16)
    if method == "csgm":
        return csgm(A, y, G, CSGMSettings(**setting), progress=False)
    if method == "iagan":
        start = Estimates(torch.zeros(1, 1, 1, 16, 16), z=torch.zeros(1, 1, LATENT))
        return iagan(A, y, G, start, IAGANSettings(**setting), progress=False)
    if method == "dip":
        return dip(A, y, DIPSettings(**setting), progress=False)
    return lasso_dct(A, y, LassoDCTSettings(**setting), progress=False)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), method=st.sampled_from(sorted(HYPER_PARAMETERS)),
       value=st.one_of(NON_FINITE, st.sampled_from([-1.0, -5, 0]), st.booleans()))
def test_non_finite_or_out_of_range_hyper_parameters_are_refused(data, method, value, G):
    name = data.draw(st.sampled_from(HYPER_PARAMETERS[method]))
    zero_is_valid = ("latent_weight", "holdout", "holdout_block", "input_noise")
    if value == 0 and not isinstance(value, bool) and name in zero_is_valid:
        return  # no latent penalty, nothing held out, squares chosen from the operator, a fixed input: valid
    with pytest.raises(ValueError, match=name):
        _solve(method, G, **{name: value})
    with pytest.raises(ValueError, match=name):  # the same check where budgets are read from result files
        Budget.from_flat({f"{method}.{name}": value})


@pytest.fixture
def fake_train(tmp_path):
    return _fake_celeba_folder(tmp_path / "train", range(1, 5))


TRAIN_CASES = [
    (["--max-images", "9001"], "--max-images"),
    (["--max-images", "4"], "--batch-size"),
    (["--max-images", "4", "--batch-size", "2", "--recipe", "recon"], "--init"),
    (["--max-images", "4", "--batch-size", "2", "--recipe", "recon", "--init", "FACE"], "face"),
    (["--max-images", "4", "--batch-size", "2", "--out", "FACE"], "is a file"),
    # A flag the recipe does not use is refused, never ignored.
    (["--recipe", "recon", "--init", "GENERATOR", "--latent-dim", "8"], "--latent-dim is not a setting of --recipe recon"),
    (["--recipe", "encoder", "--init", "GENERATOR", "--width", "4"], "--width is not a setting of --recipe encoder"),
    (["--adv-weight", "0.1"], "--adv-weight is not a setting of --recipe gan"),
    (["--pixel-loss", "laplacian-l1"], "--pixel-loss is not a setting of --recipe gan"),
    (["--recipe", "encoder", "--init", "GENERATOR", "--perceptual-weight", "1"], "--perceptual-weight"),
    (["--recipe", "encoder", "--init", "GENERATOR", "--lr-latent", "0.1"], "--lr-latent"),
    (["--init", "GENERATOR"], "--init is the generator of --recipe recon or encoder"),
]


@pytest.mark.parametrize("extra, culprit", TRAIN_CASES, ids=[" ".join(c[0]) for c in TRAIN_CASES])
def test_train_checks_its_data_and_files_before_loading_images(extra, culprit, files, fake_train, tmp_path, capsys,
                                                               monkeypatch):
    from invgen.app import train_command

    monkeypatch.setattr(train_command, "load_celeba", lambda *a, **k: pytest.fail("loaded images before refusing"))
    argv = ["train", "--data", str(fake_train), "--out", str(tmp_path / "run"),
            *[files[a.lower()] if a in ("FACE", "GENERATOR") else a for a in extra]]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and culprit in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()
