#!/usr/bin/env bash
# Cross-build edgecomm for 64-bit and 32-bit ARM (glibc) and run the whole test suite under
# qemu-user, on the x86_64 CI machine: no container engine, no rustup targets. Never run
# `cross` or `rustup` here (they would change the machine's toolchain).
# Based on ../shared/tools/cross/cross-arm.sh; what it adds for this project:
#   - EDGECOMM_TEST_RUNNER: the black-box tests start the server binary themselves, and
#     without binfmt_misc the kernel cannot exec an ARM binary. qemu-user passes execve
#     through to the host, so the harness starts the server through the same qemu runner.
#   - a line per target with the stripped binary size.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."
TARGETS="${TARGETS:-aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf}"
MIN_RUSTC_MINOR="${MIN_RUSTC_MINOR:-88}"   # rustc-web 1.85 (bookworm main) is too old for some deps

# 1. Packages (all amd64/all: no foreign architecture, so apt-get update cannot break on one).
need=""
for p in rustc-web cargo-web rust-web-src gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
         gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user; do
  dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
  apt-get update || echo "warning: apt-get update reported errors; continuing with the lists it has"
  apt-get install -y --no-install-recommends $need
fi
minor=$(/usr/bin/rustc --version | sed -E 's/^rustc 1\.([0-9]+)\..*/\1/')
if [ "$minor" -lt "$MIN_RUSTC_MINOR" ]; then
  echo "Debian rustc-web is 1.$minor (< 1.$MIN_RUSTC_MINOR): bookworm-security not reachable?" >&2
  exit 1
fi

# 2. Toolchain: Debian's rustc/cargo (rustup's proxies come first in PATH, so name them),
#    std built from rust-web-src.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
CARGO=/usr/bin/cargo
aarch64_runner="qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib"
armv7_runner="qemu-arm -L /usr/arm-linux-gnueabihf -E LD_LIBRARY_PATH=/usr/arm-linux-gnueabihf/lib"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$aarch64_runner"
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="$armv7_runner"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cross}"

# 3. Test and build each target (release for both, so the std and deps built for the tests
#    are reused by the build).
for t in $TARGETS; do
  echo "=== $t"
  case "$t" in
    aarch64-*) export EDGECOMM_TEST_RUNNER="$aarch64_runner" ;;
    armv7-*) export EDGECOMM_TEST_RUNNER="$armv7_runner" ;;
  esac
  $CARGO test -Zbuild-std --release --target "$t"
  $CARGO build -Zbuild-std --release --target "$t"
  ls -l "$CARGO_TARGET_DIR/$t/release/edgecomm" | awk -v t="$t" '{print "binary " t ": " $5 " bytes"}'
done
