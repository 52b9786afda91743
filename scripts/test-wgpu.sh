#!/usr/bin/env bash
# The device-path equality tests (tests/burn_device.rs) on burn's wgpu backend over
# Mesa's lavapipe, a software Vulkan driver: a real GPU API with no GPU. See the
# README, "On the accelerator". Not part of .ci/run: the cold release build of
# burn's wgpu stack takes about half an hour on 2 cores (a second run reuses it
# from target/test-wgpu and only rebuilds what changed).
#
#   scripts/test-wgpu.sh [extra cargo test arguments, e.g. a test name]
#
# Installs mesa-vulkan-drivers and libvulkan1 with apt-get if the Vulkan loader or
# lavapipe's ICD is missing (needs root), copies the committed tree (git archive
# HEAD) to a scratch directory, adds burn's `wgpu` feature there (as
# scripts/gpu-bench.sh does; network needed unless cargo's cache has its crates),
# and runs `cargo test --release --features burn-cpu --test burn_device` with
# `--cfg unisphere_gpu="wgpu"`, which makes the tests use the wgpu device. The
# Vulkan loader is pointed at lavapipe's ICD only (burn's wgpu device tries Vulkan
# first and ignores WGPU_BACKEND; it would fall back to OpenGL, Mesa's llvmpipe,
# only if Vulkan had no adapter: `VK_LOADER_DEBUG=driver` shows which driver it
# used). Prints the build time, the test output and the test run's wall time.
# Mesa prints "XDG_RUNTIME_DIR is invalid" on a machine without a session: harmless.
set -euo pipefail

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
icd=/usr/share/vulkan/icd.d/lvp_icd.$(uname -m).json

if ! ldconfig -p | grep -q 'libvulkan\.so\.1 ' || [ ! -f "$icd" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "no Vulkan loader or no lavapipe ($icd): install mesa-vulkan-drivers libvulkan1 as root" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1
fi
[ -f "$icd" ] || { echo "no lavapipe ICD at $icd" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
. "$repo/scripts/burn-scratch.sh"
burn_scratch_copy "$repo" wgpu "$scratch"

export CARGO_TARGET_DIR="$repo/target/test-wgpu"
export CARGO_PROFILE_RELEASE_DEBUG=0
export RUSTFLAGS='--cfg unisphere_gpu="wgpu"'
# Only lavapipe: VK_DRIVER_FILES for current loaders, VK_ICD_FILENAMES for older ones.
export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
cd "$scratch"

start=$(date +%s)
cargo test --release --features burn-cpu --test burn_device --no-run
echo "build: $(($(date +%s) - start)) s"

start=$(date +%s)
status=0
cargo test --release --features burn-cpu --test burn_device -- "$@" || status=$?
echo "test run: $(($(date +%s) - start)) s, exit status $status"
exit "$status"
