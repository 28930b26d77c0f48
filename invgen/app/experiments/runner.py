"""The experiments' runner: before any computation, the checks that nothing in ``OUT`` would be
mixed or replaced; then every setting and method on this process's chunks of faces, each
chunk's records written when it finishes (:mod:`~invgen.app.experiments.chunks`)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from invgen.app.arguments import UsageError, check_output_folder
from invgen.app.celeba import CELEBA_CROP, celeba_paths
from invgen.app.experiments.chunks import (
    chunk_files,
    chunk_path,
    chunk_settings,
    compared,
    differences,
    name_of,
    read_chunk,
)
from invgen.app.parallel import Team, chunk_ranges, run_share
from invgen.app.tasks import make_operator
from invgen.data import read_image
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.generators import load_generator
from invgen.generators.encoder import load_encoder_spec
from invgen.metrics import backbone_checkpoint, lpips, lpips_available, scores
from invgen.solvers import Budget, Estimates, reconstruct_samples, restart_spread
from invgen.solvers.pipeline import check_methods

if TYPE_CHECKING:
    from invgen.app.experiments.common import Setting

# The example panels: the first faces of each setting's first chunk.
EXAMPLE_FACES = 4


def face_chunks(args: argparse.Namespace) -> tuple[list[Path], list[list[int]]]:
    """The faces of the run (the first ``--n-images`` of the val split) and their chunks of
    ``--batch-size``, as CelebA ids; ``UsageError`` when the split has not that many."""
    try:
        paths = celeba_paths(args.data, "val", args.n_images)
    except ValueError as err:
        raise UsageError(f"--n-images {args.n_images}: {err}") from None
    ids = [int(p.stem) for p in paths]
    return paths, [[ids[i] for i in chunk] for chunk in chunk_ranges(len(ids), args.batch_size)]


def check_out(args: argparse.Namespace, settings: list[Setting]) -> None:
    """Refuse (:class:`UsageError`), before any computation, a bad ``--n-images`` and a run
    whose results would mix with others in ``OUT``: chunk files made with other
    :func:`~invgen.app.experiments.chunks.compared` settings, or that are not chunks of this run
    (other tasks or noise levels, other ``--n-images`` or ``--batch-size``)."""
    _, chunks = face_chunks(args)
    out = check_output_folder(args.out)
    if any((out / "shards").glob("shard_*.json")):
        raise UsageError(f"--out {out} holds shard files of an older invgen (shards/); choose another --out")
    this = {key: vars(args)[key] for key in compared()}
    units = {chunk_path(out, s.name, ids) for s in settings for ids in chunks}
    for path in chunk_files(out):
        chunk = read_chunk(path)
        differ = differences(chunk_settings(chunk), name_of(path), this, "this run")
        if differ:
            raise UsageError(f"--out {out} holds {name_of(path)}, made with other settings ({differ}); "
                             "merging them would mix two experiments — choose another --out")
        if path not in units:
            raise UsageError(f"--out {out} holds {name_of(path)} ({chunk['setting']}, faces {chunk['images'][0]:06d}–"
                             f"{chunk['images'][-1]:06d}), not a chunk of this run (its tasks, --n-images "
                             f"{args.n_images} and --batch-size {args.batch_size}) — choose another --out")


def uncertainty_scores(samples: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
    """For ``K > 1`` estimates per image, ``(B, K, C, H, W)``, averaged into the estimate:
    ``spread``, the mean over pixels of their :func:`~invgen.solvers.restart_spread`, and ``spread_error_r``, the Pearson correlation over the pixels of
    that spread map with the error map ``|mean − truth|`` (same reduction) — how well the
    uncertainty map points at the errors (1: perfectly). ``(B,)`` each."""
    spread = restart_spread(samples).flatten(1)
    error = (samples.mean(1) - truth).square().mean(1).sqrt().flatten(1)
    s, e = spread - spread.mean(1, keepdim=True), error - error.mean(1, keepdim=True)
    r = (s * e).sum(1) / (s.norm(dim=1) * e.norm(dim=1))
    return {"spread": spread.mean(1), "spread_error_r": r}


def records_for(setting: Setting, ids: list[int], truth: torch.Tensor, samples: dict[str, Estimates],
                 seconds: float, with_lpips: bool) -> list[dict]:
    """One record per face and method: its scores (:func:`invgen.metrics.scores`,
    LPIPS where it runs, the restarts' spread where several were averaged), its ``seconds``
    per face (the run it continues included) and the chunk's ``batch_seconds`` for all methods."""
    records = []
    for method, estimates in samples.items():
        starts = estimates.x
        x = starts.mean(1)
        values = scores(x, truth)
        if with_lpips:
            values["lpips"] = lpips(x, truth)
        if starts.shape[1] > 1:
            values.update(uncertainty_scores(starts, truth))
        for k, image_id in enumerate(ids):
            records.append({"setting": setting.name, "task": setting.task, "noise_std": setting.noise_std,
                            "image": image_id, "method": method,
                            **{key: v[k].item() for key, v in values.items()},
                            "seconds": estimates.seconds / len(ids), "batch_seconds": seconds})
    return records


def run(args: argparse.Namespace, settings: list[Setting], methods: list[str], command: str, team: Team) -> None:
    """Reconstruct this process's chunks of faces for every setting with its methods (names
    of :func:`invgen.solvers.reconstruct_samples`; :meth:`Setting.methods_for`), skipping the
    chunks on disk; each chunk file records ``command``."""
    device = team.device(args.device)
    paths, chunks = face_chunks(args)
    by_id = {int(p.stem): p for p in paths}
    G = load_generator(args.generator).to(device)
    size = G.image_shape()[-1]
    if size != CELEBA_CROP[2] and team.lead:
        print(f"faces resized from the {CELEBA_CROP[2]}×{CELEBA_CROP[2]} CelebA window to the generator's {size}×{size}")

    def faces(ids: list[int]) -> torch.Tensor:
        return torch.stack([read_image(by_id[i], crop=CELEBA_CROP, size=size) for i in ids]).to(device)

    try:  # every face decoded once before any computation; each chunk reads its own again
        for ids in chunks:
            faces(ids)
    except ValueError as err:  # a face that does not decode, or is smaller than the CelebA window
        raise UsageError(f"--data: {err}") from None
    budget = Budget.from_flat(vars(args))
    encoder = load_encoder_spec(args.encoder)
    encoder = None if encoder is None else encoder.to(device)
    with_lpips = lpips_available()
    if not with_lpips and team.lead:
        print(f"no LPIPS column: its backbone weights are not at {backbone_checkpoint('alex')} "
              "(see invgen.metrics.lpips)", flush=True)
    models = [ForwardModel(make_operator(setting.task, (3, size, size), seed=args.seed).to(device),
                           sigma=setting.noise_std) for setting in settings]
    for setting, model in zip(settings, models):  # every setting checked before any computation
        try:
            check_methods(model.A, setting.methods_for(methods), budget, G)
        except ValueError as err:
            raise UsageError(f"[{setting.name}] {err}") from None

    def work(ids: list[int]) -> None:
        truth = faces(ids)
        for setting, model in zip(settings, models):
            path = chunk_path(args.out, setting.name, ids)
            if path.is_file():
                continue
            # Noise is seeded by the image id: the same face sees the same noise in every chunk and process.
            y = model.measure(truth, seeds=[args.seed * 100003 + i for i in ids])
            print(f"[{setting.name}] faces {ids[0]:06d}–{ids[-1]:06d}", flush=True)
            t0 = time.time()
            samples = reconstruct_samples(model, y, setting.methods_for(methods), G, encoder=encoder, budget=budget,
                                          seed=args.seed)
            seconds = time.time() - t0
            if ids == chunks[0]:
                write_examples(path.with_suffix(".examples.pt"), model, y, truth,
                               {name: e.x for name, e in samples.items()})
            write_json(path, {"command": command, "config": vars(args), "setting": setting.name, "images": ids,
                              "seconds": seconds,
                              "records": records_for(setting, ids, truth, samples, seconds, with_lpips)}, indent=1)

    def done(ids: list[int]) -> bool:
        return all(chunk_path(args.out, setting.name, ids).is_file() for setting in settings)

    def describe(ids: list[int]) -> str:
        return f"faces {ids[0]:06d}–{ids[-1]:06d}"

    computed, skipped = run_share(team, chunks, done, work, describe)
    if skipped:
        print(f"{f'[rank {team.rank}] ' if team.world > 1 else ''}resumed: {skipped} chunk(s) of faces already "
              f"finished in {args.out}, {computed} computed")


def write_examples(path: Path, model: ForwardModel, y: torch.Tensor, truth: torch.Tensor,
                   samples: dict[str, torch.Tensor]) -> None:
    """The example panel of a chunk's first faces: truth, input and every estimate, in half precision."""
    A = model.A
    viz = (F.interpolate(y, size=truth.shape[-2:], mode="nearest") if len(A.out_shape) == 3
           else A.pinv(y)).clamp(0, 1)
    panel = {"truth": truth, "input": viz, **{name: x.mean(1) for name, x in samples.items()}}
    # Clones: a saved slice would otherwise carry its whole batch.
    examples = {k: v[:EXAMPLE_FACES].detach().cpu().half().clone() for k, v in panel.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(examples, tmp)
    tmp.replace(path)
