"""AX Engine from Python.

Engine: a model loaded into this process (continuous batching, paged KV cache with prefix reuse,
n-gram speculative decoding), with generate / stream / chat / chat_stream / tokenize / detokenize /
apply_chat_template / embed / metrics.

Client: the same methods for a model served by `ax-engine serve` (standard library only).
"""
from __future__ import annotations

from ._options import GenerateOptions
from ._stream import Stream
from .errors import APIConnectionError, APIError, EngineError, Error
from .types import Generation, StreamChunk, Timings, TokenLogprob, Usage
from .client import Client
from .engine import Engine

__all__ = [
    "Engine", "Client", "Stream", "GenerateOptions", "Generation", "StreamChunk", "Timings", "TokenLogprob",
    "Usage", "Error", "EngineError", "APIError", "APIConnectionError",
]
