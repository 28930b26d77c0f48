"""Operator speed, and the exact SR pseudo-inverse against 50 CG iterations on AAᵀ.

    python benchmarks/operators.py [--sizes 64 256 1024] [--out benchmarks/results/operators.json]

Times are medians over ``--repeats`` runs of one image ``(1, 3, N, N)`` in float32 on
the CPU (``torch.get_num_threads()`` threads). The comparison is what DeepInverse does
for SR: exactly 50 conjugate-gradient iterations on ``AAᵀ u = y`` (no early stop), then
``Aᵀu``; time ratio and relative residual ‖A A⁺y − y‖/‖y‖ for both.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import partial
from pathlib import Path

import torch

from invgen.operators import Blur, SubsampledDCT, SuperResolution


def median_seconds(fn, arg: torch.Tensor, repeats: int) -> float:
    """Median wall time of ``fn(arg)``."""
    fn(arg)  # warm-up (plans, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cg_fixed_iterations(apply, b: torch.Tensor, iterations: int) -> torch.Tensor:
    """Plain CG for ``apply(u) = b``, a fixed number of steps: the baseline being timed
    (invgen's own solver stops early, which would flatter the baseline's time)."""
    u, r = torch.zeros_like(b), b.clone()
    p, rr = r.clone(), r.square().sum()
    for _ in range(iterations):
        mp = apply(p)
        alpha = rr / (p * mp).sum()
        u, r = u + alpha * p, r - alpha * mp
        rr, rr_old = r.square().sum(), rr
        p = r + (rr / rr_old) * p
    return u


def cg_pinv(A: SuperResolution, y: torch.Tensor, iterations: int) -> torch.Tensor:
    return A.adjoint(cg_fixed_iterations(lambda v: A(A.adjoint(v)), y, iterations))


def relative_residual(A, x, y) -> float:
    return ((A(x) - y).norm() / y.norm()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (on a shared CPU, 1 avoids timing the wait for a busy core)")
    parser.add_argument("--out", default="benchmarks/results/operators.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    rows = []
    for n in args.sizes:
        shape = (3, n, n)
        ops = {f"SR x{f}": SuperResolution(shape, f) for f in (4, 8, 16) if n % f == 0 and n // f >= 2}
        ops["Blur gauss 1.5"] = Blur.gaussian(shape, 1.5)
        ops["SubsampledDCT 0.25"] = SubsampledDCT(shape, 3 * n * n // 4)
        for name, A in ops.items():
            x = torch.rand(1, *A.in_shape)
            y = A(x)
            rows.append({"operator": name, "size": f"3x{n}x{n}",
                         "forward_ms": 1e3 * median_seconds(A, x, args.repeats),
                         "adjoint_ms": 1e3 * median_seconds(A.adjoint, y, args.repeats),
                         "pinv_ms": 1e3 * median_seconds(A.pinv, y, args.repeats),
                         "pinv_residual": relative_residual(A, A.pinv(y), y)})

    print(f"\n{'operator':<20} {'size':>12} {'forward ms':>11} {'adjoint ms':>11} {'pinv ms':>9} {'pinv resid':>11}")
    for r in rows:
        print(f"{r['operator']:<20} {r['size']:>12} {r['forward_ms']:>11.2f} {r['adjoint_ms']:>11.2f} "
              f"{r['pinv_ms']:>9.2f} {r['pinv_residual']:>11.1e}")

    comparison = []
    for f in (4, 8, 16):
        n = max(args.sizes)
        A = SuperResolution((3, n, n), f)
        y = A(torch.rand(1, 3, n, n))
        cg50 = partial(cg_pinv, A, iterations=50)
        t_exact = median_seconds(A.pinv, y, args.repeats)
        t_cg = median_seconds(cg50, y, max(1, args.repeats // 2))
        comparison.append({"factor": f, "size": f"3x{n}x{n}", "exact_ms": 1e3 * t_exact, "cg50_ms": 1e3 * t_cg,
                           "speedup": t_cg / t_exact, "exact_residual": relative_residual(A, A.pinv(y), y),
                           "cg50_residual": relative_residual(A, cg50(y), y)})
    print(f"\nexact SR pseudo-inverse vs 50 CG iterations on AAᵀ\n"
          f"{'factor':>6} {'size':>12} {'exact ms':>9} {'CG-50 ms':>9} {'speed-up':>9} {'exact resid':>12} {'CG resid':>9}")
    for c in comparison:
        print(f"{c['factor']:>6} {c['size']:>12} {c['exact_ms']:>9.1f} {c['cg50_ms']:>9.1f} {c['speedup']:>8.1f}x "
              f"{c['exact_residual']:>12.1e} {c['cg50_residual']:>9.1e}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__,
                               "operators": rows, "sr_pinv_vs_cg": comparison}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
