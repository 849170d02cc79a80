#!/usr/bin/env python3
"""The load half of scripts/soak.sh: many clients with mixed, partly rude behaviour against a
running `ax-engine serve`, and the checks at the end. Run through scripts/soak.sh.

Each client loops (backing off 0.5-1 s after a 429, as its Retry-After asks), picking at random: blocking chat; streamed chat read to the end; a stream
hung up after a few events; a stream read slowly; a blocking request hung up mid-generation; a
forced tool call; a json_schema response (its text must parse when it stops); a malformed body
(a 400, or a 429 when the server is full: that is decided before a body is read); /health and
/metrics. Answers other than the expected ones (200, 429 past --max-concurrent, 400 for the
malformed body) count as unexpected errors, as do broken streams and failed connections.

Every --sample seconds it records the server's RSS, threads, open fds and KV blocks in use. At the
end, after the load has stopped and the engine drained: no unexpected errors, no KV block in use,
no request running or waiting, threads and fds back to their start, and RSS flat (the mean of the
last third of the samples within --rss-slack of the mean of the second third).
"""
import argparse
import asyncio
import json
import random
import sys
import time

from proc_stats import proc_stats  # scripts/proc_stats.py

COUNTS = {}
UNEXPECTED = []


def count(key):
    COUNTS[key] = COUNTS.get(key, 0) + 1


def unexpected(what):
    count("unexpected")
    if len(UNEXPECTED) < 50:
        UNEXPECTED.append(what)


async def http(host, port, method, path, body=None, raw=None, timeout=120, on_chunk=None, hang_up_after=None):
    """One request on its own connection. Returns (status, body bytes) or ("hung-up", b"")."""
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        w.write(f"{method} {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await w.drain()
        if hang_up_after is not None and on_chunk is None:
            await asyncio.sleep(hang_up_after)
            return "hung-up", b""
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        headers = head.decode("latin-1").lower()
        out = b""
        if "transfer-encoding: chunked" in headers:
            while True:
                size_line = await asyncio.wait_for(r.readuntil(b"\r\n"), timeout)
                size = int(size_line.split(b";")[0], 16)
                chunk = await asyncio.wait_for(r.readexactly(size + 2), timeout)
                if size == 0:
                    break
                out += chunk[:-2]
                if on_chunk is not None and not await on_chunk(chunk[:-2]):
                    return "hung-up", out
        else:
            out = await asyncio.wait_for(r.read(), timeout)
        return status, out
    finally:
        w.close()


def sse_events(text):
    events = []
    for block in text.decode().split("\n\n"):
        if block.startswith("data: ") and block != "data: [DONE]":
            events.append(json.loads(block[6:]))
    return events, "data: [DONE]" in text.decode()


CHAT = [{"role": "user", "content": "def add(a, b):"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                     "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "days"]}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "s", "schema": {
    "type": "object", "properties": {"name": {"type": "string", "maxLength": 10}, "ok": {"type": "boolean"},
                                     "when": {"type": "string", "format": "date"}},
    "required": ["name", "ok", "when"]}}}


async def one(host, port, rng):
    kind = rng.choice(["chat", "stream", "stream_hangup", "slow_reader", "blocking_hangup", "tool", "schema",
                       "bad", "health"])
    count(kind)
    max_tokens = rng.randint(4, 48)
    if kind == "chat":
        status, body = await http(host, port, "POST", "/v1/chat/completions",
                                  {"messages": CHAT, "max_tokens": max_tokens, "temperature": 0.8})
        count(f"chat:{status}")
        if status not in (200, 429):
            unexpected(f"chat {status} {body[:200]!r}")
    elif kind in ("stream", "slow_reader", "stream_hangup"):
        seen = [0]
        stop_after = rng.randint(1, 4) if kind == "stream_hangup" else None

        async def on_chunk(chunk):
            seen[0] += 1
            if kind == "slow_reader":
                await asyncio.sleep(rng.uniform(0.05, 0.3))
            return stop_after is None or seen[0] < stop_after

        status, body = await http(host, port, "POST", "/v1/chat/completions",
                                  {"messages": CHAT, "max_tokens": max_tokens, "stream": True,
                                   "stream_options": {"include_usage": True}}, on_chunk=on_chunk)
        count(f"{kind}:{status}")
        if status == "hung-up":
            return
        if status == 200:
            events, done = sse_events(body)
            if not done or not events:
                unexpected(f"{kind}: stream without [DONE] ({len(body)} bytes)")
            elif any("error" in e for e in events):
                unexpected(f"{kind}: error event {events[-1]}")
        elif status != 429:
            unexpected(f"{kind} {status} {body[:200]!r}")
    elif kind == "blocking_hangup":
        await http(host, port, "POST", "/v1/completions",
                   {"prompt": "import os\n", "max_tokens": 200, "ignore_eos": True}, hang_up_after=rng.uniform(0.02, 0.3))
    elif kind == "tool":
        status, body = await http(host, port, "POST", "/v1/chat/completions",
                                  {"messages": [{"role": "user", "content": "weather?"}], "tools": TOOLS,
                                   "tool_choice": "required", "max_tokens": 400})
        count(f"tool:{status}")
        if status == 200:
            r = json.loads(body)
            c = r["choices"][0]
            if c["finish_reason"] == "tool_calls":
                args = json.loads(c["message"]["tool_calls"][0]["function"]["arguments"])
                if not 1 <= args["days"] <= 7:
                    unexpected(f"tool: arguments out of schema {args}")
        elif status != 429:
            unexpected(f"tool {status} {body[:200]!r}")
    elif kind == "schema":
        status, body = await http(host, port, "POST", "/v1/chat/completions",
                                  {"messages": CHAT, "response_format": SCHEMA, "max_tokens": 400})
        count(f"schema:{status}")
        if status == 200:
            c = json.loads(body)["choices"][0]
            if c["finish_reason"] == "stop":
                v = json.loads(c["message"]["content"])
                if set(v) != {"name", "ok", "when"}:
                    unexpected(f"schema: {v}")
        elif status != 429:
            unexpected(f"schema {status} {body[:200]!r}")
    elif kind == "bad":
        status, body = await http(host, port, "POST", "/v1/chat/completions", raw=b'{"messages": [')
        count(f"bad:{status}")
        if status not in (400, 429):  # the 429 is decided before the body is read
            unexpected(f"bad body answered {status}")
    else:
        status, _ = await http(host, port, "GET", rng.choice(["/health", "/metrics"]))
        if status != 200:
            unexpected(f"health/metrics {status}")


async def client(host, port, seed, deadline):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        try:
            before = sum(v for k, v in COUNTS.items() if k.endswith(":429"))
            await one(host, port, rng)
            if sum(v for k, v in COUNTS.items() if k.endswith(":429")) > before:
                await asyncio.sleep(rng.uniform(0.5, 1.0))  # as Retry-After: 1 asks
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError) as e:
            unexpected(f"transport: {type(e).__name__} {e}")


async def metric(host, port, name):
    status, body = await http(host, port, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


async def main_async(args):
    deadline = time.monotonic() + args.minutes * 60
    start = proc_stats(args.pid)
    samples = []

    async def sampler():
        while time.monotonic() < deadline:
            await asyncio.sleep(args.sample)
            s = proc_stats(args.pid)
            s["kv_used"] = await metric(args.host, args.port, "ax_kv_blocks_used")
            s["t"] = round(time.monotonic() - (deadline - args.minutes * 60))
            samples.append(s)
            print(json.dumps({"sample": s, "requests": sum(v for k, v in COUNTS.items() if k != "unexpected"),
                              "unexpected": COUNTS.get("unexpected", 0)}), flush=True)

    await asyncio.gather(sampler(), *[client(args.host, args.port, 1000 + i, deadline) for i in range(args.clients)])
    # Drain: the engine finishes or cancels what the hung-up clients left.
    for _ in range(600):
        if (await metric(args.host, args.port, "ax_kv_blocks_used") == 0 and
                await metric(args.host, args.port, "ax_requests_running") == 0 and
                await metric(args.host, args.port, "ax_requests_waiting") == 0):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(args.idle_wait)  # idle worker threads end after 30 s
    end = proc_stats(args.pid)
    kv = await metric(args.host, args.port, "ax_kv_blocks_used")
    running = await metric(args.host, args.port, "ax_requests_running")
    third = max(1, len(samples) // 3)
    rss_mid = sum(s["vmrss"] for s in samples[third:2 * third]) / max(1, len(samples[third:2 * third]))
    rss_end = sum(s["vmrss"] for s in samples[-third:]) / third
    summary = {"minutes": args.minutes, "clients": args.clients, "counts": COUNTS, "start": start, "end": end,
               "kv_blocks_used_end": kv, "running_end": running,
               "rss_mid_third_mb": round(rss_mid / 1024, 1), "rss_last_third_mb": round(rss_end / 1024, 1),
               "max_threads": max(s["threads"] for s in samples), "max_fds": max(s["fds"] for s in samples),
               "unexpected_examples": UNEXPECTED[:10]}
    print(json.dumps(summary, indent=1), flush=True)
    failures = []
    if COUNTS.get("unexpected", 0):
        failures.append(f"{COUNTS['unexpected']} unexpected answers")
    if kv != 0 or running != 0:
        failures.append(f"engine not drained: {kv} KV blocks used, {running} running")
    if end["threads"] > start["threads"] + 2:
        failures.append(f"threads {start['threads']} -> {end['threads']}")
    if end["fds"] > start["fds"] + 2:
        failures.append(f"fds {start['fds']} -> {end['fds']}")
    if rss_end > rss_mid * (1 + args.rss_slack):
        failures.append(f"RSS grew {rss_mid / 1024:.0f} -> {rss_end / 1024:.0f} MB")
    for f in failures:
        print("soak: FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--sample", type=float, default=10)
    ap.add_argument("--rss-slack", type=float, default=0.10)
    ap.add_argument("--idle-wait", type=float, default=35)
    sys.exit(asyncio.run(main_async(ap.parse_args())))


if __name__ == "__main__":
    main()
