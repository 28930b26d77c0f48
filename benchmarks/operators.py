"""Operator speed, and the exact SR pseudo-inverse against 50 CG iterations on AAᵀ.

    python benchmarks/operators.py [--sizes 64 256 1024] [--out benchmarks/results/operators.json]

Times are medians over ``--repeats`` runs of one image ``(1, 3, N, N)`` in float32 on
the CPU (``torch.get_num_threads()`` threads). The comparison is what DeepInverse does
for SR (CG, 50 iterations): time ratio and relative residual ‖A A⁺y − y‖/‖y‖ for both.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from invgen.operators import Blur, SubsampledDCT, SuperResolution
from invgen.operators.cg import conjugate_gradient


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (plans, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def relative_residual(A, x, y) -> float:
    return ((A(x) - y).norm() / y.norm()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/operators.json")
    args = parser.parse_args()
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
                         "forward_ms": 1e3 * median_seconds(lambda: A(x), args.repeats),
                         "adjoint_ms": 1e3 * median_seconds(lambda: A.adjoint(y), args.repeats),
                         "pinv_ms": 1e3 * median_seconds(lambda: A.pinv(y), args.repeats),
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

        def cg50():
            return A.adjoint(conjugate_gradient(lambda v: A(A.adjoint(v)), y, tol=0.0, max_iter=50))

        t_exact = median_seconds(lambda: A.pinv(y), args.repeats)
        t_cg = median_seconds(cg50, max(1, args.repeats // 2))
        comparison.append({"factor": f, "size": f"3x{n}x{n}", "exact_ms": 1e3 * t_exact, "cg50_ms": 1e3 * t_cg,
                           "speedup": t_cg / t_exact, "exact_residual": relative_residual(A, A.pinv(y), y),
                           "cg50_residual": relative_residual(A, cg50(), y)})
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
