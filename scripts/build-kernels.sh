#!/usr/bin/env bash
# Builds native/kernels.wasm from native/kernels.c with Debian's clang and lld (wasm-ld):
#   apt-get install -y clang lld llvm        (llvm: llvm-objdump, for the checks below)
# `scripts/build-kernels.sh --check` builds into a temporary file and fails unless it equals the
# committed binary byte for byte (what CI runs). The build is deterministic for a given clang (the
# binary records its version; this one is Debian bookworm's clang 14.0.6): no debug info, no paths;
# the name section stays, so CPU profiles name our functions.
set -euo pipefail
cd "$(dirname "$0")/.."
out=native/kernels.wasm
check=false
if [[ "${1:-}" == "--check" ]]; then
  check=true
  out=$(mktemp --suffix=.wasm)
  trap 'rm -f "$out"' EXIT
fi
clang --target=wasm32-unknown-unknown -O3 -msimd128 -nostdlib -ffreestanding \
  -fno-builtin -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--import-memory -Wl,--strip-debug \
  -o "$out" native/kernels.c
# The module lives in tfjs-wasm's memory, so it must own none of it: no data section, and no
# global access at all (a stack frame would move __stack_pointer and write below tfjs's own stack).
objdump=$(command -v llvm-objdump || command -v llvm-objdump-14 || true)
if [[ -z "$objdump" ]]; then
  echo "llvm-objdump not found: apt-get install -y llvm" >&2
  exit 1
fi
if "$objdump" -h "$out" | grep -qw DATA; then
  echo "$out has a data section; the kernels must own no memory" >&2
  exit 1
fi
if "$objdump" -d "$out" | grep -q 'global\.'; then
  echo "$out uses a global (a stack frame); the kernels must not use the stack" >&2
  exit 1
fi
if $check; then
  if ! cmp -s "$out" native/kernels.wasm; then
    echo "native/kernels.wasm differs from a fresh build of native/kernels.c; run scripts/build-kernels.sh" >&2
    exit 1
  fi
  echo "native/kernels.wasm matches a fresh build"
else
  echo "built $out ($(stat -c %s "$out") bytes)"
fi
