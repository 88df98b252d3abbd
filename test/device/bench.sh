#!/usr/bin/env bash
# One call on the GPU machine: `npm run bench` against PyTorch over the benchmark rows (the
# protocol unreduced: 10 warm-up steps, 3 runs of 50), ResNet-20/56 first, the other rows
# while the budget lasts; then, if time is left, one end-to-end CIFAR-10-sized epoch.
# Writes $OUT/{bench.json,bench.log,e2e.json,e2e.log,env.txt,summary.txt} and
# $OUT/results/<date>-<gpu>.json (copy that into bench/results/ to keep it); prints the
# comparison table last. Exit status: non-zero if the step bench failed or measured nothing.
#
# Prepare here (no GPU needed): `bash test/device/prepare.sh` builds the CUDA addon, compiles
# dist/ and packs both with node into .device-kit/, the one path to carry; then, on the GPU
# machine, from the repository root: bash test/device/bench.sh
# Time: BENCH_BUDGET_S (default 240) is when the step bench starts no new row; the row in
# flight finishes (ResNet-50 fp32 + its PyTorch row is the longest, about 1.5 min on an H100),
# and the whole step bench is cut at BENCH_LIMIT_S (default 390; bench.json is rewritten after
# every row, so a cut keeps what was measured). The end-to-end epoch gets E2E_LIMIT_S (default
# 75) of what is left before BENCH_TOTAL_S (default 450), which bounds the whole call.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/cudnn-resnet-bench}
BUDGET=${BENCH_BUDGET_S:-240}
LIMIT=${BENCH_LIMIT_S:-390}
E2E_LIMIT=${E2E_LIMIT_S:-75}
ROWS=${BENCH_ROWS:-resnet20:128,resnet56:128,resnet56:512,resnet110:128,plain56:128,resnet18:256,resnet50:256}
DEVICE=${BENCH_DEVICE:-cuda:0}
# Extra options for both runs, e.g. a dry run on a CPU machine:
#   BENCH_DEVICE=cpu BENCH_EXTRA='--warmup 0 --steps 1 --runs 1 --e2e-images 256' BENCH_ROWS=resnet8:8
read -r -a EXTRA <<< "${BENCH_EXTRA:-}"
E2E_ROWS=${BENCH_E2E_ROWS:-resnet20:128,resnet56:128}
mkdir -p "$OUT/results"
: > "$OUT/summary.txt"
t_start=$(date +%s)

if [[ ! -f .device-kit/enter.sh ]]; then echo "bench.sh: .device-kit is missing (bash test/device/prepare.sh; carry it)"; exit 2; fi
# shellcheck disable=SC1091
source .device-kit/enter.sh
ADDON=${CUDNN_RESNET_ADDON:-build/Release/cudnn_resnet.node}  # enter.sh sets it to the kit's
if [[ ! -f $ADDON ]]; then echo "bench.sh: $ADDON is missing (bash test/device/prepare.sh packs it)"; exit 2; fi
export CUDNN_RESNET_ADDON=$ADDON
if [[ ! -f dist/bench/run.js ]]; then echo "bench.sh: dist/bench/run.js is missing (bash test/device/prepare.sh packs it)"; exit 2; fi

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1 | tail -1
  node -e 'const i = require("./dist/lib/native").native().cudaInfo(); console.log("addon cuda available:", i.available, i.reason || "", "cudnn", i.cudnnVersion)'
} 2>&1 | tee "$OUT/env.txt"

echo "=== step bench (budget ${BUDGET} s, limit ${LIMIT} s)"
timeout --kill-after=10 "$LIMIT" node dist/bench/run.js --rows "$ROWS" --precisions fp32,bf16,fp16 --device "$DEVICE" \
  --pytorch --pytorch-compile resnet20:128,resnet56:128 --pytorch-timeout 150 --budget "$BUDGET" \
  --json "$OUT/bench.json" --out-dir "$OUT/results" "${EXTRA[@]}" > "$OUT/bench.log" 2>&1 &
pid=$!
tail -n +1 --pid=$pid -f "$OUT/bench.log" 2>/dev/null | grep --line-buffered -E '^([a-z0-9-]+:[0-9]+ |pytorch:|bench:)' || true
wait $pid
rc=$?
echo "step bench: rc=$rc ($(( $(date +%s) - t_start )) s)" >> "$OUT/summary.txt"

left=$(( ${BENCH_TOTAL_S:-450} - ($(date +%s) - t_start) ))
if (( left > 40 )); then
  lim=$(( left < E2E_LIMIT ? left : E2E_LIMIT ))
  echo "=== end to end (limit ${lim} s)"
  timeout --kill-after=5 "$lim" node dist/bench/run.js --e2e-only --rows "$E2E_ROWS" --precisions bf16 --device "$DEVICE" \
    --cache-dir /tmp/cudnn-resnet-bench-cache --json "$OUT/e2e.json" "${EXTRA[@]}" > "$OUT/e2e.log" 2>&1
  echo "e2e: rc=$? ($(( $(date +%s) - t_start )) s)" >> "$OUT/summary.txt"
else
  echo "e2e: skipped, ${left} s left" >> "$OUT/summary.txt"
fi

echo
echo "==================== summary"
cat "$OUT/env.txt"
cat "$OUT/summary.txt"
if [[ -f $OUT/e2e.json ]]; then node dist/bench/run.js --report "$OUT/e2e.json" | sed -n '/^end to end/,$p'; echo; fi
# the step table (with the floors), then the comparison table last; from bench.json, which
# is rewritten after every row, so a run cut by its limit still reports what it measured
if [[ -f $OUT/bench.json ]]; then node dist/bench/run.js --report "$OUT/bench.json" | sed -n '/^model:batch  prec/,$p'
else echo "(no bench.json: the step bench measured nothing; see $OUT/bench.log)"; tail -20 "$OUT/bench.log"; fi
if [[ $rc -ne 0 ]] || ! grep -q 'ms/step' "$OUT/bench.log"; then exit 1; fi
exit 0
