#!/usr/bin/env bash
# A WebGPU adapter without a GPU, for trying `--device webgpu` (and bench/gpu/run.sh with WEIGHTSCOPE_GPU_FORCE=1) on
# a CPU machine: Mesa's lavapipe Vulkan driver unpacked under .bench-out/lavapipe, nothing installed system-wide.
# Debian bookworm's Mesa 22.3 lavapipe is refused by Dawn (no shaderUniform*ArrayDynamicIndexing); bookworm-backports'
# Mesa 25.0 works. Slow (llvmpipe compiles every shader: ~100 s before the fmnist CNN's first gradient on 2 loaded
# cores) but it runs the real WebGPU code path: the CNN's gradient and Hv equal the CPU's to 1e-6 there.
#
#   eval "$(bash bench/gpu/lavapipe.sh)"     # prints the LD_LIBRARY_PATH / VK_DRIVER_FILES exports
set -euo pipefail
cd "$(dirname "$0")/../.."
D=$PWD/.bench-out/lavapipe
R=$D/root
if [ ! -f "$D/lvp.json" ]; then
  mkdir -p "$D/debs" "$D/lists/partial" "$D/etc"
  echo "deb http://deb.debian.org/debian bookworm-backports main" > "$D/etc/backports.list"
  bp=(-oAPT::Architecture=amd64 -oDir::Etc::SourceList="$D/etc/backports.list" -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists="$D/lists")
  apt-get "${bp[@]}" update >/dev/null
  (cd "$D/debs" && apt-get "${bp[@]}" download mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 >/dev/null)
  (cd "$D/debs" && apt-get -oAPT::Architecture=amd64 download libvulkan1 libllvm15 libelf1 libwayland-client0 libx11-xcb1 \
    libxcb-dri3-0 libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb1 libxshmfence1 libz3-4 \
    libsensors5 libedit2 libxml2 libicu72 libbsd0 libmd0 libxau6 libxdmcp6 >/dev/null)
  for f in "$D"/debs/*.deb; do dpkg -x "$f" "$R"; done
  sed "s|\"library_path\": \"[^\"]*\"|\"library_path\": \"$R/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so\"|" \
    "$R/usr/share/vulkan/icd.d/lvp_icd.json" > "$D/lvp.json"
fi
echo "export LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} VK_DRIVER_FILES=$D/lvp.json"
