#!/usr/bin/env bash
# Cross-check of every architecture with llama.cpp on the HF fixtures: each fixture is written as
# a float32 GGUF with llama.cpp's names and metadata (bench/fixture_gguf.cpp, our GGUF writer;
# the vocabulary borrowed from stories260K, same size), both engines run it on the fixture's three
# prompts (one prefill, logits at every position), and the logits are compared (min cosine, max
# |diff| relative to the logit scale, argmax agreement). One JSON line per fixture and prompt.
# Results go to docs/CORRECTNESS.md by hand.
#   scripts/crosscheck-fixtures.sh [OUTDIR] [FIXTURE...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/crosscheck-fixtures}
shift || true
FIXTURES=("$@")
[ ${#FIXTURES[@]} -gt 0 ] || FIXTURES=(llama llama3_rope qwen2 qwen3 mistral phi3 gemma2 gemma3_text qwen3_moe glm4_moe
                                       deepseek_v3 glm4_moe_lite qwen3_next qwen3_5_text qwen3_5_moe_text
                                       gemma4_text gemma4_text_moe)
THREADS=${THREADS:-2}
SHARED=${AX_SHARED_DIR:-$ROOT/../shared}
mkdir -p "$OUT"

bash "$ROOT/scripts/build-llama-cpp.sh" >/dev/null
LCPP=${LLAMA_CPP_DIR:-$ROOT/third_party/llama.cpp}  # as build-llama-cpp.sh: a build shared between checkouts
BIN=$LCPP/build-cpu/bin
cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build" --target fixture_gguf crosscheck_logits >/dev/null
g++ -O2 -std=c++17 "$ROOT/scripts/peer/llama_logits.cpp" -I"$LCPP/src/include" -I"$LCPP/src/ggml/include" \
  -L"$BIN" -lllama -lggml -lggml-base -Wl,-rpath,"$BIN" -o "$OUT/llama_logits"

for name in "${FIXTURES[@]}"; do
  flags=()
  # llama.cpp reads no query_pre_attn_scalar for Gemma 2/3: both engines run head_dim^-0.5 instead.
  # (Gemma 4's scale is 1 in both.)
  case $name in gemma2|gemma3_text) flags=(--llama-cpp-scale) ;; esac
  gguf=$OUT/$name-f32.gguf
  mapfile -t prompts < <("$ROOT/build/fixture_gguf" --fixture "$SHARED/fixtures/$name" \
    --vocab "$SHARED/models/stories260K/stories260K.gguf" --out "$gguf" "${flags[@]}")
  for i in "${!prompts[@]}"; do
    if ! "$OUT/llama_logits" "$gguf" "${prompts[$i]}" "$OUT/$name-$i.peer.f32" "$THREADS" 2>"$OUT/$name-$i.peer.log"; then
      echo "{\"model\": \"$gguf\", \"prompt\": $i, \"error\": \"llama.cpp: $(tail -1 "$OUT/$name-$i.peer.log" | tr -d '"')\"}"
      continue
    fi
    "$ROOT/build/crosscheck_logits" --model "$gguf" --ids "${prompts[$i]}" --peer "$OUT/$name-$i.peer.f32" \
      --threads "$THREADS" | sed "s/^{/{\"prompt\": $i, /"
  done
done
