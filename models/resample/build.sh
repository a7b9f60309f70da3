#!/bin/sh
# Rebuilds resample.wasm from resample.c. Needs clang and lld with the wasm32
# target (Debian: apt-get install clang-14 lld-14). The .wasm is committed, so
# installs and tests need no compiler; test/models/image-ops.test.ts checks
# the kernels against the plain reference sampler.
# The module imports its memory and needs only its first page (an 8 KiB
# stack; the kernels keep a few locals there): image-ops.ts lays images out
# from __heap_base.
set -e
cd "$(dirname "$0")"
CLANG="${CLANG:-$(command -v clang-14 || command -v clang)}"
"$CLANG" --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -ffp-contract=off \
  -Wl,--no-entry -Wl,--import-memory -Wl,--initial-memory=65536 -Wl,-z,stack-size=8192 \
  -Wl,--export=__heap_base -Wl,--strip-all \
  -o resample.wasm resample.c
# The source this .wasm was built from and the .wasm itself, checked by the
# tests (an edited resample.c with a stale resample.wasm, or a .wasm not
# from this script, fails them).
sha256sum resample.c resample.wasm | cut -d' ' -f1 > resample.sha256
