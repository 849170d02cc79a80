#!/usr/bin/env bash
# End-to-end runs of `ax-engine chat` with stdin piped (tests/chat.cmake registers them):
#   two-turns   ax-code-15m (its own ChatML template): a reply for each of two turns, exit 0 on end of
#               input, the second turn's prompt holds the first turn and reuses its cached K/V
#   reset-exit  /reset forgets the conversation (the same line gives the same prompt size again),
#               /exit ends the session before the lines after it
#   no-template stories260K (GGUF without a chat template): a clear error, and with --chatml-fallback
#               a reply
# Usage: chat_e2e.sh AX_ENGINE SOURCE_DIR CASE
set -uo pipefail
AX="$1"
SRC="$2"
CASE="$3"
CODE_MODEL="$SRC/models/ax-code-15m"
STORIES="$SRC/models/stories260K/stories260K.gguf"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

die() {
  echo "FAIL: $*" >&2
  echo "--- stdout" >&2; cat "$TMP/out" >&2
  echo "--- stderr" >&2; cat "$TMP/err" >&2
  exit 1
}

# chat INPUT ARGS...: INPUT (printf format) on stdin; stdout to $TMP/out, stderr to $TMP/err, exit
# status in $rc.
chat() {
  printf "$1" >"$TMP/in"
  shift
  "$AX" chat --threads 2 "$@" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

# Field of the --stats line of turn N: prompt | cached | reply (token counts).
stat() {
  local n="$1" field="$2"
  local line
  line="$(grep "^turn $n: " "$TMP/err")" || die "no stats line for turn $n"
  case "$field" in
    prompt) sed -E 's/^turn [0-9]+: prompt ([0-9]+) tokens.*/\1/' <<<"$line" ;;
    cached) sed -E 's/.*\(([0-9]+) cached\).*/\1/' <<<"$line" ;;
    reply) sed -E 's/.*\| reply ([0-9]+) tokens.*/\1/' <<<"$line" ;;
  esac
}

case "$CASE" in
  two-turns)
    chat 'def fibonacci(n):\nNow write it iteratively.\n' --model "$CODE_MODEL" --max-tokens 24 --temperature 0.7 --seed 11 --stats
    [ "$rc" -eq 0 ] || die "exit status $rc at end of input"
    [ "$(grep -c '^turn [0-9]*: ' "$TMP/err")" -eq 2 ] || die "expected 2 turns"
    r1="$(stat 1 reply)" r2="$(stat 2 reply)"
    [ "$r1" -ge 1 ] && [ "$r2" -ge 1 ] || die "a turn produced no reply tokens ($r1, $r2)"
    grep -q '[^[:space:]]' "$TMP/out" || die "no reply text on stdout"
    # Turn 2's prompt is turn 1's prompt + reply + the new user message.
    p1="$(stat 1 prompt)" p2="$(stat 2 prompt)" c2="$(stat 2 cached)"
    [ "$p2" -gt $((p1 + 5)) ] || die "turn 2's prompt ($p2 tokens) does not hold turn 1 ($p1 + $r1 tokens)"
    [ "$c2" -ge 16 ] || die "turn 2 reused $c2 cached prompt tokens; expected at least one 16-token block"
    echo "ok: prompts $p1 -> $p2 tokens, $c2 cached, replies $r1 and $r2 tokens"
    ;;
  reset-exit)
    chat 'import os\n/reset\nimport os\n/exit\nthis line is never read\n' --model "$CODE_MODEL" --max-tokens 6 --temperature 0 --stats
    [ "$rc" -eq 0 ] || die "exit status $rc"
    [ "$(grep -c '^turn [0-9]*: ' "$TMP/err")" -eq 2 ] || die "expected 2 turns (the line after /exit must not run)"
    grep -q 'conversation cleared' "$TMP/err" || die "/reset was not acknowledged"
    [ "$(stat 1 prompt)" -eq "$(stat 2 prompt)" ] || die "after /reset the same line gave a different prompt"
    echo "ok"
    ;;
  no-template)
    chat 'Once upon a time\n' --model "$STORIES" --max-tokens 8
    [ "$rc" -ne 0 ] || die "a model without a chat template must be refused"
    grep -q 'error: chat: the model .* has no chat template; pass --chatml-fallback' "$TMP/err" ||
      die "unclear error for a model without a chat template"
    chat 'Once upon a time\nTell me more\n' --model "$STORIES" --max-tokens 8 --chatml-fallback --seed 3 --stats
    [ "$rc" -eq 0 ] || die "--chatml-fallback: exit status $rc"
    [ "$(grep -c '^turn [0-9]*: ' "$TMP/err")" -eq 2 ] || die "--chatml-fallback: expected 2 turns"
    [ "$(stat 1 reply)" -ge 1 ] || die "--chatml-fallback: no reply tokens"
    echo "ok"
    ;;
  *)
    echo "chat_e2e.sh: unknown case $CASE" >&2
    exit 2
    ;;
esac
