"""The methods that followed IAGAN on the val faces, read from the experiments' results.

For every setting of the committed experiments (``docs/results/NAME/results.json``, made by
``invgen bench NAME``) where ILO, DGP or mGANprior ran, each generative method's PSNR, SSIM,
ST-LPIPS and time per face, and its paired gain over CSGM-BP face by face (PSNR: positive
is ahead; ST-LPIPS: positive is closer), mean ± standard error and on how many faces it is
ahead. No computation: the numbers are the experiments'; this is the issue's study table.
Prints a markdown table and writes JSON.

    python benchmarks/follow_up_val.py docs/results/super_resolution docs/results/cs_curve docs/results/inpainting
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from invgen.solvers.comparison import paired_differences, summarise

METHODS = ["csgm-bp", "iagan-bp", "ilo-bp", "dgp-bp", "mganprior-bp"]
FOLLOW_UPS = {"ilo-bp", "dgp-bp", "mganprior-bp"}


def study(records: list[dict]) -> list[dict]:
    """One row per setting that has a follow-up method and per method of :data:`METHODS` in it."""
    records = [r for r in records if r["method"] in METHODS]
    settings = [s for s in dict.fromkeys(r["setting"] for r in records)
                if any(r["method"] in FOLLOW_UPS for r in records if r["setting"] == s)]
    records = [r for r in records if r["setting"] in settings]
    summary = {(row["setting"], row["method"]): row for row in summarise(records)}
    rows = []
    for setting in settings:
        for method in METHODS:
            if (setting, method) not in summary:
                continue
            row = {key: summary[setting, method][key] for key in
                   ("setting", "method", "n_images", "psnr", "psnr_sem", "ssim", "st_lpips", "seconds")}
            if method != "csgm-bp":  # how far the method is ahead of CSGM-BP, face by face
                pair = [r for r in records if r["setting"] == setting and r["method"] in (method, "csgm-bp")]
                (gain,) = paired_differences(pair, reference="csgm-bp")
                row.update({key: gain[key] for key in ("psnr_gain", "psnr_gain_sem", "psnr_wins", "st_lpips_gain",
                                                       "st_lpips_gain_sem", "st_lpips_wins")})
            rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| setting | method | PSNR | SSIM | ST-LPIPS | vs CSGM-BP: dB (faces ahead) | ST-LPIPS closer by "
             "(faces) | s / face |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        gain = (f"{r['psnr_gain']:+.2f} ± {r['psnr_gain_sem']:.2f} ({r['psnr_wins']}/{r['n_images']}) | "
                f"{r['st_lpips_gain']:+.3f} ± {r['st_lpips_gain_sem']:.3f} ({r['st_lpips_wins']}/{r['n_images']})"
                if "psnr_gain" in r else "— | —")
        lines.append(f"| {r['setting']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['st_lpips']:.3f} | "
                     f"{gain} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="experiment folders holding results.json")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/follow_up_val.json"))
    args = parser.parse_args()
    rows = []
    for folder in args.results:
        rows += study(json.loads((folder / "results.json").read_text())["records"])
    table = markdown(rows)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"sources": [str(f) for f in args.results], "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
