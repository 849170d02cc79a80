#!/usr/bin/env python3
"""Decode speed with and without constrained output, against a running `ax-engine serve`.

    ./build/ax-engine serve --model models/ax-code-15m --port 8080 &
    python3 scripts/bench-constrained.py --url http://127.0.0.1:8080 --runs 5 --max-tokens 256

Each mode sends the same streaming /v1/completions requests one at a time (speculation off in every
mode, since constrained requests are never speculated) and reports decode tokens/s: completion
tokens after the first, over the time from the first token event to the last. "none" runs with
ignore_eos to max_tokens; the schema modes end where the document does.
"""
import argparse
import json
import statistics
import time
import urllib.request

SCHEMAS = {
    "json_object": {"type": "json_object"},
    # Long documents: an array of short records with bounded fields, a pattern and a format.
    "json_schema": {"type": "json_schema", "json_schema": {"name": "rows", "schema": {
        "type": "array", "maxItems": 200, "items": {
            "type": "object",
            "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 100000},
                           "name": {"type": "string", "maxLength": 24},
                           "code": {"type": "string", "pattern": "^[a-z]{2}[0-9]{3}$"},
                           "when": {"type": "string", "format": "date"}},
            "required": ["id", "name", "code", "when"]}}}},
}


def run(url, body):
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    first = last = None
    tokens = 0
    with urllib.request.urlopen(req, timeout=600) as r:
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            if any(c.get("text") for c in event.get("choices", [])):
                now = time.perf_counter()
                first = first or now
                last = now
    if not first or last == first or tokens < 2:
        return None, tokens
    return (tokens - 1) / (last - first), tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--prompt", default="data = ")
    args = ap.parse_args()
    base = {"prompt": args.prompt, "max_tokens": args.max_tokens, "stream": True,
            "stream_options": {"include_usage": True}, "speculation": {"mode": "off"}, "temperature": 0.8}
    results = {}
    for mode in ["none"] + list(SCHEMAS):
        rates, counts = [], []
        for i in range(args.runs):
            body = dict(base, seed=1000 + i)
            if mode == "none":
                body["ignore_eos"] = True
            else:
                body["response_format"] = SCHEMAS[mode]
            rate, n = run(args.url, body)
            if rate:
                rates.append(rate)
                counts.append(n)
        results[mode] = statistics.median(rates) if rates else float("nan")
        print(f"{mode:12s} decode {results[mode]:8.1f} tok/s (median of {len(rates)}; tokens per run {counts})")
    for mode in SCHEMAS:
        print(f"{mode:12s} / none = {results[mode] / results['none']:.2f}x")


if __name__ == "__main__":
    main()
