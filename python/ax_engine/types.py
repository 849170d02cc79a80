"""What Engine and Client return: the same types whether the model runs in this process or
behind an ax-engine server."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability under the model's raw distribution, and the
    most likely alternatives (token id, log-probability), most likely first."""

    token: int
    logprob: float
    top: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # prompt tokens served from the prefix cache


@dataclass(frozen=True)
class Timings:
    queue_s: float  # submitted -> first scheduled
    ttft_s: float  # submitted -> first generated token
    total_s: float  # submitted -> finished
    decode_tokens_per_s: float
    preemptions: int


@dataclass(frozen=True)
class Generation:
    """One finished request (generate(..., details=True), chat(..., details=True))."""

    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" (EOS, a stop token or string) or "length"
    usage: Usage
    timings: Timings
    logprobs: list[TokenLogprob] | None = None  # when logprobs= was given


@dataclass(frozen=True)
class StreamChunk:
    """What one engine step added to a streamed request (stream(..., details=True)): the text
    that became final (complete UTF-8, never part of a stop string) and the token ids (several
    when speculative decoding accepted a draft)."""

    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprob] | None = None
