"""Fixtures for the ax_engine tests: the bundled models, one in-process engine per model, and a
real `ax-engine serve` on a free loopback port (AX_ENGINE_BINARY) with a Client for it. The models
are tiny, so everything runs on 2 CPU threads."""
from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from ax_engine import Client, Engine

REPO = Path(os.environ.get("AX_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CODE_MODEL = REPO / "models" / "ax-code-15m"
STORIES_MODEL = REPO / "models" / "stories260K" / "stories260K.gguf"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="session")
def code_engine():
    with Engine(CODE_MODEL, backend="cpu", threads=2, kv_memory_mb=64) as engine:
        yield engine


@pytest.fixture(scope="session")
def stories_engine():
    with Engine(STORIES_MODEL, backend="cpu", threads=2, kv_memory_mb=16) as engine:
        yield engine


class Server:
    def __init__(self, model: Path, *args: str) -> None:
        binary = os.environ.get("AX_ENGINE_BINARY")
        if not binary:
            raise RuntimeError("AX_ENGINE_BINARY is not set (the ax-engine to serve with)")
        self.proc = subprocess.Popen([binary, "serve", "--model", str(model), "--port", "0", "--threads", "2", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log = ""
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"ax-engine serve exited: {log}")
            log += line
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.base_url = f"http://127.0.0.1:{m.group(1)}"
                break
        else:
            raise RuntimeError(f"ax-engine serve did not start: {log}")
        for _ in range(600):
            try:
                with urllib.request.urlopen(self.base_url + "/health") as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def code_server():
    server = Server(CODE_MODEL)
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="session")
def code_client(code_server):
    return Client(code_server.base_url)
