"""The methods that followed IAGAN beside CSGM-BP and IAGAN-BP, on the tuning faces.

For each task, each method runs alone from the same CSGM starts (invgen's defaults unless
``--set METHOD.SETTING=VALUE`` changes them), through :func:`invgen.solvers.compare`: PSNR,
ST-LPIPS, the paired PSNR and ST-LPIPS gains over CSGM-BP (positive: ahead of it) and the
time per image, CSGM's search included (these methods differ widely in cost). Faces: the last
``--n-images`` of the CelebA val split, never the experiments' (choose settings here, report
there). Prints a table and writes JSON.

    python benchmarks/follow_up_study.py --tasks sr8 sr4 --n-images 8
    python benchmarks/follow_up_study.py --tasks sr8 --methods ilo-bp --set ilo.radius=0.3 --out ...
"""
from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

from generator_study import tuning_faces
from invgen.app.celeba import add_data_argument
from invgen.app.tasks import make_operator
from invgen.forward import ForwardModel
from invgen.generators import SPEC_HELP, load_generator
from invgen.solvers import Budget, compare
from invgen.solvers.comparison import paired_differences

METHODS = ["csgm-bp", "iagan-bp", "ilo-bp", "dgp-bp", "mganprior-bp"]


def setting(text: str) -> tuple[str, object]:
    """``METHOD.SETTING=VALUE`` → ``("METHOD.SETTING", value)`` (a Python literal, else a string)."""
    key, _, value = text.partition("=")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, "the tuning faces, the last of the val split")
    parser.add_argument("--generator", default="default", help=SPEC_HELP)
    parser.add_argument("--tasks", nargs="+", default=["sr8", "sr4"])
    parser.add_argument("--noise", type=float, default=0.0, help="σ of the Gaussian noise on y")
    parser.add_argument("--n-images", type=int, default=8, help="the last N faces of the val split")
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--set", type=setting, nargs="*", default=[], metavar="METHOD.SETTING=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/follow_up_study.json")
    args = parser.parse_args()

    faces = tuning_faces(args.data, args.n_images)
    G = load_generator(args.generator)
    budget = Budget.from_flat(dict(args.set))
    rows, records = [], []
    print(f"{'task':<8} {'method':<14} {'PSNR':>7} {'ST-LPIPS':>9} {'vs CSGM-BP: dB':>15} {'closer by':>9} {'s/image':>8}")
    for task in args.tasks:
        model = ForwardModel(make_operator(task, tuple(faces.shape[1:]), seed=args.seed), sigma=args.noise)
        for method in dict.fromkeys(["csgm-bp", *args.methods]):
            t0 = time.time()
            result = compare(model, faces, [method], G, budget=budget, seed=args.seed, progress=False)
            seconds = (time.time() - t0) / len(faces)
            records += [{**r, "setting": task} for r in result.records]
            rows.append({"task": task, **result.summary[0], "seconds_per_image": seconds})
    for row in rows:
        gains = {g["method"]: g for g in paired_differences(
            [r for r in records if r["setting"] == row["task"]], reference="csgm-bp")}
        row["vs_csgm_bp"] = gains.get(row["method"])
        gain = row["vs_csgm_bp"]
        ahead = ("" if gain is None else f"{gain['psnr_gain']:+.2f} ± {gain['psnr_gain_sem']:.2f}")
        ahead_p = "" if gain is None else f"{gain['st_lpips_gain']:+.3f}"
        print(f"{row['task']:<8} {row['method']:<14} {row['psnr']:>7.2f} {row['st_lpips']:>9.3f} {ahead:>15} "
              f"{ahead_p:>9} {row['seconds_per_image']:>8.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": {**vars(args), "set": dict(args.set)}, "budget": budget.flat(),
                               "summary": rows, "records": records}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
