#!/usr/bin/env bash
# Cross-check with llama.cpp: random-weight GGUFs of real model shapes (written by our own GGUF
# writer), quantized by llama.cpp's llama-quantize, run by both engines on the same token ids;
# compares next-token logits at every position. Results go to docs/CORRECTNESS.md by hand.
#   scripts/crosscheck-llama-cpp.sh [OUTDIR]      (needs ~8 GB of disk for the model files)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/crosscheck}
THREADS=${THREADS:-2}
SHARED=${AX_SHARED_DIR:-$ROOT/../shared}
mkdir -p "$OUT"

bash "$ROOT/scripts/build-llama-cpp.sh" >/dev/null
LCPP=$ROOT/third_party/llama.cpp
BIN=$LCPP/build-cpu/bin
cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build" --target synthetic_model crosscheck_logits ax-engine >/dev/null

# Our peer tool: llama.cpp's public C API, built against the bundle's library.
g++ -O2 -std=c++17 "$ROOT/scripts/peer/llama_logits.cpp" -I"$LCPP/src/include" -I"$LCPP/src/ggml/include" \
  -L"$BIN" -lllama -lggml -lggml-base -Wl,-rpath,"$BIN" -o "$OUT/llama_logits"

PROMPT="The quick brown fox jumps over the lazy dog. def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)"
run_shape() {  # shape vocab-gguf
  local shape=$1 vocab=$2 base=$OUT/$1
  # Float32, 4 layers: both engines compute the same float32 arithmetic -> near bit-exact.
  [ -f "$base-l4-f32.gguf" ] || "$ROOT/build/synthetic_model" --shape "$shape" --vocab "$vocab" --type F32 --layers 4 --out "$base-l4-f32.gguf" >/dev/null
  [ -f "$base-f16.gguf" ] || "$ROOT/build/synthetic_model" --shape "$shape" --vocab "$vocab" --type F16 --out "$base-f16.gguf" >/dev/null
  for q in Q8_0 Q4_K_M; do
    [ -f "$base-${q,,}.gguf" ] || "$BIN/llama-quantize" "$base-f16.gguf" "$base-${q,,}.gguf" "$q" "$THREADS" >/dev/null 2>&1
  done
  # Token ids from our tokenizer (the same ids go to both engines).
  local ids
  ids=$("$ROOT/build/ax-engine" tokenize --model "$base-f16.gguf" --text "$(printf "$PROMPT")" --json |
        python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
  for q in l4-f32 f16 q8_0 q4_k_m; do
    "$OUT/llama_logits" "$base-$q.gguf" "$ids" "$OUT/$shape-$q.peer.f32" "$THREADS" 2>/dev/null
    "$ROOT/build/crosscheck_logits" --model "$base-$q.gguf" --ids "$ids" --peer "$OUT/$shape-$q.peer.f32" --threads "$THREADS"
  done
}
run_shape qwen3-0.6b "$SHARED/models/llamacpp-vocab/ggml-vocab-qwen2.gguf"
run_shape llama-3.2-1b "$SHARED/models/llamacpp-vocab/ggml-vocab-llama-bpe.gguf"
