#!/usr/bin/env bash
# Builds gpu-bundle/weightscope-gpu.tar.xz (issue 19): everything bench/gpu/run.sh needs on a GPU machine that has no
# Node.js, npm or network — the Node binary, the compiled project and bench/gpu scripts, the node_modules the engine
# loads (onnxruntime-node's Linux x64 library, which carries the WebGPU execution provider; koffi; onnx-proto; zod;
# fflate), the fixtures the check uses, and Debian's Vulkan loader + libglvnd and OpenBLAS packages (unpacked there
# only when the machine lacks them). xz-compressed; must stay ≤ 60 MiB (the GPU machine takes 64 MiB of build output).
#
#   bash bench/gpu/pack.sh            (from anywhere; prints the bundle's size)
# Environment: WEIGHTSCOPE_SHARED (default ../shared beside the repository), WEIGHTSCOPE_XZ_LEVEL (default 6),
# WEIGHTSCOPE_BUNDLE_OUT (default gpu-bundle: the folder the bundle is written to).
# gpu-bundle/ (git-ignored) holds only the bundle, the one path to carry; .bench-out/gpu-pack keeps the staging
# folder's leftovers and caches the downloaded packages between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${WEIGHTSCOPE_BUNDLE_OUT:-gpu-bundle}
WORK=.bench-out/gpu-pack
STAGE=$WORK/stage
SHARED=${WEIGHTSCOPE_SHARED:-$ROOT/../shared}
LEVEL=${WEIGHTSCOPE_XZ_LEVEL:-6}
LIMIT_MIB=60
DEBS=(libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0 libopenblas0-pthread libgfortran5 libquadmath0)
t0=$SECONDS
[ -d "$SHARED/fixtures" ] || { echo "pack.sh: fixtures not found at $SHARED/fixtures (set WEIGHTSCOPE_SHARED)" >&2; exit 1; }
command -v xz >/dev/null || { echo "pack.sh: xz is missing (apt-get install -y xz-utils)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: the GPU machine is x86-64; this machine is $(uname -m)" >&2; exit 1; }

rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/app" "$STAGE/fixtures" "$STAGE/debs" "$WORK/debs" "$OUT"

# 1. Node: the binary running this script's `node` (glibc-linked; the GPU machine's glibc is newer). Debug symbols
#    are no use there: strip them when binutils is present (−10 MB before compression).
NODE=$(node -p process.execPath)
if command -v strip >/dev/null; then strip -o "$STAGE/bin/node" "$NODE"; else cp "$NODE" "$STAGE/bin/node"; fi
cat > "$STAGE/bin/weightscope" <<'EOF'
#!/bin/sh
# weightscope from the bundle: its own node, its own node_modules, nothing installed (not even dirname).
case $0 in */*) d=${0%/*} ;; *) d=$(command -v "$0") && d=${d%/*} ;; esac
exec "$d/node" "$d/../app/src/cli/main.js" "$@"
EOF
chmod +x "$STAGE/bin/weightscope"

# 2. The project and the bench/gpu scripts, compiled as the npm package is (plain ESM JavaScript).
node node_modules/typescript/bin/tsc -p bench/gpu/tsconfig.json --outDir "$STAGE/app"
printf '{"name":"weightscope-gpu-bundle","private":true,"type":"module"}\n' > "$STAGE/app/package.json"

# 3. node_modules: the packages src/ loads at run time and their dependency closure (as Node resolves them: nested
#    node_modules first, then the top level). adm-zip and global-agent serve onnxruntime-node's install script only.
node --input-type=module -e '
import { existsSync, readFileSync } from "node:fs";
const skip = new Set(["adm-zip", "global-agent"]);
const seen = new Set();
const visit = (dir) => {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(dir + "/package.json", "utf8"));
  for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) {
    if (skip.has(dep) || dep.startsWith("@types/")) continue;
    const found = [dir + "/node_modules/" + dep, "node_modules/" + dep].find((d) => existsSync(d + "/package.json"));
    if (found) visit(found);
    else if (!(pkg.optionalDependencies ?? {})[dep]) throw new Error(dir + " needs " + dep + ", which is not installed");
  }
};
for (const p of ["onnxruntime-node", "onnx-proto", "zod", "fflate", "koffi"]) visit("node_modules/" + p);
console.log([...seen].join("\n"));
' > "$WORK/modules.txt"
while read -r dir; do
  mkdir -p "$STAGE/app/$dir"
  tar -C "$dir" --exclude=./node_modules -cf - . | tar -C "$STAGE/app/$dir" -xf -
done < "$WORK/modules.txt"
M=$STAGE/app/node_modules
# Other platforms' binaries, browser builds, the protobuf CLI, TypeScript sources and declarations: never loaded here.
find "$M/onnxruntime-node/bin" -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} +
rm -rf "$M/onnxruntime-node/bin/napi-v6/linux/arm64" "$M/onnx-proto/node_modules/protobufjs/cli" \
  "$M/onnx-proto/node_modules/protobufjs/dist" "$M/zod/src" "$M/koffi/vendor" "$M/koffi/doc" "$M/koffi/lib"
find "$M" \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.map' -o -name '*.md' \) -type f -delete
[ -f "$M/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" ] || { echo "pack.sh: onnxruntime-node's linux/x64 library is missing" >&2; exit 1; }

# 4. Fixtures the check reads (the ../shared folder does not travel to the GPU machine).
F=$SHARED/fixtures
mkdir -p "$STAGE/fixtures/fmnist-backdoor" "$STAGE/fixtures/gpt2-tiny/onnx"
for f in model_a.onnx model_b.onnx model_a.safetensors model_b.safetensors clean_subset.safetensors; do
  cp "$F/fmnist-backdoor/$f" "$STAGE/fixtures/fmnist-backdoor/"
done
cp "$F/gpt2-tiny/onnx/model.onnx" "$STAGE/fixtures/gpt2-tiny/onnx/"
cp "$F/gpt2-tiny/lm_batch.safetensors" "$F/gpt2-tiny/lm_reference.json" "$STAGE/fixtures/gpt2-tiny/"

# 5. Debian packages (amd64): the Vulkan loader and libglvnd (NVIDIA's Vulkan driver needs libGLdispatch), OpenBLAS
#    for the CPU eigensolver. Downloaded once into $WORK/debs; a private package list when the system's is empty.
missing=()
for p in "${DEBS[@]}"; do compgen -G "$WORK/debs/${p}_*_amd64.deb" >/dev/null || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
  if ! (cd "$WORK/debs" && apt-get "${apt_opts[@]}" download "${missing[@]}" >/dev/null 2>&1); then
    lists=$ROOT/$WORK/apt-lists
    mkdir -p "$lists/partial"
    apt_opts+=(-oDir::State::Lists="$lists")
    apt-get "${apt_opts[@]}" update >/dev/null
    (cd "$WORK/debs" && apt-get "${apt_opts[@]}" download "${missing[@]}" >/dev/null)
  fi
fi
for p in "${DEBS[@]}"; do cp "$WORK"/debs/"${p}"_*_amd64.deb "$STAGE/debs/"; done

# 6. What is inside, for the record.
node -e '
const [stage, commit] = process.argv.slice(1);
const fs = require("node:fs"), path = require("node:path");
let files = 0, bytes = 0;
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else { files++; bytes += fs.statSync(p).size; } } };
walk(stage);
fs.writeFileSync(path.join(stage, "MANIFEST.json"), JSON.stringify({ commit, node: process.version, created: new Date().toISOString(), files, bytes }, null, 1) + "\n");
' "$STAGE" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# 7. One xz stream in blocks (multi-threaded both ways).
tar -C "$STAGE" -cf - . | xz -T0 "-$LEVEL" > "$OUT/weightscope-gpu.tar.xz.tmp"
mv "$OUT/weightscope-gpu.tar.xz.tmp" "$OUT/weightscope-gpu.tar.xz"
size=$(stat -c %s "$OUT/weightscope-gpu.tar.xz")
raw=$(du -sb "$STAGE" | cut -f1)
rm -rf "$STAGE"
awk -v s="$size" -v r="$raw" -v l="$LEVEL" -v t=$((SECONDS - t0)) \
  -v o="$OUT" 'BEGIN { printf "%s/weightscope-gpu.tar.xz: %.1f MiB (%.1f MiB unpacked, xz -%s) in %d s\n", o, s / 1048576, r / 1048576, l, t }'
if [ "$size" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "pack.sh: the bundle is over the ${LIMIT_MIB} MiB limit" >&2
  exit 1
fi
