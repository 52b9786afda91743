#!/usr/bin/env bash
# The device path on a GPU: build examples/device_bench once for burn's CUDA (or
# wgpu) backend on a machine with network access, then run the binary on the GPU
# machine (no network needed there). See the README, "On the accelerator".
#
#   scripts/gpu-bench.sh build [cuda|wgpu] [OUT_DIR]   # default: cuda, ./gpu-bench
#   scripts/gpu-bench.sh run BINARY [device_bench flags]
#
# build: copies the committed tree (git archive HEAD) to a scratch directory, adds
# burn's backend feature to the `burn` dependency there (its crates are not in this
# repository's Cargo.lock, so the scratch copy resolves them: network needed), and
# builds the example in release without debug info, stripped, with
# `--cfg unisphere_gpu="<backend>"` so that it picks that backend. It fails if the
# binary is over 64 MiB. Nothing in the checkout changes.
#
# run: times loss + gradient of heat MMD, KDE-KL and SUSReg's twin at
# N = 4096, 16384, 65536 (d = 256, f32) on the device path and the host path (the
# host path uses every core through rayon), under a 9-minute limit, and writes the
# table to stdout and to gpu-bench.txt. The CUDA backend loads the driver
# (libcuda.so) and NVRTC (libnvrtc.so, which compiles its kernels) at run time; the
# wgpu backend needs a Vulkan loader (libvulkan.so.1) and the NVIDIA ICD.
set -euo pipefail

cmd=${1:-}
case "$cmd" in
build)
    backend=${2:-cuda}
    out=$(realpath -m "${3:-gpu-bench}")
    case "$backend" in cuda | wgpu) ;; *) echo "backend: cuda or wgpu" >&2; exit 2 ;; esac
    repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    . "$repo/scripts/burn-scratch.sh"
    burn_scratch_copy "$repo" "$backend" "$scratch"
    (
        cd "$scratch"
        CARGO_TARGET_DIR="$repo/target/gpu-bench-$backend" \
            CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true \
            RUSTFLAGS="--cfg unisphere_gpu=\"$backend\"" \
            cargo build --release --features burn-cpu --example device_bench
    )
    mkdir -p "$out"
    cp "$repo/target/gpu-bench-$backend/release/examples/device_bench" "$out/device_bench-$backend"
    size=$(stat -c %s "$out/device_bench-$backend")
    echo "built $out/device_bench-$backend ($((size / 1048576)) MiB)"
    if [ "$size" -gt $((64 * 1048576)) ]; then
        echo "over 64 MiB" >&2
        exit 1
    fi
    ;;
run)
    bin=${2:?"run BINARY [flags]"}
    shift 2
    timeout 540 "$bin" "$@" 2>&1 | tee gpu-bench.txt
    ;;
*)
    sed -n '2,20p' "$0"
    exit 2
    ;;
esac
