#!/usr/bin/env bash
# First contact with a GPU machine in one call: a complete verdict on the CUDA backend.
#
#   bash test/device/prepare.sh        # here: CUDA addon, dist/, .device-kit/ (the one path to carry)
#   bash test/device/run.sh            # there, from the repository root
#   bash test/device/run.sh --dry-run  # anywhere: every step against the CPU (see below)
#
# Steps, each its own process under a timeout, so a crash or a hang costs that step only:
#   versions       driver, CUDA, cuDNN, PyTorch, compilers and sanitizer found
#   abi            native/cuda/cudnn_api.h against the machine's cudnn.h (abi_check.cpp with a
#                  C++ compiler, else abi_check.py)
#   cuda-info      the addon's cudaInfo(): devices, cuDNN found, why not if not
#   mocha          the whole suite; the op suites run on cuda:0 against the CPU reference
#   bn-fused/plain/native   the batch-norm suites once per CUDA path (CUDNN_RESNET_BN)
#   captured-fp32/bf16/fp16 ResNet-20's captured training step against eager steps
#   memcheck       compute-sanitizer memcheck on the op suites (cuda:0 only, shortened shape
#                  lists: CUDNN_RESNET_TEST_SHAPES=small)
#   racecheck, synccheck    the same on the suites of the backend's own kernels
#                  (the three sanitizer steps run beside the suites, in a background lane)
#   ops-timing     per-op timings at ResNet-56 shapes (test/device/ops_timing.ts), if time is left
# then a summary table naming every failure. Exit status 1 if any step failed or timed out.
#
# --dry-run runs every step against the CPU: the op suites, BN suites and captured steps on
# cpu, the sanitizer steps' suites without the sanitizer, and the ABI reader's self-test where
# no cudnn.h is found. It checks the procedure and the kit, not the GPU.
#
# Time: RUN_BUDGET_S (default 450; 3000 for a dry run) bounds the whole run: a step gets at
# most what is left, and steps that would start after it are reported as skipped; the whole
# suite's own limit is MOCHA_LIMIT_S (default 260; 1800 for a dry run). Output: $OUT (default
# /tmp/cudnn-resnet-device) holds one log per step and summary.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
dry=0
[[ ${1:-} == --dry-run ]] && dry=1
OUT=${OUT:-/tmp/cudnn-resnet-device}
# A dry run is slow where it runs (a CPU machine), so it gets more time by default.
BUDGET=${RUN_BUDGET_S:-$(( dry ? 3000 : 450 ))}
MOCHA_LIMIT=${MOCHA_LIMIT_S:-$(( dry ? 1800 : 260 ))}
rm -rf "$OUT" && mkdir -p "$OUT"
t_start=$(date +%s)

if [[ -f .device-kit/enter.sh ]]; then
  # shellcheck disable=SC1091
  source .device-kit/enter.sh
elif (( ! dry )); then
  echo "run.sh: .device-kit/ is missing: run bash test/device/prepare.sh and carry .device-kit"; exit 2
fi
export CUDNN_RESNET_ADDON=${CUDNN_RESNET_ADDON:-build/Release/cudnn_resnet.node}
for need in "$CUDNN_RESNET_ADDON" dist/test/device/captured_step.js node_modules/mocha/bin/mocha.js; do
  [[ -e $need ]] || { echo "run.sh: $need is missing (prepare.sh builds and packs it)"; exit 2; }
done
DEVICE=cuda:0
(( dry )) && DEVICE=cpu
MOCHA=(node node_modules/mocha/bin/mocha.js)
ONLY=(--grep "\\[$DEVICE\\]")  # describeDevices titles: "<suite> [cpu]" / "<suite> [cuda:0]"

# The op suites (per-device tests of each op family), and those of the backend's own kernels.
op_suites=()
own_suites=()
for f in dist/test/native/*.test.js dist/test/native/cpu/*.test.js; do
  [[ -f $f ]] || continue
  op_suites+=("$f")
  case $(basename "$f" .test.js) in
    elementwise|fill|reduce|sgd|loss|loss_scale|amp|shortcut|augment|linear|convert|batchnorm) own_suites+=("$f") ;;
  esac
done
bn_suites=()
for f in dist/test/native/batchnorm.test.js dist/test/native/cpu/batchnorm.test.js dist/test/lib/cuda.test.js \
  dist/test/lib/ops/index.test.js dist/test/lib/ops/batchnorm.test.js dist/test/lib/autograd/functions.test.js; do
  [[ -f $f ]] && bn_suites+=("$f")
done

SANITIZER=$(command -v compute-sanitizer || true)
for d in /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer /opt/cuda/bin; do
  [[ -z $SANITIZER && -x $d/compute-sanitizer ]] && SANITIZER=$d/compute-sanitizer
done
CXX_BIN=$(command -v g++ || command -v c++ || command -v clang++ || true)

# One line per finished step in records.tsv: steps of the sanitizer lane (below) finish in a
# background process, so results go through a file, and the verdict lists them in this order.
ORDER=(versions abi-selftest abi cuda-info mocha bn-fused bn-plain bn-native captured-fp32 captured-bf16
  captured-fp16 memcheck racecheck synccheck ops-timing)
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$OUT/records.tsv"; }

# The one-line note of a step: mocha's totals, a sanitizer's error summary, else the last line.
note_of() {
  local log=$1 n
  n=$(grep -E '^ +[0-9]+ (passing|failing|pending)' "$log" | sed 's/ *(.*)//; s/^ *//' | paste -sd, - | sed 's/,/, /g')
  [[ -z $n ]] && n=$(grep -E 'ERROR SUMMARY' "$log" | tail -1 | sed 's/^=* *//')
  [[ -z $n ]] && n=$(grep -v '^\s*$' "$log" | tail -1)
  echo "${n:0:70}"
}

step() {  # step NAME LIMIT_S CMD...  (the log is $OUT/NAME.log)
  local name=$1 limit=$2 t0 rc left status
  shift 2
  left=$(( BUDGET - ($(date +%s) - t_start) ))
  if (( left < 15 )); then record "$name" SKIP 0 "time budget (RUN_BUDGET_S=$BUDGET) spent"; return; fi
  (( limit > left )) && limit=$left
  echo "=== $name (limit ${limit} s)${LANE:+ [$LANE]}"
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok; grep -qE '^ +0 passing' "$OUT/$name.log" && status="FAIL(none ran)" ;;
    124|137) status=TIMEOUT ;;
    *) status="FAIL($rc)" ;;
  esac
  [[ -z ${LANE:-} ]] && tail -4 "$OUT/$name.log" | sed 's/^/    /'
  record "$name" "$status" $(( $(date +%s) - t0 )) "$(note_of "$OUT/$name.log")"
}

skip() { echo "=== $1: skipped ($2)"; record "$1" SKIP 0 "$2"; }

# ---------------------------------------------------------------- versions
versions() {
  echo "mode:        $([[ $dry == 1 ]] && echo 'dry run (every step on the CPU)' || echo "GPU run on $DEVICE")"
  local gpu cuda
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  cuda=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1)
  echo "gpu/driver:  ${gpu:-none (no nvidia-smi)}"
  echo "cuda driver: ${cuda:-none}"
  echo "nvcc:        $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo none)"
  echo "sanitizer:   ${SANITIZER:-none} $([[ -n $SANITIZER ]] && "$SANITIZER" --version 2>/dev/null | grep -o 'Version [0-9.]*' | head -1)"
  echo "c++:         ${CXX_BIN:-none}"
  echo "glibc:       $(ldd --version 2>/dev/null | head -1 | grep -o '[0-9.]*$')"
  local torch
  torch=$(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>/dev/null)
  echo "pytorch:     ${torch:-none}"
  node -e '
    const n = require("./dist/lib/native").native();
    const b = n.buildInfo(), c = n.cudaInfo();
    console.log(`node:        ${process.version}`);
    console.log(`addon:       v${b.version}, cuda ${b.cuda} (${b.cudaArchitectures || "no CUDA architectures"}), ${b.cpuThreads} CPU threads`);
    console.log(`addon cuda:  runtime ${c.runtimeVersion}, driver ${c.driverVersion}, cuDNN ${c.cudnnVersion || "not loaded"} ${c.cudnnPath || ""}`);
    if (!c.available) console.log(`             unavailable: ${c.reason}`);'
  # the last line is the verdict's note
  local cudnn
  cudnn=$(node -e 'const v = require("./dist/lib/native").native().cudaInfo().cudnnVersion; process.stdout.write(v ? String(v) : "not loaded")' 2>/dev/null)
  local drv tv
  drv=$(cut -s -d, -f2 <<< "$gpu" | tr -d ' ')
  tv=${torch%% *}
  echo "found: driver ${drv:-none}, ${cuda:-CUDA none}, cuDNN ${cudnn:-?}, PyTorch ${tv:-none}"
}
export dry DEVICE SANITIZER CXX_BIN
export -f versions
step versions 30 bash -c versions
cat "$OUT/versions.log"

# ---------------------------------------------------------------- ABI
cudnn_inc=${CUDNN_INCLUDE_DIR:-}
cands=("$cudnn_inc" /usr/include /usr/include/x86_64-linux-gnu /usr/local/cuda/include /usr/local/cuda/targets/x86_64-linux/include)
cands+=("$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], "include"))' 2>/dev/null)")
cands+=("$(node -e 'const p = require("./dist/lib/native").native().cudaInfo().cudnnPath; if (p) console.log(require("path").join(p, "..", "..", "include"))' 2>/dev/null)")
cudnn_inc=
for d in "${cands[@]}"; do [[ -n $d && -f $d/cudnn.h ]] && { cudnn_inc=$d; break; }; done
cuda_inc=
for d in ${CUDA_INCLUDE_DIR:-} /usr/local/cuda/include /usr/local/cuda/targets/x86_64-linux/include /usr/include \
  "$(python3 -c 'import nvidia.cuda_runtime, os; print(os.path.join(list(nvidia.cuda_runtime.__path__)[0], "include"))' 2>/dev/null)"; do
  [[ -n $d && -f $d/cuda_runtime_api.h ]] && { cuda_inc=$d; break; }
done
if [[ -z $cudnn_inc ]]; then
  if command -v python3 >/dev/null; then
    step abi-selftest 30 python3 test/device/abi_check.py --self-test
  fi
  skip abi "no cudnn.h found (set CUDNN_INCLUDE_DIR)"
elif [[ -n $CXX_BIN && -n $cuda_inc ]]; then
  step abi 120 bash -c "'$CXX_BIN' -std=c++17 -Wno-deprecated-declarations -I'$cuda_inc' -I'$cudnn_inc' \
    test/device/abi_check.cpp -o '$OUT/abi_check' && '$OUT/abi_check' && echo 'ABI OK (compiled against $cudnn_inc/cudnn.h)'"
elif command -v python3 >/dev/null; then
  step abi 60 bash -c "python3 test/device/abi_check.py --self-test && python3 test/device/abi_check.py '$cudnn_inc'"
else
  skip abi "neither a C++ compiler nor python3 here"
fi

# ---------------------------------------------------------------- CUDA info
step cuda-info 60 node -e '
  const info = require("./dist/lib/native").native().cudaInfo();
  console.log(JSON.stringify(info, null, 2));
  if (!info.available) { console.log(`CUDA unavailable: ${info.reason}`); process.exit(process.argv[1] === "1" ? 0 : 1); }
  console.log(`CUDA available: ${info.devices.map((d) => `${d.name} (sm_${d.computeCapability})`).join(", ")}, cuDNN ${info.cudnnVersion}`);' "$dry"

# ---------------------------------------------------------------- sanitizers (a parallel lane)
# compute-sanitizer slows the GPU side by orders of magnitude while the whole suite is mostly
# CPU work: the sanitizer runs share the GPU with it in a background lane, so that both fit.
sanitize() {  # sanitize TOOL LIMIT SUITES...
  local tool=$1 limit=$2
  shift 2
  local run=("${MOCHA[@]}" --no-config --timeout 600000 "${ONLY[@]}" "$@")
  if (( dry )); then step "$tool" "$limit" env CUDNN_RESNET_TEST_SHAPES=small "${run[@]}"
  elif [[ -z $SANITIZER ]]; then skip "$tool" "compute-sanitizer not found (CUDA toolkit's bin/)"
  else
    step "$tool" "$limit" env CUDNN_RESNET_TEST_SHAPES=small "$SANITIZER" --tool "$tool" --error-exitcode 99 \
      --print-limit 20 "${run[@]}"
  fi
}
(
  LANE=sanitizer-lane
  sanitize memcheck 240 "${op_suites[@]}"
  sanitize racecheck 150 "${own_suites[@]}"
  sanitize synccheck 90 "${own_suites[@]}"
) &
lane=$!

# ---------------------------------------------------------------- suites
step mocha "$MOCHA_LIMIT" "${MOCHA[@]}"  # spec, timeout, reporter: .mocharc.json (dist/test/**/*.test.js)

for path in fused plain native; do
  mode=$path; [[ $path == fused ]] && mode=
  step "bn-$path" 60 env CUDNN_RESNET_BN=$mode "${MOCHA[@]}" --no-config --timeout 120000 "${bn_suites[@]}"
done

for p in fp32 bf16 fp16; do
  step "captured-$p" 90 node dist/test/device/captured_step.js --device "$DEVICE" --precision "$p"
done

wait "$lane"

# ---------------------------------------------------------------- per-op timings (informative)
if (( dry )); then skip ops-timing "times cuda:0 only"
else step ops-timing 90 node dist/test/device/ops_timing.js "$OUT/ops.json"
fi

# ---------------------------------------------------------------- verdict
{
  echo
  echo "==================== verdict: $([[ $dry == 1 ]] && echo 'dry run on the CPU' || echo "$DEVICE") ($(( $(date +%s) - t_start )) s, logs in $OUT)"
  printf '%-15s %-9s %5s  %s\n' step status time note
  n_ok=0 n_bad=0 n_skip=0 bad=()
  for name in "${ORDER[@]}"; do
    IFS=$'\t' read -r _ status secs note < <(awk -F'\t' -v n="$name" '$1 == n' "$OUT/records.tsv" | tail -1) || continue
    printf '%-15s %-9s %4ss  %s\n' "$name" "$status" "$secs" "$note"
    case $status in ok) n_ok=$(( n_ok + 1 )) ;; SKIP) n_skip=$(( n_skip + 1 )) ;; *) n_bad=$(( n_bad + 1 )); bad+=("$name") ;; esac
  done
  for name in ${bad[@]+"${bad[@]}"}; do
    log="$OUT/$name.log"
    echo "--- $name: $(awk -F'\t' -v n="$name" '$1 == n { s = $2 } END { print s }' "$OUT/records.tsv")"
    if grep -qE '^ +[0-9]+ failing' "$log"; then
      sed -n '/^ *[0-9]* failing/,$p' "$log" | grep -E '^ +[0-9]+\) ' | head -12
    elif grep -q 'ERROR SUMMARY' "$log"; then
      grep -E '^========= (Invalid|Race|Barrier|Program hit|Error)' "$log" | sort | uniq -c | sort -rn | head -6
    else
      grep -v '^\s*$' "$log" | tail -5
    fi
  done
  echo "$([[ $n_bad == 0 ]] && echo PASS || echo FAIL): $n_ok ok, $n_bad failed, $n_skip skipped"
} | tee "$OUT/summary.txt"
grep -q '^PASS' "$OUT/summary.txt"
