#!/usr/bin/env python3
"""Hostile-client checks of a running `ax-engine serve`: what slow and greedy clients do to
everyone else. Used to compare HTTP layers (docs/RELIABILITY.md); not a test (no pass/fail).

    ./build/ax-engine serve --model models/ax-code-15m --port 8080 &
    python3 scripts/http-hostile.py --port 8080 --pid $! [--slow 300] [--seconds 20]

Phases, each reported as one line of JSON:
  idle      threads and open fds of the server process (needs --pid)
  slowloris --slow connections each send a request one byte every 2 s; meanwhile /health is
            fetched on fresh connections every 100 ms (5 s timeout): latency and failures
  burst     64 connections opened at once, each GET /health: slowest answer
  chunked   a 50 MB chunked POST /v1/completions sent as fast as the server reads: status,
            bytes the server took before answering or closing, seconds, server RSS growth
"""
import argparse
import asyncio
import json
import socket
import statistics
import time

from proc_stats import proc_stats  # scripts/proc_stats.py


async def health(host, port, timeout=5.0):
    t0 = time.perf_counter()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        w.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await w.drain()
        data = await asyncio.wait_for(r.read(), timeout)
        w.close()
        ok = data.startswith(b"HTTP/1.1 200")
        return (time.perf_counter() - t0) if ok else None
    except Exception:
        return None


async def slow_client(host, port, stop, stats):
    try:
        r, w = await asyncio.open_connection(host, port)
    except Exception:
        stats["refused"] += 1
        return
    stats["open"] += 1
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
    try:
        for b in request:
            if stop.is_set():
                break
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(2.0)
            if r.at_eof():
                break
        stats["closed_by_server"] += 1 if not stop.is_set() else 0
    except Exception:
        stats["closed_by_server"] += 1
    finally:
        w.close()


async def slowloris(host, port, n, seconds, pid):
    stop = asyncio.Event()
    stats = {"open": 0, "refused": 0, "closed_by_server": 0}
    clients = [asyncio.create_task(slow_client(host, port, stop, stats)) for _ in range(n)]
    await asyncio.sleep(3)  # let them connect and start dribbling
    during = proc_stats(pid)
    lat, fails = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = await health(host, port)
        if t is None:
            fails += 1
        else:
            lat.append(t)
        await asyncio.sleep(0.1)
    stop.set()
    for c in clients:
        c.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    q = sorted(lat)
    return {"phase": "slowloris", "slow_clients": n, **stats, "health_ok": len(lat), "health_failed": fails,
            "health_p50_ms": round(1000 * statistics.median(q), 1) if q else None,
            "health_p99_ms": round(1000 * q[int(len(q) * 0.99)], 1) if q else None,
            "health_max_ms": round(1000 * q[-1], 1) if q else None, "server_during": during}


async def burst(host, port):
    t = await asyncio.gather(*[health(host, port, timeout=10) for _ in range(64)])
    ok = [x for x in t if x is not None]
    return {"phase": "burst", "connections": 64, "ok": len(ok),
            "slowest_ms": round(1000 * max(ok), 1) if ok else None,
            "median_ms": round(1000 * statistics.median(ok), 1) if ok else None}


def chunked(host, port, pid, total=50 << 20):
    rss0 = proc_stats(pid).get("vmrss")
    s = socket.create_connection((host, port))
    s.settimeout(30)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b'{"prompt": "' + b"a" * (64 * 1024 - 12)
    piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent, t0, status = 0, time.perf_counter(), None
    try:
        while sent < total:
            s.sendall(piece)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    try:
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    try:
        data = s.recv(4096)
        status = int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1") else None
    except (OSError, ValueError, IndexError):
        pass
    secs = time.perf_counter() - t0
    s.close()
    rss1 = proc_stats(pid).get("vmrss")
    return {"phase": "chunked", "body_mb": total >> 20, "status": status, "sent_mb": round(sent / (1 << 20), 1),
            "seconds": round(secs, 2), "rss_growth_mb": round((rss1 - rss0) / 1024, 1) if rss0 and rss1 else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--slow", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    print(json.dumps({"phase": "idle", **proc_stats(args.pid)}), flush=True)
    print(json.dumps(asyncio.run(slowloris(args.host, args.port, args.slow, args.seconds, args.pid))), flush=True)
    time.sleep(2)
    print(json.dumps(asyncio.run(burst(args.host, args.port))), flush=True)
    print(json.dumps(chunked(args.host, args.port, args.pid)), flush=True)
    print(json.dumps({"phase": "after", **proc_stats(args.pid)}), flush=True)


if __name__ == "__main__":
    main()
