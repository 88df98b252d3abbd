#!/usr/bin/env bash
# One call on the GPU machine: the cuDNN ABI check, the whole mocha suite (the op suites run
# on cuda:0 too there), and the per-op timings. Writes $OUT/{summary.txt,abi.log,mocha.log,
# ops.json,ops.txt}; prints a short table last; exits non-zero if any step failed.
#
# Prepare here (no GPU needed): `bash test/device/prepare.sh` builds the CUDA addon into
# build-device/, compiles dist/, packs .device-kit/ and prints both device calls:
#   command:   CUDNN_RESNET_ADDON=build-device/Release/cudnn_resnet.node bash test/device/run.sh
#   carry:     [".device-kit", "build-device/Release/cudnn_resnet.node", "dist"]
#   timeout_s: 420
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/cudnn-resnet-device}
mkdir -p "$OUT"
: > "$OUT/summary.txt"
failed=0

step() {  # step NAME LIMIT_S LOG CMD...
  local name=$1 limit=$2 log=$3 t0 rc
  shift 3
  echo "=== $name"
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [[ $rc -eq 0 ]]; then echo "$name: ok ($(( $(date +%s) - t0 )) s)" >> "$OUT/summary.txt"
  else echo "$name: FAILED rc=$rc ($(( $(date +%s) - t0 )) s)" >> "$OUT/summary.txt"; failed=1; fi
}

if [[ ! -f .device-kit/enter.sh ]]; then echo "run.sh: .device-kit is missing (carry it; see the header)"; exit 2; fi
# shellcheck disable=SC1091
source .device-kit/enter.sh
ADDON=${CUDNN_RESNET_ADDON:-build/Release/cudnn_resnet.node}
if [[ ! -f $ADDON ]]; then echo "run.sh: $ADDON is missing (carry build/Release/cudnn_resnet.node)"; exit 2; fi
export CUDNN_RESNET_ADDON=$ADDON
if [[ ! -f dist/test/device/ops_timing.js ]]; then echo "run.sh: dist/ is missing or stale (npx tsc -p . --outDir dist; carry dist)"; exit 2; fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

CUDNN_INC=${CUDNN_INCLUDE_DIR:-}
for d in "$CUDNN_INC" /usr/include/x86_64-linux-gnu /usr/include /usr/local/cuda/include; do
  if [[ -n $d && -f $d/cudnn.h ]]; then CUDNN_INC=$d; break; fi
done
CUDA_INC=${CUDA_INCLUDE_DIR:-}
for d in "$CUDA_INC" /usr/local/cuda/include /usr/local/cuda-13.0/include /usr/include; do
  if [[ -n $d && -f $d/cuda_runtime_api.h ]]; then CUDA_INC=$d; break; fi
done
step "abi-check (cudnn_api.h vs $CUDNN_INC/cudnn.h)" 120 "$OUT/abi.log" bash -c \
  "g++ -std=c++17 -Wno-deprecated-declarations -I'$CUDA_INC' -I'$CUDNN_INC' test/device/abi_check.cpp -o /tmp/cr_abi_check && /tmp/cr_abi_check"

step "cuda-available" 60 "$OUT/cuda_info.json" node -e '
  const info = require("./dist/lib/native").native().cudaInfo();
  console.log(JSON.stringify(info, null, 2));
  if (!info.available) { console.error("CUDA unavailable: " + info.reason); process.exit(1); }'

step "mocha (whole suite, cuda:0 included)" 270 "$OUT/mocha.log" \
  node node_modules/mocha/bin/mocha.js  # spec, timeout, reporter: .mocharc.json (dist/test/**/*.test.js)

# The batch-norm suites again on the other two CUDA paths: our kernels (CUDNN_RESNET_BN=native,
# which cuDNN's acceptance of every test shape would otherwise leave untested) and cuDNN
# without the fused Ex kernel (=plain).
for mode in native plain; do
  step "batch norm with CUDNN_RESNET_BN=$mode" 60 "$OUT/mocha-bn-$mode.log" env CUDNN_RESNET_BN=$mode \
    node node_modules/mocha/bin/mocha.js --no-config --timeout 60000 \
    dist/test/native/batchnorm.test.js dist/test/lib/cuda.test.js dist/test/lib/ops/index.test.js
done

step "ops timing (ResNet-56 shapes, batch 128)" 150 "$OUT/ops.txt" node dist/test/device/ops_timing.js "$OUT/ops.json"

echo
echo "==================== summary"
grep -E '^ +[0-9]+ (passing|failing|pending)' "$OUT/mocha.log" || echo "(no mocha totals: see mocha.log)"
grep -E '^\s+[0-9]+\) ' "$OUT/mocha.log" | head -20
head -1 "$OUT/abi.log" 2>/dev/null
grep -E '^(op|conv fwd|bn fwd |bn bwd |relu fwd|add|sgd|avgpool 8x8 fwd)' "$OUT/ops.txt" | head -40
tail -1 "$OUT/ops.txt"
cat "$OUT/summary.txt"
exit $failed
