#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (fuzz/<name>_fuzz.cpp) with clang and
# -fsanitize=fuzzer,address,undefined.
#
#   scripts/fuzz.sh                      build every fuzzer
#   scripts/fuzz.sh NAME [ARGS...]       build NAME and fuzz until stopped, keeping the corpus in
#                                        fuzz/corpus-NAME/ (git-ignored); ARGS go to libFuzzer
#   scripts/fuzz.sh --smoke NAME [SECS]  build NAME and fuzz for SECS seconds (default $AX_FUZZ_SECONDS,
#                                        else 20) from the seed corpus only; exit status 0 = no crash
#                                        (the CTest label "fuzz" runs this; scripts/test.sh leaves it out)
#
# Each fuzzer lists what it needs in its own comments, so adding one needs no edit here:
#   // fuzz-sources: src/a.cpp src/b*.cpp     engine sources to compile in (repo-relative; globs)
#   // fuzz-seeds: ../shared/x.gguf y@65536   seed files (repo-relative; @N = first N bytes only)
#   // fuzz-libs: -lpcre2-8                   extra link flags (fmt and pthread are always linked)
#   // fuzz-cxxflags: -DFOO                    extra compile flags for every source of that fuzzer
# Only those sources are compiled, into $AX_FUZZ_BUILD_DIR (default build-fuzz/), one object
# folder per fuzzer (so parallel builds do not race), through ccache when present.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${AX_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
CXX="${AX_FUZZ_CXX:-clang++}"
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (install clang and libclang-rt-14-dev)" >&2; exit 1; }
LAUNCHER=""
command -v ccache >/dev/null && LAUNCHER="ccache"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CXXFLAGS=(-std=c++20 -g -O1 $SAN -I"$ROOT/src" -DAX_FUZZING)
LIBS=(-lfmt -lpthread)

# Values of a "// fuzz-KEY:" comment, all lines joined.
directive() {
  sed -n "s|^// fuzz-$2:||p" "$1" | tr '\n' ' '
}

build() {
  local name="$1" src="$ROOT/fuzz/$1_fuzz.cpp"
  [ -f "$src" ] || { echo "fuzz.sh: no fuzzer $src" >&2; exit 1; }
  local objdir="$BUILD/obj-$name" objs=() running=0 failed=0
  local jobs
  jobs="$(nproc 2>/dev/null || echo 2)"
  mkdir -p "$objdir"
  # Compile with at most nproc jobs; every engine source gets coverage hooks (fuzzer-no-link).
  local sources
  # Patterns (src/model/arch_*.cpp) expand from the repository root.
  sources="$(cd "$ROOT" && for p in $(directive "$src" sources); do printf '%s ' $p; done)"
  for f in $sources "fuzz/${name}_fuzz.cpp"; do
    local obj="$objdir/$(echo "$f" | tr '/' '_').o"
    objs+=("$obj")
    if [ "$running" -ge "$jobs" ]; then
      wait -n || failed=1
      running=$((running - 1))
    fi
    # shellcheck disable=SC2046
    $LAUNCHER "$CXX" "${CXXFLAGS[@]}" $(directive "$src" cxxflags) -fsanitize=fuzzer-no-link -c "$ROOT/$f" -o "$obj" &
    running=$((running + 1))
  done
  while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
  done
  [ "$failed" -eq 0 ] || { echo "fuzz.sh: compiling $name failed" >&2; exit 1; }
  # shellcheck disable=SC2046
  "$CXX" "${CXXFLAGS[@]}" -fsanitize=fuzzer "${objs[@]}" "${LIBS[@]}" $(directive "$src" libs) -o "$BUILD/${name}_fuzz"
}

# Seed corpus for NAME into folder $2 (whole files or their first N bytes).
make_seeds() {
  local name="$1" out="$2"
  mkdir -p "$out"
  for s in $(directive "$ROOT/fuzz/${name}_fuzz.cpp" seeds); do
    local path="${s%@*}" n=""
    [ "$path" != "$s" ] && n="${s##*@}"
    [ -f "$ROOT/$path" ] || { echo "fuzz.sh: seed $path not found, skipped" >&2; continue; }
    local dest="$out/seed-$(basename "$path")${n:+-$n}"
    if [ -n "$n" ]; then head -c "$n" "$ROOT/$path" >"$dest"; else cp "$ROOT/$path" "$dest"; fi
  done
}

mkdir -p "$BUILD"
if [ $# -eq 0 ]; then
  for f in "$ROOT"/fuzz/*_fuzz.cpp; do
    n="$(basename "$f" _fuzz.cpp)"
    echo "building $n"
    build "$n"
  done
  exit 0
fi

if [ "$1" = "--smoke" ]; then
  name="${2:?usage: fuzz.sh --smoke NAME [SECONDS]}"
  secs="${3:-${AX_FUZZ_SECONDS:-20}}"
  build "$name"
  corpus="$BUILD/smoke-corpus-$name"
  rm -rf "$corpus"
  make_seeds "$name" "$corpus/seeds"
  mkdir -p "$corpus/new"
  # New inputs go to a scratch folder; seeds stay as they are. Crash reproducers land in $BUILD.
  exec "$BUILD/${name}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/crash-$name-" "$corpus/new" "$corpus/seeds"
fi

name="$1"
shift
build "$name"
corpus="$ROOT/fuzz/corpus-$name"
make_seeds "$name" "$corpus"
exec "$BUILD/${name}_fuzz" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$BUILD/crash-$name-" "$@" "$corpus"
