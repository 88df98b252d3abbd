#!/usr/bin/env bash
# Prepares, on a build machine (no GPU needed), everything the device checks need, and
# prints the calls to make on the GPU machine. Builds the addon with the CUDA backend into
# build-device/ (a CPU-only build/ is left alone), compiles the TypeScript into dist/ and
# packs node, the run-time node_modules, dist/ and the addon into .device-kit/ (see kit.sh):
# the one path to carry; no build tree travels.
#
#   bash test/device/prepare.sh
#
# Needs here: node and npm, nvcc (CUDA 13) on PATH or in /usr/local/cuda/bin, cmake, a C++17
# compiler, xz. Then on the GPU machine, from the repository root (no node, npm or compiler
# needed there; glibc >= 2.32, an NVIDIA driver for CUDA 13 and cuDNN 9; python3, a C++
# compiler and compute-sanitizer are used when present):
#   bash test/device/run.sh       first contact: a complete verdict in one call (RUN_BUDGET_S)
#   bash test/device/bench.sh     the benchmark against PyTorch (BENCH_BUDGET_S, BENCH_LIMIT_S)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/cuda/bin"
[[ -d node_modules ]] || npm install
command -v nvcc >/dev/null || { echo "prepare.sh: nvcc not found: the addon would have no CUDA backend"; exit 2; }
CUDNN_RESNET_BUILD_DIR=build-device node scripts/build-native.js
addon=build-device/Release/cudnn_resnet.node
node -e '
  const b = require(require("path").resolve(process.argv[1])).buildInfo();
  if (!b.cuda) { console.error("prepare.sh: the addon has no CUDA backend: " + JSON.stringify(b)); process.exit(1); }
  console.log("addon: CUDA backend for " + b.cudaArchitectures);' "$addon"
npx tsc -p tsconfig.json
bash test/device/kit.sh "$addon" | tail -1
cat .device-kit/manifest.txt
cat <<TXT
carry: [".device-kit"]  ($(du -sb .device-kit | awk '{ printf "%.1f MiB", $1 / 1048576 }'))
device calls, from the repository root:
  bash test/device/run.sh      (about 5-8 minutes; RUN_BUDGET_S=450 bounds it)
  bash test/device/bench.sh    (about 8 minutes; see its header)
dry run here first (every step against the CPU): bash test/device/run.sh --dry-run
TXT
