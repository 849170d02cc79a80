#!/usr/bin/env bash
# Builds the tests with a sanitizer into their own build folder and runs them. Not part of CI
# (a sanitized build of everything takes long on 2 cores); run it before merging risky changes.
# The CUDA backend is left out (the sanitizers check host code).
#
#   scripts/sanitize.sh asan [CTEST_ARGS...]   AddressSanitizer + UndefinedBehaviorSanitizer, every
#                                              test (fuzz smoke runs excluded: they sanitize themselves)
#   scripts/sanitize.sh tsan [CTEST_ARGS...]   ThreadSanitizer, the engine and server tests
#
# The servers the server tests start are the sanitized ax-engine too; their reports (they run
# with stderr captured by the tests) go to build-<san>/sanitizer-logs/, and any report there fails
# the run. Exit status 0: every test passed and no sanitizer reported anything.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
kind="${1:?usage: sanitize.sh asan|tsan [ctest args...]}"
shift
case "$kind" in
  asan)
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    targets=(all)
    select=(-LE fuzz)
    ;;
  tsan)
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    targets=(ax_test_engine ax_test_server ax-engine)
    select=(-L "engine|server" -E "server_js")
    ;;
  *) echo "sanitize.sh: unknown sanitizer '$kind' (asan or tsan)" >&2; exit 2 ;;
esac
BUILD="$ROOT/build-$kind"
LOGS="$BUILD/sanitizer-logs"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAX_BUILD_FUZZERS=OFF -DAX_CUDA=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}"
rm -rf "$LOGS"
mkdir -p "$LOGS"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOGS/ubsan"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$LOGS/tsan"
export AX_LOAD_SECONDS="${AX_LOAD_SECONDS:-5}"  # the server load test, shorter under a sanitizer
status=0
(cd "$BUILD" && ctest --output-on-failure -j "$(nproc)" --timeout 1800 "${select[@]}" "$@") || status=$?
if compgen -G "$LOGS/*" >/dev/null; then
  echo "sanitize.sh: sanitizer reports in $LOGS:" >&2
  for f in "$LOGS"/*; do
    echo "== $f" >&2
    head -60 "$f" >&2
  done
  status=1
fi
exit "$status"
