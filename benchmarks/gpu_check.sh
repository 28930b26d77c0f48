#!/usr/bin/env bash
# The GPU check (issue 21): one command for a machine with CUDA, under 8 minutes, one table and
# one JSON file (default benchmarks/results/gpu_check.json, or the first argument).
#
#   benchmarks/gpu_check.sh [OUT.json]        # PYTHON=... to use another interpreter than .venv/bin/python
#
# 1. the solvers benchmark on cuda (benchmarks/solvers.py: overhead, IAGAN batching, end to end in
#    float32 and bfloat16; on the CelebA faces of --data / $INVGEN_DATA when there, else on random
#    stand-in faces, which time the same and score nothing);
# 2. invgen reconstruct on cuda in 1 process and in 2 under torchrun (sharing the GPUs there are):
#    the same metrics, to cuDNN's rounding;
# 3. the test suite with INVGEN_TEST_DEVICE=cuda (tests that take a device run on cuda), in the
#    time left.
# Without a CUDA device it stops at once: one line on stderr, exit code 1.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${1:-benchmarks/results/gpu_check.json}"
START=$(date +%s)
DEADLINE=$((START + 470))  # 8 minutes, less the table

"$PY" -c '
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda}): "
             "run it on a machine with an NVIDIA GPU and a CUDA build of torch")
' || exit 1

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
left() { echo $((DEADLINE - $(date +%s))); }

# 1. The solvers benchmark on cuda, float32 and bfloat16.
DATA=$("$PY" -c 'from invgen.app.celeba import default_data; print(default_data())')
FACES="celeba"
if ! "$PY" -c "from invgen.app.celeba import celeba_paths; celeba_paths('$DATA', 'val', 16)" 2>/dev/null; then
    FACES="random stand-ins (timing only)"
    DATA="$WORK/faces"
    "$PY" - "$DATA" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
root = Path(sys.argv[1])
root.mkdir()
rng = np.random.default_rng(0)
for i in range(9001, 9017):
    Image.fromarray(rng.integers(0, 256, (109, 89, 3), dtype=np.uint8)).save(root / f"{i:06d}.jpg")
EOF
fi
T0=$(date +%s)
timeout 170 "$PY" benchmarks/solvers.py --device cuda --parts overhead iagan end-to-end --steps 20 --repeats 2 \
    --e2e-precision float32 bfloat16 --data "$DATA" --out "$WORK/solvers.json" > "$WORK/solvers.log" 2>&1
SOLVERS_RC=$?
SOLVERS_S=$(($(date +%s) - T0))

# 2. invgen reconstruct on cuda: one process, then two under torchrun.
"$PY" - "$WORK/images" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
root = Path(sys.argv[1])
root.mkdir()
rng = np.random.default_rng(1)
for i in range(8):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / f"face{i}.png")
EOF
RECON=(reconstruct "$WORK"/images/face*.png --task sr4 --method iagan --bp --noise 0.02 --csgm-steps 100
       --iagan-steps 50 --batch-size 2 --device cuda --quiet)
T0=$(date +%s)
timeout 90 "$PY" -m invgen "${RECON[@]}" --out "$WORK/one" > "$WORK/one.log" 2>&1
ONE_RC=$?
ONE_S=$(($(date +%s) - T0))
T0=$(date +%s)
timeout 90 "$PY" -m torch.distributed.run --standalone --nproc_per_node=2 -m invgen "${RECON[@]}" --out "$WORK/two" \
    > "$WORK/two.log" 2>&1
TWO_RC=$?
TWO_S=$(($(date +%s) - T0))

# 3. The test suite, the tests that take a device on cuda, in the time left.
T0=$(date +%s)
TESTS_LIMIT=$(left)
INVGEN_TEST_DEVICE=cuda timeout "$TESTS_LIMIT" "$PY" -m pytest -q -p no:cacheprovider \
    tests > "$WORK/tests.log" 2>&1
TESTS_RC=$?
TESTS_S=$(($(date +%s) - T0))

"$PY" - "$WORK" "$OUT" "$FACES" "$SOLVERS_RC" "$SOLVERS_S" "$ONE_RC" "$ONE_S" "$TWO_RC" "$TWO_S" \
    "$TESTS_RC" "$TESTS_S" "$TESTS_LIMIT" <<'EOF'
import json, re, sys
from pathlib import Path
import torch

work, out, faces = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
solvers_rc, solvers_s, one_rc, one_s, two_rc, two_s, tests_rc, tests_s, tests_limit = map(int, sys.argv[4:13])


def tail(name: str) -> str:
    lines = (work / name).read_text(errors="replace").strip().splitlines() if (work / name).is_file() else []
    return lines[-1] if lines else ""


def status(rc: int) -> str:
    return "ok" if rc == 0 else ("timed out" if rc == 124 else f"failed (exit {rc})")


rows = []  # (check, result, seconds, status)
solvers = json.loads((work / "solvers.json").read_text()) if (work / "solvers.json").is_file() else {}
for row in solvers.get("overhead", []):
    rows.append((f"solvers: {row['method']} step, batch {row['batch']}", f"{row['step_ms']:.2f} ms "
                 f"(step/bare {row['ratio']:.2f})", None, "ok"))
if "iagan_batching" in solvers:
    row = solvers["iagan_batching"]
    rows.append(("solvers: iagan step, batch 8 vs 8 singles", f"ratio {row['ratio']:.2f} (goal ≤ 0.5)", None, "ok"))
for row in solvers.get("end_to_end", {}).get("invgen", []):
    rows.append((f"solvers: end to end, {row['precision']}", f"{row['invgen_s']:.2f} s, {row['speedup']:.1f}× the "
                 f"paper's loop, {row['invgen_psnr']:.2f} dB ({faces})", None, "ok"))
rows.append(("solvers benchmark", tail("solvers.log")[:60], solvers_s, status(solvers_rc)))

metrics = {}
for run in ("one", "two"):
    path = work / run / "metrics.json"
    metrics[run] = json.loads(path.read_text())["images"] if path.is_file() else None
if metrics["one"] and metrics["two"]:
    gap = max(abs(metrics["one"][k]["psnr"] - metrics["two"][k]["psnr"]) for k in metrics["one"])
    agree = f"max |ΔPSNR| {gap:.2e} dB over {len(metrics['one'])} images"
    agree_ok = "ok" if gap < 1e-2 else "differ"
else:
    agree, agree_ok = "no metrics to compare", "failed"
rows.append(("reconstruct, 1 process (cuda)", tail("one.log")[:60], one_s, status(one_rc)))
rows.append(("reconstruct, 2 processes (torchrun)", tail("two.log")[:60], two_s, status(two_rc)))
rows.append(("1 vs 2 processes: same metrics", agree, None, agree_ok))
summary = next((line for line in reversed((work / "tests.log").read_text(errors="replace").splitlines())
                if re.search(r"\d+ (passed|failed)", line)), tail("tests.log")) if (work / "tests.log").is_file() else ""
rows.append((f"test suite, INVGEN_TEST_DEVICE=cuda (≤ {tests_limit} s)", summary[:60], tests_s, status(tests_rc)))

print(f"\ninvgen GPU check on {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} GPU(s)), torch "
      f"{torch.__version__}, CUDA {torch.version.cuda}")
print(f"{'check':<48} {'result':<62} {'s':>5} status")
for check, result, seconds, state in rows:
    print(f"{check:<48} {result:<62} {'' if seconds is None else seconds:>5} {state}")
report = {"device": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(), "torch": torch.__version__,
          "cuda": torch.version.cuda, "faces": faces, "solvers": solvers,
          "reconstruct": {"one_process": metrics["one"], "two_processes": metrics["two"], "agreement": agree},
          "tests": {"summary": summary, "seconds": tests_s, "exit": tests_rc},
          "rows": [dict(zip(("check", "result", "seconds", "status"), row)) for row in rows]}
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(report, indent=2))
print(f"wrote {out}")
sys.exit(0 if all(row[3] == "ok" for row in rows) else 1)
EOF
