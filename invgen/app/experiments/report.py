"""The experiments' report: the chunk files of ``OUT/chunks`` merged into ``results.json`` and
``results.md`` (summary, paired differences, notes), the example panels and the figures."""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from invgen.app.arguments import UsageError
from invgen.app.experiments.chunks import chunk_files, chunk_settings, differences, name_of, read_chunk, slug
from invgen.data import save_panel
from invgen.files import write_json, write_text
from invgen.solvers import PAPER_DIP, PAPER_DIP_X8
from invgen.solvers.comparison import markdown_table, paired_differences, paired_table, summarise

if TYPE_CHECKING:
    from invgen.app.experiments.common import Setting

# What each judge of the results page rewards, under its table.
JUDGES = [
    "PSNR, ST-LPIPS and HaarPSI: mean ± standard error of the mean over the faces. Three judges that reward "
    "different things: PSNR (and SSIM) the pixel-wise error, which blur costs little; ST-LPIPS, the shift-tolerant "
    "learned perceptual distance (Ghildyal & Liu, ECCV 2022; `invgen.metrics.st_lpips`, AlexNet trunk; lower is "
    "closer), texture and sharpness — it was fooled by texture that is not the face's (the colour speckle of a "
    "Deep Image Prior run without its input noise came out *closer*); HaarPSI (Reisenhofer et al. 2018; "
    "`invgen.metrics.haarpsi`; higher is closer) and MS-GMSD (lower is closer) compare wavelet and gradient "
    "structure without learned weights, and agreed with PSNR and the eye on that speckle."]


def check_chunks(paths: list[Path], chunks: list[dict]) -> None:
    """Raise :class:`UsageError` unless the chunks share the
    :func:`~invgen.app.experiments.chunks.compared` settings and no face of a setting appears
    in two of them, naming the files and the keys that differ."""
    first = chunk_settings(chunks[0])
    for path, chunk in zip(paths[1:], chunks[1:]):
        differ = differences(first, name_of(paths[0]), chunk_settings(chunk), name_of(path))
        if differ:
            raise UsageError(f"cannot merge chunks made with other settings: {differ}")
    seen: dict[tuple[str, int], str] = {}
    for path, chunk in zip(paths, chunks):
        for image_id in chunk["images"]:
            if (chunk["setting"], image_id) in seen:
                raise UsageError(f"cannot merge {seen[chunk['setting'], image_id]} and {name_of(path)}: both hold "
                                 f"face {image_id:06d} of {chunk['setting']}")
            seen[chunk["setting"], image_id] = name_of(path)


def merge(args: argparse.Namespace, title: str, settings: list[Setting], figures=None) -> list[dict]:
    """Combine the chunk files of ``OUT/chunks`` into results.json / results.md (+ figures):
    the records in the experiment's order of settings, then of faces, whichever processes
    wrote them."""
    out = Path(args.out)
    paths = chunk_files(out)
    if not paths:
        raise FileNotFoundError(f"no chunk files in {out / 'chunks'}; run the experiment first")
    chunks = [read_chunk(path) for path in paths]
    check_chunks(paths, chunks)
    order = [s.name for s in settings]
    ranked = sorted(zip(paths, chunks), key=lambda pc: (order.index(pc[1]["setting"]) if pc[1]["setting"] in order
                                                        else len(order), pc[1]["setting"], pc[1]["images"][0]))
    records = [r for _, chunk in ranked for r in chunk["records"]]
    for setting in dict.fromkeys(chunk["setting"] for _, chunk in ranked):
        n = sum(len(chunk["images"]) for _, chunk in ranked if chunk["setting"] == setting)
        if n < args.n_images:
            print(f"[{setting}] {n} of {args.n_images} faces merged: the other chunks have not run (yet)")
    rows = summarise(records)
    table = markdown_table(rows)
    paired = paired_differences(records)
    commands = sorted({chunk["command"] for chunk in chunks})
    if any(" --shard " in c for c in commands):  # and the step that made this page
        commands.append(re.sub(r" --shard \S+", "", commands[0]) + " --merge")
    write_json(out / "results.json", {"title": title, "commands": commands, "summary": rows, "paired": paired,
                                      "records": records}, indent=1)
    examples = {}
    for path, chunk in ranked:  # the panel of each setting's first chunk
        panel_file = path.with_suffix(".examples.pt")
        if chunk["setting"] not in examples and panel_file.is_file():
            examples[chunk["setting"]] = (torch.load(panel_file, weights_only=True), chunk["images"])
    for setting, (panel, ids) in examples.items():
        save_panel({name: x.float() for name, x in panel.items()}, out / f"examples_{slug(setting)}.png",
                   captions=captions(records, setting, ids[:len(panel["truth"])], panel))
    figure_lines = figures(rows, out) if figures is not None else []
    spread_note = [] if not any("spread" in r for r in rows) else [
        ("spread: for the methods that average their starts, the mean per-pixel standard deviation between the "
         "starts (the uncertainty map `invgen reconstruct` writes); r(spread, error): its Pearson correlation with "
         "the error map |estimate − truth| over each face's pixels, averaged over the faces (n/a: one estimate)."), ""]
    dip = dip_note(chunks[0]["config"]) if any(r["method"] == "dip" for r in rows) else []
    lpips_note = [] if all("lpips" in r for r in rows) else [
        ("No LPIPS column: torchvision's AlexNet weights were not on the machine that ran this "
         "(invgen never downloads them; see `invgen.metrics.lpips`)."), ""]
    paired_section = [] if not paired else [
        f"Paired over the faces, each method against {paired[0]['reference']} (invgen's default method), signed so "
        "that positive means the method is better: PSNR and HaarPSI method − reference, ST-LPIPS reference − "
        "method (how much closer); mean ± standard error, and on how many faces the method is better:", "",
        paired_table(paired), ""]
    doc = [f"# {title}", "", "Produced by:", "", *[f"    {c}" for c in commands], "", table, "",
           *JUDGES, "", *dip, *paired_section, *spread_note, *lpips_note,
           f"Examples (the first faces; under each estimate its {caption_legend(records)}):", ""]
    doc += [f"![{s}](examples_{slug(s)}.png)" for s in examples] + [""] + figure_lines
    write_text(out / "results.md", "\n".join(doc) + "\n")
    print(f"\n{title}\n{table}\n\nwrote {out / 'results.md'} and {out / 'results.json'}")
    return rows


def dip_note(config: dict) -> list[str]:
    """How the page's DIP ran (the chunks' budget), beside its paper's super-resolution set-up;
    where it ran fewer steps or a smaller network, the note says so."""
    ran = {key: config[f"dip.{key}"] for key in ("steps", "channels", "depth", "input_noise")}
    smaller = (ran["steps"] < PAPER_DIP.steps or ran["channels"] < PAPER_DIP.channels
               or ran["depth"] < PAPER_DIP.depth)
    return [f"DIP: {ran['steps']} steps of a skip network of {ran['channels']} channels and {ran['depth']} levels, "
            f"its input perturbed at every step by noise of std {ran['input_noise']:g}. Its paper's super-resolution "
            f"(`PAPER_DIP`): {PAPER_DIP.channels} channels and {PAPER_DIP.depth} levels, {PAPER_DIP.steps} steps with "
            f"noise of std {PAPER_DIP.input_noise:g} at ×4, {PAPER_DIP_X8.steps} with {PAPER_DIP_X8.input_noise:g} "
            "at ×8" + (" — fewer steps or a smaller network here, to run on a CPU." if smaller else "."), ""]


# The scores under each example estimate: (key, name, format).
CAPTION = (("psnr", "PSNR (dB)", ".1f"), ("st_lpips", "ST-LPIPS", ".3f"), ("haarpsi", "HaarPSI", ".3f"))


def caption_legend(records: list[dict]) -> str:
    """What the captions show: the :data:`CAPTION` scores that every record has."""
    return " | ".join(name for key, name, _ in CAPTION if all(key in r for r in records))


def captions(records: list[dict], setting: str, ids: list[int], panel: dict) -> dict[str, list[str]]:
    """Under each example estimate its face's PSNR, ST-LPIPS and HaarPSI (those it has), from the records."""
    by_face = {(r["method"], r["image"]): r for r in records if r["setting"] == setting}

    def caption(r: dict) -> str:
        return " | ".join("n/a" if r[key] is None else format(r[key], spec) for key, _, spec in CAPTION if key in r)

    return {method: [caption(by_face[(method, i)]) for i in ids] for method in panel if (method, ids[0]) in by_face}
