"""The experiments' report: the shards of ``OUT/shards`` merged into ``results.json`` and
``results.md`` (summary, paired differences, notes), the example panels and the figures."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from invgen.app.arguments import UsageError
from invgen.app.experiments.shards import differences, read_shard, shard_settings
from invgen.data import save_panel
from invgen.files import write_json, write_text
from invgen.solvers.comparison import markdown_table, paired_differences, paired_table, summarise


def check_shards(shard_files: list[Path], shards: list[dict]) -> None:
    """Raise :class:`UsageError` unless the shards share the :func:`compared` settings and no
    face appears in two of them, naming the files and the keys that differ."""
    first = shard_settings(shards[0])
    for path, shard in zip(shard_files[1:], shards[1:]):
        differ = differences(first, shard_files[0].name, shard_settings(shard), path.name)
        if differ:
            raise UsageError(f"cannot merge shards made with other settings: {differ}")
    seen: dict[int, str] = {}
    for path, shard in zip(shard_files, shards):
        for image_id in sorted({r["image"] for r in shard["records"]}):
            if image_id in seen:
                raise UsageError(f"cannot merge {seen[image_id]} and {path.name}: both hold face {image_id:06d}")
            seen[image_id] = path.name


def merge(args: argparse.Namespace, title: str, figures=None) -> list[dict]:
    """Combine the shard files of ``OUT/shards`` into results.json / results.md (+ figures)."""
    out = Path(args.out)
    shard_files = sorted((out / "shards").glob("shard_*.json"))
    if not shard_files:
        raise FileNotFoundError(f"no shard files in {out / 'shards'}; run the experiment first")
    shards = [read_shard(f) for f in shard_files]
    check_shards(shard_files, shards)
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
        save_panel({name: x.float() for name, x in panel.items()}, out / f"examples_{slug(setting)}.png",
                   captions=captions(records, setting, shown_ids[:len(panel["truth"])], panel))
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
    doc += [f"![{s}](examples_{slug(s)}.png)" for s in examples] + [""] + figure_lines
    write_text(out / "results.md", "\n".join(doc) + "\n")
    print(f"\n{title}\n{table}\n\nwrote {out / 'results.md'} and {out / 'results.json'}")
    return rows


def captions(records: list[dict], setting: str, ids: list[int], panel: dict) -> dict[str, list[str]]:
    """Under each example estimate its face's PSNR and ST-LPIPS, from the records."""
    by_face = {(r["method"], r["image"]): r for r in records if r["setting"] == setting}
    return {method: [f"{by_face[(method, i)]['psnr']:.1f} dB" + (f" {by_face[(method, i)]['st_lpips']:.3f}"
                                                                  if "st_lpips" in by_face[(method, i)] else "")
                     for i in ids]
            for method in panel if (method, ids[0]) in by_face}


def slug(name: str) -> str:
    """An ASCII file-name part for a setting name (``sr4@σ=10/255`` → ``sr4_sigma_10_255``)."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in ".-" else "_" for c in name.replace("σ", "sigma"))
