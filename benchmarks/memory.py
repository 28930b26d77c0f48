"""Peak memory of ``invgen reconstruct`` against the number of images: in chunks of ``--batch-size``
(the default, 16) it stays flat; as one batch of every image (``--batch-size N``, how invgen ran
before chunks) it grows with N.

Each run is a fresh process (its peak resident set size, ``ru_maxrss``, is its own) running
IAGAN-BP with invgen's 4 starts on random 64×64 images, with an untrained face64 generator of
``--width`` and a few steps: the memory of the per-image network copies is what is measured, not
the quality. Prints a table and writes JSON.

    python benchmarks/memory.py                       # 16, 64, 256 images; one batch for 16 and 64
    python benchmarks/memory.py --images 16 64 --one-batch 16
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from invgen.app.training import export_generator
from invgen.generators.face64 import FaceDCGAN

# A child process: run the command line, then print its own peak RSS in kB.
CHILD = ("import resource, sys\nfrom invgen.app.cli import main\ncode = main(sys.argv[1:])\n"
         "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)\n")


def peak_mb(argv: list[str]) -> tuple[float, float]:
    """Peak resident memory (MB) and wall time (s) of ``invgen ARGV`` in a fresh process."""
    t0 = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    kb = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_KB"))
    return kb / 1024, time.time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[16, 64, 256], help="image counts, in chunks")
    parser.add_argument("--one-batch", type=int, nargs="*", default=[16, 64],
                        help="image counts also run as one batch of every image")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=16, help="channel width of the untrained face64 generator")
    parser.add_argument("--csgm-steps", type=int, default=3)
    parser.add_argument("--iagan-steps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory.json"))
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.manual_seed(0)
        export_generator(FaceDCGAN(latent_dim=128, width=args.width), root / "g.pt")
        rng = np.random.default_rng(0)
        faces = []
        for i in range(max([*args.images, *args.one_batch])):
            faces.append(str(root / f"face{i:04d}.png"))
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(faces[-1])
        runs = [(n, args.batch_size) for n in args.images] + [(n, n) for n in args.one_batch]
        for k, (n, batch) in enumerate(runs):
            out = root / f"out_{k}"  # a fresh folder each: the same one would resume, computing nothing
            mb, seconds = peak_mb(["reconstruct", *faces[:n], "--task", "sr4", "--method", "iagan", "--bp",
                                   "--generator", str(root / "g.pt"), "--csgm-steps", str(args.csgm_steps),
                                   "--iagan-steps", str(args.iagan_steps), "--batch-size", str(batch),
                                   "--out", str(out), "--quiet"])
            rows.append({"images": n, "batch_size": batch, "peak_rss_mb": mb, "seconds": seconds})
            print(f"{n:>6} images, batch {batch:>4}: peak {mb:8.0f} MB, {seconds:6.1f} s", flush=True)

    print(f"\ninvgen reconstruct, IAGAN-BP with 4 starts, untrained face64 generator of width {args.width}, "
          f"{args.csgm_steps} + {args.iagan_steps} steps, {torch.get_num_threads()} thread(s)")
    print(f"{'images':>6} {'batch':>6} {'peak MB':>8} {'vs first':>9} {'seconds':>8}")
    first = rows[0]["peak_rss_mb"]
    for r in rows:
        print(f"{r['images']:>6} {r['batch_size']:>6} {r['peak_rss_mb']:>8.0f} {r['peak_rss_mb'] / first:>8.2f}× "
              f"{r['seconds']:>8.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "width": args.width,
                                    "csgm_steps": args.csgm_steps, "iagan_steps": args.iagan_steps,
                                    "torch": torch.__version__, "cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
