"""What every experiment shares: arguments, sharding, the run over settings, merging.

An experiment is a list of *settings* (a task and a noise level) and a list of methods.
``run`` reconstructs the faces of one shard of the CelebA val split for every setting and
method, and writes ``OUT/shards/shard_I_of_N.json`` (one record per image, setting and
method). ``--merge`` reads every shard file in ``OUT/shards`` and writes
``OUT/results.json`` and ``OUT/results.md`` (means over images), plus the experiment's
figures. With ``--shard 1/1`` (the default) a run merges by itself.

``OUT`` is ``invgen-results/NAME`` unless ``--out`` says otherwise (the committed results
in ``docs/results`` are written only when asked for by name). Nothing is lost or mixed:
before any computation a run refuses an ``OUT`` whose shards were made with other
settings (:func:`compared`), and a shard file of another run of the same name; merging
refuses shards that differ in those settings or share faces. JSON is strict (``null`` for
an undefined number) and every result file is replaced atomically.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from invgen.app.arguments import (
    Parser,
    UsageError,
    add_method_arguments,
    budget_from,
    check_output_folder,
    positive_int,
    random_seed,
)
from invgen.app.celeba import CELEBA_CROP, add_data_argument, celeba_paths
from invgen.app.device import add_device_argument, resolve_device
from invgen.app.tasks import make_operator
from invgen.data import read_image, save_panel
from invgen.files import write_json, write_text
from invgen.forward import ForwardModel
from invgen.generators import SPEC_HELP, load_generator
from invgen.generators.encoder import ENCODER_HELP, load_encoder_spec
from invgen.metrics import backbone_checkpoint, lpips, lpips_available
from invgen.solvers import Budget, reconstruct_samples, restart_spread
from invgen.solvers.comparison import markdown_table, paired_differences, paired_table, scores, summarise
from invgen.solvers.pipeline import check_methods


@dataclass(frozen=True)
class Setting:
    """One inverse problem of an experiment: a task string and the noise std on y."""

    task: str
    noise_std: float = 0.0

    @property
    def name(self) -> str:
        return self.task if self.noise_std == 0 else f"{self.task}@σ={self.noise_std * 255:g}/255"


def build_parser(name: str, description: str) -> Parser:
    """The options of experiment ``name`` (``invgen bench NAME``); results go to
    ``invgen-results/NAME`` unless ``--out`` is given."""
    parser = Parser(prog=f"invgen bench {name.replace('_', '-')}", description=description,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "faces come from the val split (ids 009001–010000)")
    parser.add_argument("--n-images", type=positive_int, default=32, help="first N faces of the val split")
    parser.add_argument("--shard", default="1/1", metavar="I/N", help="run only the I-th of N parts of the faces")
    parser.add_argument("--merge", action="store_true", help="only merge OUT/shards/*.json into the results")
    parser.add_argument("--out", default=f"invgen-results/{name}",
                        help="results folder (default: %(default)s; the committed ones are docs/results/NAME)")
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--encoder", default="none", help=ENCODER_HELP)
    add_method_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=32, help="faces reconstructed together")
    add_device_argument(parser)
    return parser


def compared() -> tuple[str, ...]:
    """The settings that make two shards parts of one experiment — the seed, the generator,
    the encoder and every setting of the registered methods: merging shards that differ in
    any of them would average different experiments (the faces, n_images and shard may differ)."""
    return ("seed", "generator", "encoder", *Budget().flat())


def read_shard(path: Path) -> dict:
    """A shard file's content; :class:`UsageError` naming it when it is not one."""
    try:
        shard = json.loads(path.read_text())
        if not isinstance(shard, dict) or not {"config", "records"} <= set(shard):
            raise ValueError("no 'config' and 'records'")
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError among them
        raise UsageError(f"{path} is not a shard file written by invgen bench ({err})") from None
    return shard


def _shard_settings(shard: dict, defaults: dict) -> dict:
    """What :func:`compared` (plus the tasks and noise levels run) a shard was made with; a
    shard that does not record one of them was made by an older invgen (settings named
    otherwise) and is refused: re-run it."""
    config = shard["config"]
    missing = [key for key in compared() if key not in config]
    if missing:
        raise UsageError(f"a shard file made by an older invgen records no {', '.join(missing[:3])}"
                         f"{' …' if len(missing) > 3 else ''}; re-run that experiment into a new --out")
    settings = {key: config[key] for key in compared()}
    settings["tasks and noise"] = sorted({(r["task"], r["noise_std"]) for r in shard["records"]})
    return settings


def _differences(a: dict, a_name: str, b: dict, b_name: str) -> str:
    """``"key: A in a_name, B in b_name; ..."`` for every key whose values differ ('' if none)."""
    return "; ".join(f"{key}: {a[key]!r} in {a_name}, {b[key]!r} in {b_name}" for key in a if a[key] != b[key])


def check_out(args: argparse.Namespace, settings: list[Setting], defaults: dict) -> None:
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
        differ = _differences(_shard_settings(shard, defaults), path.name, this, "this run")
        if differ:
            raise UsageError(f"--out {args.out} holds {path.name}, made with other settings ({differ}); "
                             "merging them would mix two experiments — choose another --out")
        if path.name == _shard_file(args).name and shard["config"]["n_images"] != args.n_images:
            raise UsageError(f"--out {args.out}: {path.name} holds a run over --n-images "
                             f"{shard['config']['n_images']}; this run (--n-images {args.n_images}) would "
                             "replace it — choose another --out")


def _shard_file(args: argparse.Namespace) -> Path:
    return Path(args.out) / "shards" / f"shard_{args.shard.replace('/', '_of_')}.json"


def shard_indices(n: int, shard: str) -> range:
    """The positions of the ``I``-th of ``N`` contiguous parts of ``range(n)``."""
    try:
        i, parts = (int(v) for v in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 2/4), got {shard!r}") from None
    if not 1 <= i <= parts:
        raise ValueError(f"--shard {shard}: need 1 ≤ I ≤ N")
    size = math.ceil(n / parts)
    return range((i - 1) * size, min(i * size, n))


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


def _records_for(setting: Setting, ids: list[int], truth: torch.Tensor, samples: dict[str, torch.Tensor],
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
            records += _records_for(setting, batch_ids, truth, samples, time.time() - t0, with_lpips)
            if start == 0:
                viz = (F.interpolate(y, size=truth.shape[-2:], mode="nearest") if len(A.out_shape) == 3
                       else A.pinv(y)).clamp(0, 1)
                panel = {"truth": truth, "input": viz, **estimates}
                # Clones in half precision: a saved slice would otherwise carry its whole batch.
                examples[setting.name] = {k: v[:4].detach().cpu().half().clone() for k, v in panel.items()}
    shard_file = _shard_file(args)
    examples_file = shard_file.with_suffix(".examples.pt")
    examples_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save(examples, examples_file.with_suffix(".tmp"))
    examples_file.with_suffix(".tmp").replace(examples_file)
    write_json(shard_file, {"command": command, "config": vars(args), "records": records}, indent=1)
    print(f"wrote {shard_file}")
    return shard_file


def check_shards(shard_files: list[Path], shards: list[dict], defaults: dict) -> None:
    """Raise :class:`UsageError` unless the shards share the :func:`compared` settings and no
    face appears in two of them, naming the files and the keys that differ."""
    first = _shard_settings(shards[0], defaults)
    for path, shard in zip(shard_files[1:], shards[1:]):
        differ = _differences(first, shard_files[0].name, _shard_settings(shard, defaults), path.name)
        if differ:
            raise UsageError(f"cannot merge shards made with other settings: {differ}")
    seen: dict[int, str] = {}
    for path, shard in zip(shard_files, shards):
        for image_id in sorted({r["image"] for r in shard["records"]}):
            if image_id in seen:
                raise UsageError(f"cannot merge {seen[image_id]} and {path.name}: both hold face {image_id:06d}")
            seen[image_id] = path.name


def merge(args: argparse.Namespace, title: str, defaults: dict, figures=None) -> list[dict]:
    """Combine the shard files of ``OUT/shards`` into results.json / results.md (+ figures)."""
    out = Path(args.out)
    shard_files = sorted((out / "shards").glob("shard_*.json"))
    if not shard_files:
        raise FileNotFoundError(f"no shard files in {out / 'shards'}; run the experiment first")
    shards = [read_shard(f) for f in shard_files]
    check_shards(shard_files, shards, defaults)
    records = [r for s in shards for r in s["records"]]
    rows = summarise(records)
    table = markdown_table(rows)
    paired = paired_differences(records)
    commands = sorted({s["command"] for s in shards})
    if len(shard_files) > 1:  # and the step that made this page
        commands.append(re.sub(r" --shard \S+", "", commands[0]) + " --merge")
    write_json(out / "results.json", {"title": title, "commands": commands, "summary": rows, "paired": paired,
                                      "records": records}, indent=1)
    examples = torch.load(shard_files[0].with_suffix(".examples.pt"), weights_only=True)
    shown_ids = sorted({r["image"] for r in shards[0]["records"]})  # the panels show the first faces
    for setting, panel in examples.items():
        save_panel({name: x.float() for name, x in panel.items()}, out / f"examples_{_slug(setting)}.png",
                   captions=_captions(records, setting, shown_ids[:len(panel["truth"])], panel))
    figure_lines = figures(rows, out) if figures is not None else []
    spread_note = [] if not any("spread" in r for r in rows) else [
        ("spread: for the methods that average their starts, the mean per-pixel standard deviation between the "
         "starts (the uncertainty map `invgen reconstruct` writes); r(spread, error): its Pearson correlation with "
         "the error map |estimate − truth| over each face's pixels, averaged over the faces (n/a: one estimate)."), ""]
    lpips_note = [] if all("lpips" in r for r in rows) else [
        ("No LPIPS column: torchvision's AlexNet weights were not on the machine that ran this "
         "(invgen never downloads them; see `invgen.metrics.lpips`)."), ""]
    paired_section = [] if not paired else [
        f"Paired over the faces, how far {paired[0]['reference']} (invgen's default method) is ahead of each "
        "method (positive: ahead; mean ± standard error; faces: on how many it is ahead):", "",
        paired_table(paired), ""]
    doc = [f"# {title}", "", "Produced by:", "", *[f"    {c}" for c in commands], "", table, "",
           "PSNR and ST-LPIPS: mean ± standard error of the mean over the faces. ST-LPIPS is the shift-tolerant "
           "learned perceptual distance (Ghildyal & Liu, ECCV 2022; `invgen.metrics.st_lpips`, AlexNet trunk): "
           "lower is closer to the truth.", "", *paired_section, *spread_note, *lpips_note,
           "Examples (first faces of the first shard, PSNR and ST-LPIPS under each estimate):", ""]
    doc += [f"![{s}](examples_{_slug(s)}.png)" for s in examples] + [""] + figure_lines
    write_text(out / "results.md", "\n".join(doc) + "\n")
    print(f"\n{title}\n{table}\n\nwrote {out / 'results.md'} and {out / 'results.json'}")
    return rows


def _captions(records: list[dict], setting: str, ids: list[int], panel: dict) -> dict[str, list[str]]:
    """Under each example estimate its face's PSNR and ST-LPIPS, from the records."""
    by_face = {(r["method"], r["image"]): r for r in records if r["setting"] == setting}
    return {method: [f"{by_face[(method, i)]['psnr']:.1f} dB" + (f" {by_face[(method, i)]['st_lpips']:.3f}"
                                                                  if "st_lpips" in by_face[(method, i)] else "")
                     for i in ids]
            for method in panel if (method, ids[0]) in by_face}


def _slug(name: str) -> str:
    """An ASCII file-name part for a setting name (``sr4@σ=10/255`` → ``sr4_sigma_10_255``)."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in ".-" else "_" for c in name.replace("σ", "sigma"))


def resolve_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the budget they ask for written out (``--paper`` and the defaults
    resolved), so that a shard records the numbers it was made with."""
    for key, value in budget_from(args).flat().items():
        setattr(args, key, value)
    return args


def main(name: str, description: str, settings: list[Setting], methods: list[str], argv=None,
         figures=None) -> None:
    """``invgen bench NAME [options]``: check every option and ``OUT`` first, then run this
    shard and merge (with ``--shard 1/1``), or only merge (``--merge``)."""
    parser = build_parser(name, description)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = resolve_settings(parser.parse_args(argv))
    defaults = vars(resolve_settings(parser.parse_args([])))
    title = description.strip().splitlines()[0]
    resolve_device(args.device)
    try:
        if not args.merge:
            check_out(args, settings, defaults)
            run(args, settings, methods, shlex.join([*parser.prog.split(), *argv]))
            if args.shard != "1/1":
                print("merge the shards with --merge once all have run")
                return
        merge(args, title, defaults, figures)
    except UsageError as err:
        parser.error(str(err))
