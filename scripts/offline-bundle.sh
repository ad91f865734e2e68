#!/usr/bin/env bash
# Builds an offline bundle of lpbench: the tracked sources at HEAD, node_modules/ (the npm packages,
# vendored by `deno install`) and the Deno binary, in one .tar.xz. Run it where there is network and
# Deno; on the GPU host (no network, no Deno) unpack and run:
#
#   scripts/offline-bundle.sh [lpbench-offline.tar.xz]        # here
#   tar xJf lpbench-offline.tar.xz && cd lpbench              # there
#   ./deno task bench recipes/quick.yaml                       # or kernels, report, verify, test
#
# Deno finds every npm package in node_modules/ and needs no registry (it may print failed
# "Download" lines for packages it checks lazily; they are harmless). A WebGPU adapter still needs
# the host's Vulkan loader (libvulkan1) and GPU driver.
#
# npm:webgpu (Dawn, `--gpu dawn`) ships a prebuilt dawn.node for every platform (~130 MB); the
# bundle keeps only dist/<platform> of this machine's platform, the one its Deno binary runs on.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=$(realpath -m "${1:-lpbench-offline.tar.xz}")
deno_bin=$(readlink -f "$(command -v deno)")
[ -x "$deno_bin" ] || { echo "error: deno is not on PATH" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/lpbench"
git archive HEAD | tar x -C "$stage/lpbench"
(cd "$stage/lpbench" && "$deno_bin" install >/dev/null 2>&1) || { echo "error: deno install failed (network?)" >&2; exit 1; }
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) platform=linux-x64 ;;
  Linux/aarch64 | Linux/arm64) platform=linux-arm64 ;;
  Darwin/*) platform=darwin-universal ;;
  *) echo "error: no npm:webgpu build for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
kept=0
for dist in "$stage"/lpbench/node_modules/.deno/webgpu@*/node_modules/webgpu/dist; do
  [ -d "$dist/$platform" ] || { echo "error: $dist has no $platform build" >&2; exit 1; }
  find "$dist" -mindepth 1 -maxdepth 1 ! -name "$platform" -exec rm -rf {} +
  kept=$((kept + 1))
done
[ "$kept" -gt 0 ] || { echo "error: npm:webgpu is missing from node_modules" >&2; exit 1; }
cp "$deno_bin" "$stage/lpbench/deno"
tar c -C "$stage" lpbench | xz -T0 -6 > "$out"
echo "wrote $out ($(du -h "$out" | cut -f1); Deno $("$deno_bin" --version | head -1 | cut -d' ' -f2), npm:webgpu for $platform, commit $(git rev-parse --short HEAD))"
