#!/usr/bin/env bash
# The GPU check of issue 19, one command from the repository root of a GPU machine:   bash bench/gpu/run.sh
#
# Needs gpu-bundle/weightscope-gpu.tar.xz (made by bench/gpu/pack.sh on a machine with Node.js; carried along as an
# ignored path) and, for the anchors, the machine's python3 with PyTorch (CUDA). No Node.js, npm or network.
# Unpacks the bundle, makes the Vulkan loader and NVIDIA's ICD available to WebGPU, prints the adapter onnxruntime
# sees, then runs each part under its own time limit inside an overall box of 7.5 minutes and prints one table:
#   gradient and Hv — fmnist CNN (batch 1000), GPT-2-small-shaped LM (8 × 128): webgpu vs cpu vs PyTorch CUDA;
#   Hessian top-3 (Lanczos) of gpt2-tiny, webgpu vs cpu; one curve-training epoch on fmnist-backdoor, webgpu vs cpu
#   vs PyTorch CUDA; analyze --device cuda vs cpu on a generated TinyLlama-1.1B-shaped folder (and Llama-2-7B-shaped
#   when the box has room, else an estimate).
# Exit: 0 every part ran; 3 no GPU adapter (at once when the machine has no GPU); 1 a part failed or timed out.
# Environment: WEIGHTSCOPE_GPU_WORK (default /tmp/weightscope-gpu: unpacked bundle, generated models, results),
# WEIGHTSCOPE_GPU_BUNDLE (default gpu-bundle/weightscope-gpu.tar.xz), WEIGHTSCOPE_GPU_FORCE=1 (go on without a GPU
# device node: the adapter probe then decides). Results: $WORK/results (table.txt, summary.json, each part's output).
set -uo pipefail
T0=$SECONDS
BOX=${WEIGHTSCOPE_GPU_BOX:-450}
ROOT=$(pwd)
BUNDLE=${WEIGHTSCOPE_GPU_BUNDLE:-$ROOT/gpu-bundle/weightscope-gpu.tar.xz}
WORK=${WEIGHTSCOPE_GPU_WORK:-/tmp/weightscope-gpu}
RES=$WORK/results
say() { printf '%s\n' "$*" >&2; }

# 0. Is there a GPU at all? (device nodes, or nvidia-smi naming one) — decided in milliseconds.
gpu_nodes() {
  compgen -G '/dev/nvidia[0-9]*' >/dev/null || compgen -G '/dev/dri/renderD*' >/dev/null ||
    { command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }
}
NVIDIA=0
compgen -G '/dev/nvidia[0-9]*' >/dev/null && NVIDIA=1
if ! gpu_nodes && [ "${WEIGHTSCOPE_GPU_FORCE:-0}" != 1 ]; then
  echo "no GPU adapter: this machine has no GPU (no /dev/nvidia*, no /dev/dri/renderD*, nvidia-smi lists none)"
  exit 3
fi
[ -f "$BUNDLE" ] || { echo "run.sh: $BUNDLE is missing: run bash bench/gpu/pack.sh where Node.js is installed and carry gpu-bundle/" >&2; exit 2; }

# 1. Unpack.
rm -rf "$WORK/bundle" "$RES"
mkdir -p "$WORK/bundle" "$RES/vec" "$WORK/models"
# xz, or Python's lzma where the image lacks xz-utils.
unxz() { if command -v xz >/dev/null; then xz -dc -T0 "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi; }
if ! unxz "$BUNDLE" | tar -x -C "$WORK/bundle"; then echo "run.sh: cannot unpack $BUNDLE" >&2; exit 2; fi
B=$WORK/bundle
NODE=$B/bin/node
WS=$B/bin/weightscope
APP=$B/app/bench/gpu
FIX=$B/fixtures
say "unpacked $(cat "$B/MANIFEST.json" | tr -d '\n ') in $((SECONDS - T0)) s"

# 2. Vulkan for WebGPU (Dawn). Where the loader is missing: as root on an NVIDIA machine, the workplace's recipe —
#    Debian's loader and libglvnd unpacked into / and ldconfig; otherwise into a private folder on LD_LIBRARY_PATH.
#    NVIDIA's ICD is named explicitly when the loader's own folders have none.
vk_setup="system Vulkan loader"
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  command -v dpkg >/dev/null || { echo "run.sh: no Vulkan loader and no dpkg to unpack the bundled one" >&2; exit 2; }
  if [ "$(id -u)" = 0 ] && [ "$NVIDIA" = 1 ]; then
    for f in "$B"/debs/lib{vulkan1,glvnd0,egl1,gl1,glx0,gles2,opengl0}_*.deb; do dpkg -x "$f" /; done
    ldconfig
    vk_setup="Debian libvulkan1 + libglvnd unpacked into / (ldconfig)"
  else
    for f in "$B"/debs/lib{vulkan1,glvnd0,egl1,gl1,glx0,gles2,opengl0}_*.deb; do dpkg -x "$f" "$WORK/sysroot"; done
    export LD_LIBRARY_PATH="$WORK/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    vk_setup="Debian libvulkan1 + libglvnd in $WORK/sysroot (LD_LIBRARY_PATH)"
  fi
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
  icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/*.json 2>/dev/null | head -1)
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES=$icd
    vk_setup="$vk_setup; VK_DRIVER_FILES=$icd"
  fi
fi

export RES
# part NAME LIMIT CMD...: runs CMD with stdout → NAME.json, stderr → NAME.err, {rc, seconds, limit} → NAME.status,
# its limit cut to what the box has left; skipped (no status) when under 10 s remain.
FAILED=0
part() {
  local name=$1 limit=$2
  shift 2
  local left=$((BOX - (SECONDS - T0) - 15))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    say "[$((SECONDS - T0))s] $name: skipped (time box)"
    FAILED=1
    return 1
  fi
  say "[$((SECONDS - T0))s] $name (limit ${limit} s)"
  local t=$SECONDS start
  start=$(date +%s.%N)
  timeout -k 5 "$limit" "$@" >"$RES/$name.json" 2>"$RES/$name.err"
  local rc=$?
  printf '{"rc":%d,"seconds":%s,"limit":%d}\n' "$rc" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f", b - a}')" "$limit" >"$RES/$name.status"
  [ $rc -ne 0 ] && { FAILED=1; say "    $name: exit $rc after $((SECONDS - t)) s: $(grep -v '^Warning\|^ *at \|^ - While' "$RES/$name.err" | tail -1)"; }
  return $rc
}

# 3. The adapter. No adapter on a machine with a GPU device: the WebGPU parts are skipped, the rest still runs.
part adapter 60 "$NODE" "$APP/adapter.js"
WEBGPU=$?
cat "$RES/adapter.json" >&2
if [ $WEBGPU -ne 0 ]; then
  grep '^no GPU adapter' "$RES/adapter.err" | head -1
  if [ "$NVIDIA" != 1 ]; then exit 3; fi
fi
webgpu() { [ $WEBGPU -eq 0 ] && part "$@"; }

# 4. The rest of the environment: CUDA libraries for analyze --device cuda (PyTorch's nvidia-* wheels), a LAPACK for
#    the CPU path (the bundle's OpenBLAS where the system has none), and what machine this is.
# The python3 that has PyTorch (the GPU machine's plain python3 does; a pyenv shim elsewhere may not).
PY=""
for p in python3 /usr/bin/python3 /opt/torch/.venv/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' 2>/dev/null; then
    PY=$(command -v "$p")
    break
  fi
done
cuda_libs=""
if [ -n "$PY" ]; then
  cuda_libs=$(timeout 30 "$PY" - <<'EOF' 2>/dev/null
import glob, os, site, sysconfig
roots = {sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib'], *site.getsitepackages()}
dirs = []
for r in sorted(roots):
    for f in sorted(glob.glob(os.path.join(r, 'nvidia', '**', 'lib*.so*'), recursive=True)):
        d = os.path.dirname(f)
        if d not in dirs:
            dirs.append(d)
# The folder holding libcusolver first: cuda.ts takes all three libraries from the first folder that has them.
dirs.sort(key=lambda d: not glob.glob(os.path.join(d, 'libcusolver.so*')))
print(':'.join(dirs))
EOF
)
fi
[ -d /usr/local/cuda/lib64 ] && cuda_libs="${cuda_libs:+$cuda_libs:}/usr/local/cuda/lib64"
if [ -n "$cuda_libs" ]; then
  export WEIGHTSCOPE_CUDA_LIBS=$cuda_libs
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$cuda_libs"
fi
lapack="system"
if ! ldconfig -p 2>/dev/null | grep -qE 'libopenblas\.so\.0|liblapack\.so\.3'; then
  for f in "$B"/debs/lib{openblas0-pthread,gfortran5,quadmath0}_*.deb; do dpkg -x "$f" "$WORK/sysroot"; done
  export WEIGHTSCOPE_LAPACK="$WORK/sysroot/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$WORK/sysroot/usr/lib/x86_64-linux-gnu"
  lapack="bundled OpenBLAS ($WEIGHTSCOPE_LAPACK)"
fi
gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
cpu_name=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
torch_v=$([ -n "$PY" ] && timeout 60 "$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null)
"$NODE" -e 'const [gpu, cpu, cores, torch, vk, lapack, cuda] = process.argv.slice(1);
  require("fs").writeFileSync(process.env.RES + "/env.json", JSON.stringify({ gpu, cpu: `${cpu} (${cores} cores)`, torch, vulkan_setup: vk, lapack, cuda_libs: cuda, date: new Date().toISOString() }) + "\n");' \
  "${gpu_name:-unknown}" "${cpu_name:-unknown}" "$(nproc)" "${torch_v:-n/a}" "$vk_setup" "$lapack" "${cuda_libs:-none}"


# 5. The parts, most important first (the box cuts the tail): the GPU runs and their anchors, then the CPU references.
G2=$WORK/models/gpt2-small
CNN=("$FIX/fmnist-backdoor/model_a.onnx" --data "$FIX/fmnist-backdoor/clean_subset.safetensors" --batch 1000 --case fmnist-cnn --reps 10)
webgpu cnn-webgpu 90 "$NODE" "$APP/engine-time.js" --model "${CNN[@]}" --device webgpu --out "$RES/vec/cnn-webgpu"
part cnn-torch 60 "$PY" bench/gpu/torch_cuda.py hvp --model cnn --case fmnist-cnn --weights "$FIX/fmnist-backdoor/model_a.safetensors" \
  --data "$FIX/fmnist-backdoor/clean_subset.safetensors" --batch 1000 --reps 20
part cnn-cpu 60 "$NODE" "$APP/engine-time.js" --model "${CNN[@]}" --device cpu --out "$RES/vec/cnn-cpu"
part gen-gpt2s 60 "$NODE" "$APP/gpt2-graph.js" --out "$G2" --seq 128 --batch 8
GPT2=("$G2/model.onnx" --data "$G2/lm_batch.safetensors" --case gpt2-small --loss lm)
webgpu gpt2s-webgpu 150 "$NODE" "$APP/engine-time.js" --model "${GPT2[@]}" --device webgpu --reps 5 --out "$RES/vec/gpt2s-webgpu"
part gpt2s-torch 60 "$PY" bench/gpu/torch_cuda.py hvp --model gpt2 --case gpt2-small --weights "$G2/model.safetensors" \
  --config "$G2/config.json" --data "$G2/lm_batch.safetensors" --reps 10
LZ=("$FIX/gpt2-tiny/onnx/model.onnx" --data "$FIX/gpt2-tiny/lm_batch.safetensors" --top-k 3 --lanczos --json)
webgpu lanczos-webgpu 60 "$WS" hessian "${LZ[@]}" --device webgpu
part lanczos-cpu 60 "$WS" hessian "${LZ[@]}" --device cpu
CV=(--a "$FIX/fmnist-backdoor/model_a.onnx" --b "$FIX/fmnist-backdoor/model_b.onnx" --data "$FIX/fmnist-backdoor/clean_subset.safetensors")
webgpu curve-webgpu 60 "$NODE" "$APP/curve-time.js" "${CV[@]}" --device webgpu
part curve-torch 45 "$PY" bench/gpu/torch_cuda.py curve --a "$FIX/fmnist-backdoor/model_a.safetensors" \
  --b "$FIX/fmnist-backdoor/model_b.safetensors" --data "$FIX/fmnist-backdoor/clean_subset.safetensors"
L1=$WORK/models/tinyllama-1.1b
part gen-llama 60 "$NODE" "$APP/llama-folder.js" --out "$L1" --shape tinyllama-1.1b
part analyze-cuda 90 "$WS" analyze "$L1" --device cuda --json --fits pl
part read-llama 45 "$NODE" "$APP/read-time.js" "$L1"
part curve-cpu 45 "$NODE" "$APP/curve-time.js" "${CV[@]}" --device cpu
part analyze-cpu 120 "$WS" analyze "$L1" --json --fits pl
part gpt2s-cpu 90 "$NODE" "$APP/engine-time.js" --model "${GPT2[@]}" --device cpu --reps 3 --out "$RES/vec/gpt2s-cpu"
# Informational (other issues' features): what --device auto picks, and whether onnxruntime's CUDA EP is there.
keep=$FAILED
part auto 30 "$WS" grad "$FIX/fmnist-backdoor/model_a.onnx" --data "$FIX/fmnist-backdoor/clean_subset.safetensors" --batch 1000 --device auto --json
part cuda-ep 30 "$WS" grad "$FIX/fmnist-backdoor/model_a.onnx" --data "$FIX/fmnist-backdoor/clean_subset.safetensors" --batch 1000 --device cuda --json
FAILED=$keep
rm -rf "$G2"
# Llama-2-7B-shaped only when the box still has room for generating 13.5 GB and analysing it; else the table estimates.
if [ $((BOX - (SECONDS - T0))) -gt 200 ]; then
  L7=$WORK/models/llama2-7b
  part gen-llama7b 120 "$NODE" "$APP/llama-folder.js" --out "$L7" --shape llama2-7b &&
    part analyze7b-cuda 150 "$WS" analyze "$L7" --device cuda --json --fits pl
  rm -rf "$L7"
fi

# 6. The table.
"$NODE" "$APP/table.js" "$RES"
say "results in $RES ($((SECONDS - T0)) s in all)"
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp "$RES/table.txt" "$RES/summary.json" "$OUT/" 2>/dev/null
  tar -C "$RES" --exclude=vec -czf "$OUT/gpu-results.tar.gz" . 2>/dev/null
fi
[ $WEBGPU -ne 0 ] && exit 3
exit $FAILED
