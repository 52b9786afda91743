#!/usr/bin/env bash
# The test suite cross-compiled for aarch64 (Graviton, Grace, Apple Silicon under
# Linux) and run under qemu's user-mode emulation: the NEON paths (the product
# kernel, the table evaluation) and everything else on a second architecture.
#
# Installs, if missing (Debian, as root): the Rust target, gcc-aarch64-linux-gnu
# and libc6-dev-arm64-cross (the linker and C runtime), qemu-user (the emulator).
# Takes about 25 minutes on 2 cores (the build about 10, the emulated run the
# rest); CI runs only the cheap aarch64 clippy stage (.ci/run). Extra arguments
# go to `cargo test` (e.g. `--lib`, or a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
# Doctests are not cross-run by cargo; the library, integration and allocation
# tests are.
cargo test --locked --target "$target" --lib --tests "$@"
