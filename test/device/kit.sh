#!/usr/bin/env bash
# Packs into .device-kit/ everything test/device/run.sh and bench.sh need on a GPU machine
# that has no node, no npm and no compiler: a node runtime (the binary of the node that runs
# this script, stripped, with the C++ runtime libraries it and the addon link against), the
# run-time node_modules (mocha and the package's dependencies; no TypeScript, no build
# tools), the compiled dist/ and the addon. Everything is xz-compressed; .device-kit/ is the
# one path to carry. On the GPU machine, from the repository root: source .device-kit/enter.sh
#
#   bash test/device/kit.sh ADDON     (ADDON: the built .node file, e.g. with the CUDA backend)
#
# Requires here: node, xz, strip, ldd, tar, and a compiled dist/ (npx tsc -p tsconfig.json).
# Requires there: x86-64 Linux with glibc >= 2.28 for node and >= 2.32 for the addon (checked
# by enter.sh), tar, xz or python3, an NVIDIA driver new enough for the CUDA runtime the addon was built with, and
# cuDNN 9 where the addon's loader finds it (CUDNN_LIBRARY_PATH, the system library path, or a
# Python nvidia-cudnn wheel, as PyTorch installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
addon=${1:?usage: bash test/device/kit.sh path/to/cudnn_resnet.node}
[[ -f $addon ]] || { echo "kit.sh: no addon at $addon" >&2; exit 2; }
[[ -f dist/test/device/captured_step.js ]] || { echo "kit.sh: dist/ is missing or stale: run npx tsc -p tsconfig.json" >&2; exit 2; }
node_bin=$(readlink -f "$(command -v node)")
kit=.device-kit
grep -qx '/.device-kit/' .gitignore 2>/dev/null || echo "kit.sh: note: .device-kit/ is not in .gitignore"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# node and the non-glibc libraries it and the addon need; enter.sh uses these libraries only
# where the machine's own are too old to load the addon. Compressing node is the slow part:
# an unchanged runtime (same node, same libraries) is kept from the previous kit.
libs=$(ldd "$node_bin" "$addon" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u | grep -E '/lib(stdc\+\+|gcc_s)\.so' || true)
runtime_key="$(for f in "$node_bin" $libs; do readlink -f "$f" | xargs stat -c '%n %s %Y'; done | cksum)"
if [[ -f $kit/runtime.tar.xz && "$(cat "$kit/runtime.key" 2>/dev/null)" == "$runtime_key" ]]; then
  mv "$kit/runtime.tar.xz" "$stage/runtime.tar.xz"
fi
rm -rf "$kit"
mkdir -p "$kit"
if [[ -f $stage/runtime.tar.xz ]]; then
  mv "$stage/runtime.tar.xz" "$kit/runtime.tar.xz"
else
  mkdir -p "$stage/runtime/bin" "$stage/runtime/lib"
  strip -o "$stage/runtime/bin/node" "$node_bin"
  for lib in $libs; do cp -L "$lib" "$stage/runtime/lib/$(basename "$lib")"; done
  tar -C "$stage/runtime" -cf - . | xz -T0 -6 > "$kit/runtime.tar.xz"
fi
echo "$runtime_key" > "$kit/runtime.key"
xz -T0 -c "$addon" > "$kit/addon.node.xz"
# Compile-time-only packages stay behind: the device runs built JS and never compiles.
tar -cf - --exclude=node_modules/typescript --exclude=node_modules/@types --exclude=node_modules/esbuild \
  --exclude=node_modules/@esbuild --exclude=node_modules/.cache --exclude=node_modules/cmake-js \
  --exclude=node_modules/node-api-headers --exclude=node_modules/prebuildify --exclude=node_modules/node-addon-api \
  node_modules | xz -T0 -6 > "$kit/node_modules.tar.xz"
tar -cf - dist | xz -T0 -6 > "$kit/dist.tar.xz"

id="$(date -u +%Y%m%dT%H%M%SZ)-$(cat "$kit"/*.xz | cksum | cut -d' ' -f1)"
{
  echo "id $id"
  echo "node $("$node_bin" -v)"
  echo "addon $(basename "$addon") $(node -e 'const b = require(require("path").resolve(process.argv[1])).buildInfo(); process.stdout.write(`v${b.version}, cuda ${b.cuda}, architectures ${b.cudaArchitectures || "none"}`)' "$addon")"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
} > "$kit/manifest.txt"

cat > "$kit/enter.sh" <<'SH'
# Sourced from the repository root on the machine that runs the device checks. Unpacks the
# node runtime and the addon into a scratch folder (fresh on every call), puts node on PATH,
# sets CUDNN_RESNET_ADDON, and unpacks dist/ and node_modules/ where they are absent or were
# unpacked from another kit (a machine that keeps files between calls must not run an older
# dist/). A dist/ or node_modules/ of a local build (no .kit-id) is left alone.
kit_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kit_id=$(sed -n 's/^id //p' "$kit_dir/manifest.txt")
kit_rt=${TMPDIR:-/tmp}/cudnn-resnet-kit
kit_unxz() {  # xz -dc, or Python's lzma where xz is not installed
  if command -v xz >/dev/null; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
rm -rf "$kit_rt" && mkdir -p "$kit_rt"
kit_unxz "$kit_dir/runtime.tar.xz" | tar -C "$kit_rt" -xf -
kit_unxz "$kit_dir/addon.node.xz" > "$kit_rt/cudnn_resnet.node"
for part in dist node_modules; do
  if [[ ! -e $part || ( -f $part/.kit-id && "$(cat "$part/.kit-id")" != "$kit_id" ) ]]; then
    rm -rf "$part" && kit_unxz "$kit_dir/$part.tar.xz" | tar -xf - && echo "$kit_id" > "$part/.kit-id"
  fi
done
export PATH="$kit_rt/bin:$PATH"
export CUDNN_RESNET_ADDON="$kit_rt/cudnn_resnet.node"
kit_probe='require(process.env.CUDNN_RESNET_ADDON).buildInfo()'
if ! node -e "$kit_probe" 2>/dev/null; then
  # The machine's libstdc++ is older than the addon's: use the one that came with the kit.
  export LD_LIBRARY_PATH="$kit_rt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  node -e "$kit_probe" || echo "enter.sh: the addon does not load here (see the error above; it needs glibc >= 2.32)"
  echo "enter.sh: using the kit's C++ runtime ($kit_rt/lib)"
fi
kit_gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
echo "kit $kit_id: node $(node -v 2>&1) on ${kit_gpu:-a machine without a visible GPU}"
unset -f kit_unxz
unset kit_dir kit_id kit_probe kit_gpu part
SH
du -ab "$kit" | sort -n | awk '{ printf "%8.1f MiB  %s\n", $1 / 1048576, $2 }'
