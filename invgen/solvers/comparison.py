"""Methods compared on a set of images: per-image records, their summary (mean ± standard
error) and paired differences against a reference method, as markdown or JSON.

    result = compare(ForwardModel(A, sigma=0.02), faces, ["bicubic", "csgm-bp", "iagan-bp"], G)
    print(result.markdown())

A record is a dict with ``"method"``, ``"image"`` (an index or id), a ``"setting"`` where
several problems are compared at once, and one number per metric; the functions below take
any list of such records (the experiments write them, one file per shard).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from invgen.forward import ForwardModel, forward_model
from invgen.generators import Generator
from invgen.metrics import scores
from invgen.operators import LinearOperator
from invgen.solvers.pipeline import reconstruct_samples
from invgen.solvers.registry import Budget

METRICS = ("mse", "psnr", "ssim", "st_lpips", "haarpsi", "ms_gmsd", "lpips", "spread", "spread_error_r", "seconds")
#: The method every other is compared with, face by face: invgen's default.
REFERENCE = "iagan-bp"
#: The metrics of the paired differences, each with the sign that makes a positive difference the
#: method's lead over the reference: +1 where higher is better (method − reference), −1 where lower
#: is (reference − method). PSNR and ST-LPIPS are in every record, HaarPSI in those made since it
#: was scored.
PAIRED = (("psnr", 1.0), ("st_lpips", -1.0), ("haarpsi", 1.0))
REQUIRED = ("psnr", "st_lpips")


def _groups(records: list[dict]) -> dict[tuple[str | None, str], list[dict]]:
    """Records by (setting, method), in first-seen order."""
    groups: dict[tuple[str | None, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r.get("setting"), r["method"]), []).append(r)
    return groups


def _mean_and_sem(values: list[float | None]) -> tuple[float, float]:
    # null in a record is an undefined value (NaN), e.g. the PSNR of an exact estimate
    v = torch.tensor([math.nan if x is None else x for x in values], dtype=torch.float64)
    return v.mean().item(), (v.std() / math.sqrt(len(v))).item() if len(v) > 1 else 0.0


def summarise(records: list[dict], metrics: Sequence[str] = METRICS) -> list[dict]:
    """Mean and standard error over the images of each metric that every record of a
    (setting, method) group has, one row per group in first-seen order."""
    rows = []
    for (setting, method), rs in _groups(records).items():
        row = {**({"setting": setting} if setting is not None else {}), "method": method, "n_images": len(rs)}
        for key in (k for k in metrics if all(k in r for r in rs)):
            row[key], row[f"{key}_sem"] = _mean_and_sem([r[key] for r in rs])
        rows.append(row)
    return rows


def paired_differences(records: list[dict], reference: str = REFERENCE) -> list[dict]:
    """Image by image, how far each other method of a setting is ahead of ``reference``, signed so
    that positive always means the method is better: ``psnr_gain`` = PSNR(method) −
    PSNR(reference), ``st_lpips_gain`` = ST-LPIPS(reference) − ST-LPIPS(method) (lower is closer:
    how much closer the method is) and, where every record has it, ``haarpsi_gain`` =
    HaarPSI(method) − HaarPSI(reference); each as mean, standard error over the images and
    ``*_wins``, the number of images where the method is better. Settings without the reference
    give no row; records without PSNR and ST-LPIPS, none at all."""
    by_key = {(r.get("setting"), r["method"], r["image"]): r for r in records}
    rows = []
    for (setting, method), rs in _groups(records).items():
        if method == reference or (setting, reference, rs[0]["image"]) not in by_key:
            continue
        row = {**({"setting": setting} if setting is not None else {}), "method": method, "reference": reference,
               "n_images": len(rs)}
        for metric, sign in PAIRED:
            if not all(metric in r for r in rs):
                if metric in REQUIRED:
                    return []
                continue
            gains = [sign * (r[metric] - by_key[(setting, reference, r["image"])][metric]) for r in rs]
            row[f"{metric}_gain"], row[f"{metric}_gain_sem"] = _mean_and_sem(gains)
            row[f"{metric}_wins"] = sum(g > 0 for g in gains)
        rows.append(row)
    return rows


def _fmt(value: float | None, spec: str) -> str:
    """A table cell: ``n/a`` for an undefined (None or NaN) value."""
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def markdown_table(rows: list[dict]) -> str:
    """:func:`summarise`'s rows as a markdown table: MSE, PSNR ± s.e.m., SSIM and, where every
    row has them, ST-LPIPS ± s.e.m., HaarPSI ± s.e.m., MS-GMSD, LPIPS and the restarts' spread
    scores."""
    has = {key: all(key in r for r in rows)
           for key in ("setting", "st_lpips", "haarpsi", "ms_gmsd", "lpips", "seconds")}
    spread = any("spread" in r for r in rows)
    columns = [("setting", lambda r: r["setting"])] if has["setting"] else []
    columns += [("method", lambda r: r["method"]), ("n", lambda r: str(r["n_images"])),
                ("MSE", lambda r: _fmt(r["mse"], ".5f")),
                ("PSNR (dB)", lambda r: f"{_fmt(r['psnr'], '.2f')} ± {_fmt(r['psnr_sem'], '.2f')}"),
                ("SSIM", lambda r: _fmt(r["ssim"], ".3f"))]
    if has["st_lpips"]:
        columns.append(("ST-LPIPS ↓", lambda r: f"{_fmt(r['st_lpips'], '.3f')} ± {_fmt(r['st_lpips_sem'], '.3f')}"))
    if has["haarpsi"]:
        columns.append(("HaarPSI ↑", lambda r: f"{_fmt(r['haarpsi'], '.3f')} ± {_fmt(r['haarpsi_sem'], '.3f')}"))
    if has["ms_gmsd"]:
        columns.append(("MS-GMSD ↓", lambda r: _fmt(r["ms_gmsd"], ".3f")))
    if has["lpips"]:
        columns.append(("LPIPS ↓", lambda r: _fmt(r["lpips"], ".3f")))
    if spread:
        columns += [("spread", lambda r: _fmt(r.get("spread"), ".4f")),
                    ("r(spread, error)", lambda r: _fmt(r.get("spread_error_r"), ".2f"))]
    if has["seconds"]:
        columns.append(("s / image", lambda r: _fmt(r["seconds"], ".1f")))
    lines = ["| " + " | ".join(name for name, _ in columns) + " |",
             "|" + "|".join("---" if name in ("setting", "method") else "---:" for name, _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r) for _, cell in columns) + " |" for r in rows]
    return "\n".join(lines)


def paired_table(rows: list[dict]) -> str:
    """:func:`paired_differences`'s rows as a markdown table (HaarPSI where every row has it): each
    column says its difference, positive where the method is better (PSNR and HaarPSI: method −
    reference; ST-LPIPS: reference − method, how much closer), then on how many images it is."""
    reference, with_setting = rows[0]["reference"], "setting" in rows[0]
    shown = [(metric, name, digits) for metric, name, digits in
             (("psnr", f"PSNR − {reference} (dB)", 2), ("st_lpips", f"ST-LPIPS closer than {reference} by", 3),
              ("haarpsi", f"HaarPSI − {reference}", 3))
             if all(f"{metric}_gain" in r for r in rows)]
    head = "".join(f" {name} | images better |" for _, name, _ in shown)
    lines = [("| setting " if with_setting else "") + "| method |" + head,
             ("|---" if with_setting else "") + "|---|" + "---:|---:|" * len(shown)]
    for r in rows:
        cells = "".join(f" {_fmt(r[f'{m}_gain'], f'+.{d}f')} ± {_fmt(r[f'{m}_gain_sem'], f'.{d}f')} | "
                        f"{r[f'{m}_wins']}/{r['n_images']} |" for m, _, d in shown)
        lines.append((f"| {r['setting']} " if with_setting else "") + f"| {r['method']} |" + cells)
    return "\n".join(lines)


@dataclass
class Comparison:
    """Per-image ``records`` of methods on a set of images; ``summary`` and ``paired`` are
    :func:`summarise` and :func:`paired_differences` of them (against ``reference``)."""

    records: list[dict]
    reference: str = REFERENCE
    summary: list[dict] = field(init=False)
    paired: list[dict] = field(init=False)

    def __post_init__(self) -> None:
        self.summary = summarise(self.records)
        self.paired = paired_differences(self.records, self.reference)

    def markdown(self) -> str:
        """The summary table, and the paired table where the reference ran."""
        paired = (f"\n\nPaired, image by image, against {self.reference} (positive: the method is better):\n\n"
                  f"{paired_table(self.paired)}" if self.paired else "")
        return markdown_table(self.summary) + paired

    def to_dict(self) -> dict:
        """``{"summary", "paired", "records"}``, ready for JSON."""
        return {"summary": self.summary, "paired": self.paired, "records": self.records}


def compare(
    problem: ForwardModel | LinearOperator,
    images: torch.Tensor,
    methods: Sequence[str],
    generator: Generator | None = None,
    *,
    reference: str = REFERENCE,
    budget: Budget | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Comparison:
    """Measure ``images`` ``(B, *A.in_shape)`` with the forward model (image ``i``'s noise seeded
    by ``seed`` and ``i``, whatever the batch), reconstruct them with every method of
    ``methods`` (:func:`~invgen.solvers.reconstruct_samples`, one run sharing the work) and score
    each estimate against its image (:func:`~invgen.metrics.scores`). ``"seconds"`` in each record is the method's
    time per image (the run it continues included: IAGAN's counts its CSGM search)."""
    model = forward_model(problem)
    y = model.measure(images, seeds=[seed * 100003 + i for i in range(len(images))])
    samples = reconstruct_samples(model, y, list(methods), generator, budget=budget, seed=seed, progress=progress)
    records = []
    for method, estimates in samples.items():
        values = scores(estimates.mean(), images)
        seconds = estimates.seconds / len(images)
        records += [{"method": method, "image": i, **{k: v[i].item() for k, v in values.items()}, "seconds": seconds}
                    for i in range(len(images))]
    return Comparison(records, reference)
