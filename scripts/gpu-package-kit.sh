#!/usr/bin/env bash
# Prepares a check of the packed npm package on the GPU machine, which has no node, no npm
# and no network: the tarball, npm itself, an npm cache holding the package's dependencies
# (so `npm install --offline` works there) and the check script. Run from the project root
# after `npm run build:ts` and `npm run package:prebuilds` (a CUDA-enabled prebuilt binary), and
# after test/device/kit.sh (which packs node into .device-kit/). Writes .device-kit/package/.
#
# On the GPU machine (with .device-kit beside the repository), from the project root:
#   source .device-kit/enter.sh && bash .device-kit/package/check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
kit=.device-kit/package
rm -rf "$kit"; mkdir -p "$kit"
prebuilt=$(ls prebuilds/linux-x64/*.node 2>/dev/null | head -1 || true)
[[ -n $prebuilt ]] || { echo "no prebuilt binary: run npm run package:prebuilds first" >&2; exit 1; }
node -e 'const r=require(require("path").resolve(process.argv[1])); if(!r.cuda){console.error("the prebuilt binary has no CUDA backend");process.exit(1)}' "${prebuilt%.node}.json"

tgz=$(npm pack --silent --pack-destination "$kit" | tail -1)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
tar -C "$(dirname "$npm_dir")" -cJf "$kit/npm.tar.xz" "$(basename "$npm_dir")"
# Fill a private cache with exactly what installing the tarball fetches.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo '{"name":"kit","version":"1.0.0","private":true}' > "$tmp/package.json"
(cd "$tmp" && npm install --cache "$root/$kit/cache" --no-audit --no-fund --ignore-scripts "$root/$kit/$tgz" >/dev/null)
cp scripts/gpu-package-step.js "$kit/gpu-step.js"

cat > "$kit/check.sh" <<SH
# On the GPU machine, after: source .device-kit/enter.sh
set -euo pipefail
kit=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)
mkdir -p /tmp/pkgcheck && tar -xJf "\$kit/npm.tar.xz" -C /tmp/pkgcheck
npm_cli=/tmp/pkgcheck/$(basename "$npm_dir")/bin/npm-cli.js
app=\$(mktemp -d) && cd "\$app"
echo '{"name":"gpu-consumer","version":"1.0.0","private":true}' > package.json
node "\$npm_cli" install --offline --cache "\$kit/cache" --no-audit --no-fund "\$kit/$tgz"
test ! -e node_modules/cudnn-resnet/build || { echo "FAIL: something was built on install"; exit 1; }
node node_modules/.bin/cudnn-resnet --version
node node_modules/.bin/cudnn-resnet doctor --require-gpu
cp "\$kit/gpu-step.js" . && node gpu-step.js
echo "package check on GPU: PASS"
SH
du -sh "$kit"/* "$kit"
