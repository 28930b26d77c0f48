"""The experiments' runner: before any computation, the checks that nothing in ``OUT`` would be
mixed or replaced; then every setting and method on this shard's faces, one record per face."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from invgen.app.arguments import UsageError, check_output_folder
from invgen.app.celeba import CELEBA_CROP, celeba_paths
from invgen.app.device import resolve_device
from invgen.app.experiments.shards import compared, differences, read_shard, shard_file, shard_indices, shard_settings
from invgen.app.tasks import make_operator
from invgen.data import read_image
from invgen.files import write_json
from invgen.forward import ForwardModel
from invgen.generators import load_generator
from invgen.generators.encoder import load_encoder_spec
from invgen.metrics import backbone_checkpoint, lpips, lpips_available
from invgen.solvers import Budget, reconstruct_samples, restart_spread
from invgen.solvers.comparison import scores
from invgen.solvers.pipeline import check_methods

if TYPE_CHECKING:
    from invgen.app.experiments.common import Setting


def check_out(args: argparse.Namespace, settings: list[Setting]) -> None:
    """Refuse (:class:`UsageError`), before any computation, a bad ``--shard`` or
    ``--n-images``, and a run whose results would mix with or replace others in ``OUT``:
    shards made with other :func:`compared` settings, tasks or noise levels, or a shard
    file of the same name from a run over other faces (``--n-images``)."""
    try:
        shard_indices(args.n_images, args.shard)
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        celeba_paths(args.data, "val", args.n_images)
    except ValueError as err:
        raise UsageError(f"--n-images {args.n_images}: {err}") from None
    check_output_folder(args.out)
    shards = Path(args.out) / "shards"
    this = {key: vars(args)[key] for key in compared()}
    this["tasks and noise"] = sorted({(s.task, s.noise_std) for s in settings})
    for path in sorted(shards.glob("shard_*.json")):
        shard = read_shard(path)
        differ = differences(shard_settings(shard), path.name, this, "this run")
        if differ:
            raise UsageError(f"--out {args.out} holds {path.name}, made with other settings ({differ}); "
                             "merging them would mix two experiments — choose another --out")
        if path.name == shard_file(args).name and shard["config"]["n_images"] != args.n_images:
            raise UsageError(f"--out {args.out}: {path.name} holds a run over --n-images "
                             f"{shard['config']['n_images']}; this run (--n-images {args.n_images}) would "
                             "replace it — choose another --out")


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


def records_for(setting: Setting, ids: list[int], truth: torch.Tensor, samples: dict[str, torch.Tensor],
                 seconds: float, with_lpips: bool) -> list[dict]:
    """One record per face and method: its scores (:func:`invgen.solvers.comparison.scores`,
    LPIPS where it runs, the restarts' spread where several were averaged)."""
    records = []
    for method, starts in samples.items():
        x = starts.mean(1)
        values = scores(x, truth)
        if with_lpips:
            values["lpips"] = lpips(x, truth)
        if starts.shape[1] > 1:
            values.update(uncertainty_scores(starts, truth))
        for k, image_id in enumerate(ids):
            records.append({"setting": setting.name, "task": setting.task, "noise_std": setting.noise_std,
                            "image": image_id, "method": method,
                            **{key: v[k].item() for key, v in values.items()}, "batch_seconds": seconds})
    return records


def run(args: argparse.Namespace, settings: list[Setting], methods: list[str], command: str) -> Path:
    """Reconstruct this shard's faces for every setting with every method (names of
    :func:`invgen.solvers.reconstruct`); returns the shard file, which records ``command``."""
    device = resolve_device(args.device)
    positions = shard_indices(args.n_images, args.shard)
    paths = celeba_paths(args.data, "val", args.n_images)
    ids = [int(paths[p].stem) for p in positions]
    G = load_generator(args.generator).to(device)
    size = G.image_shape()[-1]
    if size != CELEBA_CROP[2]:
        print(f"faces resized from the {CELEBA_CROP[2]}×{CELEBA_CROP[2]} CelebA window to the generator's {size}×{size}")
    try:
        faces = torch.stack([read_image(paths[p], crop=CELEBA_CROP, size=size) for p in positions]).to(device)
    except ValueError as err:  # a face that does not decode, or is smaller than the CelebA window
        raise UsageError(f"--data: {err}") from None
    budget = Budget.from_flat(vars(args))
    encoder = load_encoder_spec(args.encoder)
    encoder = None if encoder is None else encoder.to(device)
    with_lpips = lpips_available()
    if not with_lpips:
        print(f"no LPIPS column: its backbone weights are not at {backbone_checkpoint('alex')} "
              "(see invgen.metrics.lpips)", flush=True)
    models = [ForwardModel(make_operator(setting.task, tuple(faces.shape[1:]), seed=args.seed).to(device),
                           sigma=setting.noise_std) for setting in settings]
    for setting, model in zip(settings, models):  # every setting checked before any computation
        try:
            check_methods(model.A, methods, budget, G)
        except ValueError as err:
            raise UsageError(f"[{setting.name}] {err}") from None
    records, examples = [], {}
    for setting, model in zip(settings, models):
        A = model.A
        for start in range(0, len(faces), args.batch_size):
            truth = faces[start : start + args.batch_size]
            batch_ids = ids[start : start + args.batch_size]
            # Noise is seeded by the image id: the same face sees the same noise in every shard layout.
            y = model.measure(truth, seeds=[args.seed * 100003 + i for i in batch_ids])
            print(f"[{setting.name}] faces {batch_ids[0]:06d}–{batch_ids[-1]:06d}", flush=True)
            t0 = time.time()
            samples = {name: e.x for name, e in reconstruct_samples(model, y, methods, G, encoder=encoder,
                                                                      budget=budget, seed=args.seed).items()}
            estimates = {name: x.mean(1) for name, x in samples.items()}
            records += records_for(setting, batch_ids, truth, samples, time.time() - t0, with_lpips)
            if start == 0:
                viz = (F.interpolate(y, size=truth.shape[-2:], mode="nearest") if len(A.out_shape) == 3
                       else A.pinv(y)).clamp(0, 1)
                panel = {"truth": truth, "input": viz, **estimates}
                # Clones in half precision: a saved slice would otherwise carry its whole batch.
                examples[setting.name] = {k: v[:4].detach().cpu().half().clone() for k, v in panel.items()}
    path = shard_file(args)
    examples_file = path.with_suffix(".examples.pt")
    examples_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save(examples, examples_file.with_suffix(".tmp"))
    examples_file.with_suffix(".tmp").replace(examples_file)
    write_json(path, {"command": command, "config": vars(args), "records": records}, indent=1)
    print(f"wrote {path}")
    return path
