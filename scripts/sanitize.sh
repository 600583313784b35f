#!/usr/bin/env bash
# The sanitizer run: builds the native core, the addon and the core's own test with
# -fsanitize=address,undefined into build-sanitize/ (never the normal build/), then runs the core
# test and, against that addon (TADS_NATIVE_ADDON), the native tests, the native fault regressions
# and the hostile-input corpus (test/native/vitest.sanitize.config.ts). Node itself is not
# instrumented, so AddressSanitizer's runtime is preloaded into it; leak detection is off (Node
# leaks by design at exit) and any finding stops the run with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# A compiler with sanitizer runtimes: $CXX, else g++, else clang++.
cxx="${CXX:-}"
if [ -z "$cxx" ]; then
  if command -v g++ >/dev/null; then cxx=g++; elif command -v clang++ >/dev/null; then cxx=clang++; fi
fi
if [ -z "$cxx" ] || ! command -v "$cxx" >/dev/null; then
  echo "sanitize: needs a C++ compiler (g++ or clang++)" >&2
  exit 1
fi
case "$("$cxx" --version | head -1)" in
  *clang*) asan_lib="$("$cxx" -print-file-name=libclang_rt.asan-x86_64.so)" ;;
  *) asan_lib="$("$cxx" -print-file-name=libasan.so)" ;;
esac
if [ ! -e "$asan_lib" ]; then
  echo "sanitize: $cxx has no AddressSanitizer runtime (install libasan, e.g. apt-get install libasan8)" >&2
  exit 1
fi

out=build-sanitize
CXX="$cxx" node node_modules/cmake-js/bin/cmake-js compile --out "$out" --CDTADS_SANITIZE=ON

export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$out/tads_core_test"

TADS_NATIVE_ADDON="$out/Release/tads.node" LD_PRELOAD="$asan_lib" \
  node node_modules/vitest/vitest.mjs run --config test/native/vitest.sanitize.config.ts
