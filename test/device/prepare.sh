#!/usr/bin/env bash
# Prepares, on the build machine (no GPU), everything the two device calls need, and
# prints them. Builds the addon with the CUDA backend into build-device/ (a separate folder,
# so a CPU-only build/ is left alone), compiles the TypeScript into dist/, packs node and
# node_modules into .device-kit/ and checks that the carried paths fit the 64 MiB limit.
#
#   bash test/device/prepare.sh
#
# Then, with the device tool (15 minutes of device time in all; run.sh takes about 5,
# bench.sh about 8):
#   1. command "CUDNN_RESNET_ADDON=build-device/Release/cudnn_resnet.node bash test/device/run.sh"
#   2. command "CUDNN_RESNET_ADDON=build-device/Release/cudnn_resnet.node bash test/device/bench.sh"
#   carry [".device-kit", "build-device/Release/cudnn_resnet.node", "dist"] for both.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -d node_modules ]] || npm install
command -v nvcc >/dev/null || { echo "prepare.sh: nvcc is not on PATH: the addon would have no CUDA backend"; exit 2; }
CUDNN_RESNET_BUILD_DIR=build-device node scripts/build-native.js
node -e '
  process.env.CUDNN_RESNET_ADDON = "build-device/Release/cudnn_resnet.node";
  const b = require(require("path").resolve(process.env.CUDNN_RESNET_ADDON)).buildInfo();
  if (!b.cuda) { console.error("prepare.sh: build-device has no CUDA backend: " + JSON.stringify(b)); process.exit(1); }
  console.log("addon: CUDA backend for " + b.cudaArchitectures);'
npx tsc -p . --outDir dist
bash ../shared/tools/device-kit.sh > /dev/null
total=$(du -scb .device-kit build-device/Release/cudnn_resnet.node dist | tail -1 | cut -f1)
echo "carry: $(( total / 1024 / 1024 )) MiB of 64"
(( total < 64 * 1024 * 1024 )) || { echo "prepare.sh: the carried paths exceed 64 MiB"; exit 1; }
cat <<'TXT'
device call 1 (GPU tests, ABI check, op timings; timeout_s 420):
  CUDNN_RESNET_ADDON=build-device/Release/cudnn_resnet.node bash test/device/run.sh
device call 2 (bench against PyTorch, end to end; timeout_s 540):
  CUDNN_RESNET_ADDON=build-device/Release/cudnn_resnet.node bash test/device/bench.sh
carry for both: [".device-kit", "build-device/Release/cudnn_resnet.node", "dist"]
TXT
