"""``invgen reconstruct``: simulated or measured images through one method, in chunks.

The images go through the method ``--batch-size`` at a time, in the order given (chunks of
the global list, :mod:`invgen.app.parallel`), so memory stays flat however many there are.
Each chunk writes, per image, its estimate and pictures and then its record
``OUT/records/NAME.json`` (atomically: a record on disk is a finished image); at the end
``metrics.json`` merges the records. ``OUT/run.json`` says which command the folder holds: the
same command started again (after a kill, a crash, Ctrl-C) skips the finished chunks and
computes the rest. Under ``torchrun`` each process takes its share of the chunks and rank 0
merges when all are done; ``--shard I/N`` runs one share (merge with ``--merge``). Image
``i``'s noise is seeded by ``seed·100003 + i``, so a chunk computes the same numbers in any
process.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import torch

from invgen.app.arguments import UsageError, add_method_arguments, budget_from, check_output_folder
from invgen.app.arguments import nonnegative_float, positive_int
from invgen.app.inputs import (
    MIN_SIZE,
    check_measured_flags,
    measured_boundary,
    measured_inputs,
    output_names,
    simulated_inputs,
)
from invgen.app.parallel import Team, chunk_ranges, join, run_share
from invgen.app.scoring import SCORE_HEAD, evaluate, score_line
from invgen.app.tasks import TASK_HELP, parse_task
from invgen.data import save_image
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.generators import CheckpointMismatchError, load_generator
from invgen.generators.encoder import ENCODER_HELP, load_encoder_spec
from invgen.generators.spec import SPEC_HELP, UnknownGeneratorKind
from invgen.metrics import consistency
from invgen.solvers import METHODS, reconstruct_samples, restart_spread
from invgen.solvers.pipeline import check_methods

DESCRIPTION = ("Simulate y = A x (+ noise) from each IMAGE and reconstruct x; with --measured, each IMAGE is y "
               "itself\n(a low-resolution, blurred, damaged or noisy photo) and there is no truth to score against.\n"
               "Images go through in chunks of --batch-size, each chunk's results written as it finishes; the same "
               "command\nstarted again resumes. Under torchrun (torchrun --nproc_per_node=N -m invgen reconstruct ...) "
               "the processes share the chunks.\n"
               f"tasks: {TASK_HELP}")
BOOKKEEPING = ("key", "chunk", "chunk_seconds")  # what a record holds beside the image's results


def add_arguments(rec: argparse.ArgumentParser) -> None:
    rec.add_argument("images", nargs="+", metavar="IMAGE")
    rec.add_argument("--task", required=True, help=TASK_HELP)
    rec.add_argument("--method", required=True, choices=list(METHODS),
                     help="; ".join(f"{name}: {m.summary}" for name, m in METHODS.items()).replace("%", "%%"))
    rec.add_argument("--bp", action="store_true", help="back-project the estimate onto {x : Ax = y} (methods: "
                     f"{', '.join(name for name, m in METHODS.items() if m.back_projectable)})")
    rec.add_argument("--noise", type=nonnegative_float, default=0.0, metavar="SIGMA",
                     help="std of Gaussian noise added to y (images in [0, 1]); with --measured, the noise level "
                          "of your images (none is added)")
    rec.add_argument("--measured", action="store_true",
                     help="each IMAGE is a measurement y (srF: the low-resolution image, the estimate is F× larger; "
                          "blur, inpaint, denoise: the photo); writes the estimate, A x̂ and ‖A x̂ − y‖/‖y‖")
    rec.add_argument("--mask", metavar="MASK.png",
                     help="inpaint: your mask, white = known, black = missing; with --measured the photo's holes, "
                          "otherwise the pixels each image keeps in the simulated y (the mask has the images' size: "
                          "the generator's, or --size)")
    rec.add_argument("--kernel", metavar="K.npy|K.png",
                     help="blur: your blur kernel (2-D, ≥ 0), normalised to sum 1; centre tap at (kh//2, kw//2)")
    rec.add_argument("--resize", action="store_true",
                     help="resize images that do not fit the generator (and, --measured, the mask) instead of "
                          "refusing them; without it a simulated input smaller than the generator is refused")
    rec.add_argument("--generator", default="default", help=SPEC_HELP)
    rec.add_argument("--encoder", default="none", help=ENCODER_HELP)
    add_method_arguments(rec)
    rec.add_argument("--size", type=positive_int, default=64,
                     help=f"image size for methods without a generator (≥ {MIN_SIZE}; simulated inputs)")
    rec.add_argument("--batch-size", type=positive_int, default=16,
                     help="images reconstructed together, a chunk (default %(default)s; memory grows with it)")
    rec.add_argument("--shard", default=None, metavar="I/N",
                     help="run only the I-th of N shares of the chunks (array jobs; torchrun needs none)")
    rec.add_argument("--merge", action="store_true", help="only merge the records of OUT into metrics.json")
    rec.add_argument("--out", default="invgen-out", help="folder for the results (empty, this command's, or "
                                                        "--overwrite)")
    rec.add_argument("--overwrite", action="store_true", help="replace files of another run in --out")


def generator_flag(spec: str, device: torch.device):
    """The generator of ``--generator spec`` on ``device``; :class:`UsageError` naming the flag."""
    try:
        return load_generator(spec).to(device)
    except (FileNotFoundError, CheckpointMismatchError, UnknownGeneratorKind) as err:
        raise UsageError(f"--generator {spec}: {str(err).splitlines()[0]}") from None


def encoder_flag(spec: str, generator_spec: str, G, device: torch.device):
    """The encoder of ``--encoder`` for the generator ``G``, on ``device`` (``None`` for 'none')."""
    try:
        encoder = load_encoder_spec(spec)
    except (FileNotFoundError, CheckpointMismatchError) as err:
        raise UsageError(f"--encoder {spec}: {str(err).splitlines()[0]}") from None
    if encoder is not None and encoder.latent_dim != G.latent_dim:
        raise UsageError(f"--encoder {spec} makes latents of size {encoder.latent_dim}, but --generator "
                         f"{generator_spec} takes {G.latent_dim}: pass the encoder trained with that generator, "
                         "or --encoder none")
    return None if encoder is None else encoder.to(device)


def run_identity(args: argparse.Namespace, method: str) -> dict:
    """What makes two runs the same computation (a resumed run must be): the images and every
    setting that changes a result; not the device, the shard or how many processes run."""
    return {"images": [str(p) for p in args.images], "task": args.task, "method": method, "noise_std": args.noise,
            "budget": budget_from(args).flat(), "seed": args.seed, "generator": args.generator,
            "encoder": args.encoder, "measured": args.measured, "mask": args.mask, "kernel": args.kernel,
            "resize": args.resize, "size": args.size, "batch_size": args.batch_size}


def run_key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def check_reconstruct(args: argparse.Namespace) -> tuple[str, Path, dict]:
    """Every check of ``invgen reconstruct`` that needs no image or generator: the method,
    the task and their pairing, the image size, and ``--out`` (empty, holding this very
    command's run, or ``--overwrite``). Returns the method name (with ``-bp``), the output
    folder and the run's identity; :class:`UsageError` otherwise."""
    method = args.method + ("-bp" if args.bp else "")
    if args.bp and not METHODS[args.method].back_projectable:
        raise UsageError(f"--bp does not apply to {args.method}; back-projectable methods: "
                         f"{', '.join(name for name, m in METHODS.items() if m.back_projectable)}")
    try:
        kind, _ = parse_task(args.task)
    except ValueError as err:
        raise UsageError(f"--task: {err}") from None
    if args.method == "bicubic" and kind != "sr":
        raise UsageError(f"--method bicubic upsamples a low-resolution image: it needs a super-resolution "
                         f"task (srF, e.g. sr4), got --task {args.task}")
    if args.size < MIN_SIZE:
        raise UsageError(f"--size must be ≥ {MIN_SIZE} (SSIM's window), got {args.size}")
    check_measured_flags(args, kind)
    out, identity = check_output_folder(args.out), run_identity(args, method)
    earlier = _read_json(out / "run.json")
    if args.merge and earlier != identity:
        raise UsageError(f"--merge: --out {out} holds no run of this command; run it first (with the same arguments)")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite and earlier != identity:
        why = "holds another run's results" if earlier is not None else "is not empty"
        raise UsageError(f"--out {out} {why}; pass --overwrite to replace files there, or choose a new folder "
                         "(the same command started again resumes)")
    return method, out, identity


def _read_json(path: Path) -> dict | None:
    """A JSON object written by invgen, ``None`` when there is none (or it is not one)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def cmd_reconstruct(args: argparse.Namespace) -> None:
    method, out, identity = check_reconstruct(args)
    key, names = run_key(identity), output_names(args.images)
    if args.merge:
        merge(args, method, names, key, out)
        return
    team = join(args.shard, args.device)
    device = team.device(args.device)
    G = generator_flag(args.generator, device) if METHODS[args.method].needs_generator else None
    inputs = (measured_inputs if args.measured else simulated_inputs)(args, names, G, verbose=team.lead)
    A = inputs.A.to(device)
    model = ForwardModel(A, sigma=args.noise)  # with --measured, the noise is already in y
    budget = budget_from(args)
    try:
        check_methods(A, [method], budget, G)
    except ValueError as err:
        raise UsageError(f"--method {args.method}: {err}") from None
    encoder = encoder_flag(args.encoder, args.generator, G, device) if G is not None else None
    team.barrier()  # every process checked everything before anything is written
    if team.lead or not team.joined:
        write_json(out / "run.json", identity)
    chunks = chunk_ranges(len(names), args.batch_size)

    def work(chunk: range) -> None:
        paths = [args.images[i] for i in chunk]
        images = inputs.batch(paths, device)
        y = images if args.measured else model.measure(images, seeds=[args.seed * 100003 + i for i in chunk])
        t0 = time.time()
        samples = reconstruct_samples(model, y, [method], G, encoder=encoder, budget=budget, seed=args.seed,
                                      progress=not args.quiet)[method].x
        seconds = time.time() - t0
        check_estimates(samples, [names[i] for i in chunk], method)
        write = write_measured if args.measured else write_simulated
        scores = write(A, images, y, samples, [names[i] for i in chunk], method, out)
        for i, score in zip(chunk, scores):
            write_json(out / "records" / f"{names[i]}.json", {"key": key, "chunk": chunks.index(chunk),
                                                              "chunk_seconds": seconds, "source": args.images[i],
                                                              **score})
        if len(chunks) > 1 or team.world > 1:
            print(f"{_where(team)}images {chunk.start + 1}–{chunk.stop} of {len(names)}: {seconds:.1f} s", flush=True)

    def done(chunk: range) -> bool:
        return all(_record(out, names[i], key) is not None for i in chunk)

    def describe(chunk: range) -> str:
        return f"images {chunk.start + 1}–{chunk.stop} of {len(names)} ({', '.join(args.images[i] for i in chunk)})"

    computed, skipped = run_share(team, chunks, done, work, describe)
    if skipped:
        print(f"{_where(team)}resumed: {skipped} chunk(s) already finished in {out}, {computed} computed")
    team.barrier()
    if team.merges:
        merge(args, method, names, key, out)
    elif team.lead or not team.joined:
        print(f"shard {args.shard} done; once every shard has run, merge with the same command and --merge")
    team.close()


def check_estimates(samples: torch.Tensor, names: list[str], method: str) -> None:
    """``ValueError`` naming the images whose estimates hold NaN or infinite values, raised
    before any file of the chunk is written (a half-black PNG must not pass for a result)."""
    bad = [f"{name} ({count} values)" for name, count in zip(names, (~samples.isfinite()).flatten(1).sum(1).tolist())
           if count]
    if bad:
        raise ValueError(f"{method} made NaN or infinite estimates of {', '.join(bad)}; nothing of their chunk "
                         "was written")


def _where(team: Team) -> str:
    return f"[rank {team.rank}] " if team.world > 1 else ""


def _record(out: Path, name: str, key: str) -> dict | None:
    """The record of image ``name`` if this run (``key``) finished it."""
    record = _read_json(out / "records" / f"{name}.json")
    return record if record is not None and record.get("key") == key else None


def save_atomic(x: torch.Tensor, path: Path) -> None:
    """:func:`~invgen.data.save_image` through a temporary file, so a killed run leaves no half image."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    save_image(x, tmp)
    os.replace(tmp, path)


def write_spread(samples: torch.Tensor, path: Path) -> dict:
    """For ``K > 1`` estimates ``(K, C, H, W)`` of one image (the restarts that were averaged):
    their :func:`~invgen.solvers.restart_spread`, written to ``path`` as a grey image scaled to
    its largest value (white: where the restarts disagree most; a lower bound on the
    uncertainty, not an error bar); returns that value and the mean, ``{}`` for one estimate."""
    if len(samples) < 2:
        return {}
    spread = restart_spread(samples[None])
    top = spread.max().item()
    save_atomic(spread / top if top > 0 else spread, path)
    return {"restart_spread_max": top, "restart_spread_mean": spread.mean().item(), "restart_spread_image": path.name}


def write_simulated(A, truth: torch.Tensor, y: torch.Tensor, samples: torch.Tensor, names: list[str], method: str,
                    out: Path) -> list[dict]:
    """Each image's truth, measurement (or its pseudo-inverse) and estimate, and its scores."""
    x_hat = samples.mean(1)
    viz = y if len(A.out_shape) == 3 else A.pinv(y)
    scores = []
    for i, name in enumerate(names):
        save_atomic(truth[i], out / f"{name}_truth.png")
        save_atomic(viz[i], out / f"{name}_measurement.png")
        save_atomic(x_hat[i], out / f"{name}_{method}.png")
        spread = write_spread(samples[i], out / f"{name}_{method}_restart_spread.png")
        scores.append({**evaluate({method: x_hat[i : i + 1]}, truth[i : i + 1])[method], **spread})
    return scores


def write_measured(A, measured: torch.Tensor, y: torch.Tensor, samples: torch.Tensor, names: list[str], method: str,
                   out: Path) -> list[dict]:
    """With no truth to score against: each estimate, the measurement y and the re-measured
    estimate A x̂ beside it, and the consistency ‖A x̂ − y‖/‖y‖."""
    x_hat = samples.mean(1)
    remeasured, score = A(x_hat), consistency(A, x_hat, y)
    scores = []
    for i, name in enumerate(names):
        save_atomic(y[i], out / f"{name}_measured.png")
        save_atomic(remeasured[i], out / f"{name}_{method}_remeasured.png")
        save_atomic(x_hat[i], out / f"{name}_{method}.png")
        spread = write_spread(samples[i], out / f"{name}_{method}_restart_spread.png")
        scores.append({"consistency": score[i].item(), "measured_size": list(y.shape[-2:]),
                       "estimate_size": list(x_hat.shape[-2:]), **spread})
    return scores


def merge(args: argparse.Namespace, method: str, names: list[str], key: str, out: Path) -> None:
    """``metrics.json`` from every image's record (:class:`UsageError` while some are
    missing), and its table; ``seconds`` is the reconstruction time summed over the chunks."""
    records = {name: _record(out, name, key) for name in names}
    missing = [name for name, record in records.items() if record is None]
    if missing:
        raise UsageError(f"--merge: {len(missing)} of {len(names)} images have no result in {out} yet "
                         f"(first: {missing[0]}); run the missing shards first")
    seconds = sum({r["chunk"]: r["chunk_seconds"] for r in records.values()}.values())
    per_image = {name: {k: v for k, v in r.items() if k not in BOOKKEEPING} for name, r in records.items()}
    run = {"task": args.task, "method": method, "noise_std": args.noise, "budget": budget_from(args).flat(),
           "seconds": seconds, "batch_size": args.batch_size}
    if args.measured:
        run.update(measured=True, boundary=measured_boundary(args.task), mask=args.mask, kernel=args.kernel)
    write_json(out / "metrics.json", {**run, "images": per_image})
    spread = any("restart_spread_image" in r for r in per_image.values())
    maps = (f", restart spread maps (*_{method}_restart_spread.png: where its starts disagree, a lower bound on "
            "the uncertainty)" if spread else "")
    if args.measured:
        print(f"\n{args.task}, {method} on measured images (no truth: consistency ‖A x̂ − y‖/‖y‖), {seconds:.1f} s")
        print(f"{'image':<16} {'size':>9} {'consistency':>12}")
        for name, m in per_image.items():
            size = "×".join(str(s) for s in reversed(m["estimate_size"]))
            print(f"{name:<16} {size:>9} {m['consistency']:>12.4f}")
        print(f"\nwrote estimates{maps}, measured and re-measured images (NAME_measured.png, "
              f"NAME_{method}_remeasured.png) and metrics.json to {out}/")
        return
    print(f"\n{args.task}, {method} (scored against the input image), {seconds:.1f} s")
    print(f"{'image':<16} {SCORE_HEAD}")
    for name, m in per_image.items():
        print(score_line(name, m))
    print(f"\nwrote estimates{maps}, measurement visualisations and metrics.json to {out}/")
