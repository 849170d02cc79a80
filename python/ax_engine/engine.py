"""Engine: a model loaded into this process and served by AX Engine's continuous-batching engine.

    from ax_engine import Engine
    with Engine("models/ax-code-15m", threads=4) as engine:
        print(engine.generate("def fib(n):", max_tokens=48, temperature=0))
        for piece in engine.stream("import os\n", max_tokens=32):
            print(piece, end="", flush=True)

Every method may be called from any thread: the engine's own thread batches whatever requests are
running (continuous batching), and the GIL is released while the engine works or a call waits.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Sequence

from . import _native
from ._options import GenerateOptions, Prompt, check_options, shape_results, single_prompt, split_prompts
from ._stream import Stream
from .errors import EngineError
from .types import Generation, StreamChunk, Timings, TokenLogprob, Usage

if TYPE_CHECKING:
    from typing import Unpack


def _logprobs(raw: list[tuple[int, float, list[tuple[int, float]]]] | None) -> list[TokenLogprob] | None:
    if raw is None:
        return None
    return [TokenLogprob(token, lp, [tuple(alt) for alt in top]) for token, lp, top in raw]


def _usage_timings(m: dict[str, Any]) -> tuple[Usage, Timings]:
    return (Usage(m["prompt_tokens"], m["completion_tokens"], m["cached_tokens"]),
            Timings(m["queue_s"], m["ttft_s"], m["total_s"], m["decode_tokens_per_s"], m["preemptions"]))


def _finish_error(reason: str, error: str) -> EngineError | None:
    if reason == "error":
        return EngineError(error)
    if reason == "cancelled":
        return EngineError("the request was cancelled")
    return None


class _EngineStream(Stream):
    def __init__(self, request: Any, details: bool, with_logprobs: bool) -> None:
        super().__init__(details)
        self._request = request
        self._with_logprobs = with_logprobs

    def _next_chunk(self) -> StreamChunk | None:
        event = self._request.next_event(-1.0, self._with_logprobs)
        if event[0] == "token":
            _, text, ids, lp = event
            return StreamChunk(text, ids, _logprobs(lp))
        _, reason, _stop, error, metrics = event
        failure = _finish_error(reason, error)
        if failure:
            raise failure
        self._finish(reason, *_usage_timings(metrics))
        return None

    def _cancel(self) -> None:
        self._request.cancel()


def _collect(request: Any, with_logprobs: bool) -> Generation:
    text: list[str] = []
    ids: list[int] = []
    logprobs: list[TokenLogprob] | None = [] if with_logprobs else None
    while True:
        event = request.next_event(-1.0, with_logprobs)
        if event[0] == "token":
            text.append(event[1])
            ids.extend(event[2])
            if logprobs is not None:
                logprobs.extend(_logprobs(event[3]) or [])
            continue
        _, reason, _stop, error, metrics = event
        failure = _finish_error(reason, error)
        if failure:
            raise failure
        usage, timings = _usage_timings(metrics)
        return Generation("".join(text), ids, reason, usage, timings, logprobs)


class Engine:
    """A model (a .gguf file or a Hugging Face folder) loaded into this process.

    backend: "auto" (a GPU when one is present), "cpu" or "cuda"; device: the CUDA device index;
    threads: CPU compute threads (0: all); kv_memory_mb: the KV cache pool (default, as the server's:
    512 MiB on the CPU, the backend's share of free memory on a GPU); kv_type: "f16" or "f32"; max_num_seqs: sequences batched at once;
    speculation / max_draft: n-gram speculative decoding for requests that do not say (it never
    changes the output, only the speed; max_draft default 31).

    Use it as a context manager, or call close(): that stops the engine and frees the model.
    """

    def __init__(self, model: str | os.PathLike[str], backend: str = "auto", *, device: int = 0, threads: int = 0,
                 kv_memory_mb: int | None = None, kv_type: str = "f16", max_num_seqs: int = 64,
                 speculation: bool = True, max_draft: int | None = None) -> None:
        self._native = _native.NativeEngine(
            model=os.fspath(model), backend=backend, device=device, threads=threads,
            kv_memory_mb=kv_memory_mb or 0, kv_type=kv_type, max_num_seqs=max_num_seqs, speculation=speculation,
            max_draft=max_draft or 0)

    # ---- generation ----------------------------------------------------------------------------

    def generate(self, prompt: Prompt | Sequence[Prompt], *, details: bool = False,
                 **options: Unpack[GenerateOptions]) -> Any:
        """The generated text of a prompt (text or token ids); a list of prompts gives a list, run
        together (continuous batching). details=True gives Generation objects (text, token ids,
        finish reason, usage, timings, log-probs)."""
        prompts, batched = split_prompts(prompt)
        opts = check_options(options)
        with_logprobs = opts.get("logprobs") is not None
        requests = []
        try:
            for p in prompts:
                requests.append(self._submit(p, opts))
            results = [_collect(r, with_logprobs) for r in requests]
        finally:
            for r in requests:
                r.cancel()  # a no-op for finished ones; an interrupt or an error stops the rest
        return shape_results(results, details, batched)

    def stream(self, prompt: Prompt, *, details: bool = False, **options: Unpack[GenerateOptions]) -> Stream:
        """The generated text as it comes (str pieces; StreamChunk objects with details=True)."""
        opts = check_options(options)
        return _EngineStream(self._submit(single_prompt(prompt), opts), details, opts.get("logprobs") is not None)

    def chat(self, messages: Sequence[dict[str, Any]], *, chat_template_kwargs: dict[str, Any] | None = None,
             details: bool = False, **options: Unpack[GenerateOptions]) -> Any:
        """The assistant's reply to a conversation ([{"role": ..., "content": ...}, ...]), rendered
        with the model's own chat template exactly as the server's /v1/chat/completions renders it."""
        prompt = self._chat_prompt(messages, chat_template_kwargs)
        opts = check_options(options)
        g = _collect(self._submit(prompt, opts, "messages"), opts.get("logprobs") is not None)
        return g if details else g.text

    def chat_stream(self, messages: Sequence[dict[str, Any]], *,
                    chat_template_kwargs: dict[str, Any] | None = None, details: bool = False,
                    **options: Unpack[GenerateOptions]) -> Stream:
        """chat(), streamed as stream() streams."""
        prompt = self._chat_prompt(messages, chat_template_kwargs)
        opts = check_options(options)
        return _EngineStream(self._submit(prompt, opts, "messages"), details, opts.get("logprobs") is not None)

    # ---- text and tokens -----------------------------------------------------------------------

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        """The model's tokenizer: token ids of text (BOS/EOS added as the model's config says when
        add_special; special-token text such as "<|im_start|>" is matched as one token)."""
        return self._native.tokenize(text, add_special)

    def detokenize(self, ids: Sequence[int]) -> str:
        """The text of token ids (bytes that do not form UTF-8 become U+FFFD)."""
        return self._native.detokenize(list(ids))

    def apply_chat_template(self, messages: Sequence[dict[str, Any]], *, add_generation_prompt: bool = True,
                            tools: Sequence[dict[str, Any]] | None = None,
                            chat_template_kwargs: dict[str, Any] | None = None) -> str:
        """The conversation rendered with the model's chat template (as Hugging Face's
        tokenizer.apply_chat_template(..., tokenize=False) renders it)."""
        return self._native.apply_chat_template(_chat_request(messages, chat_template_kwargs, tools),
                                                add_generation_prompt)

    def embed(self, texts: str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]) -> Any:
        """L2-normalised embeddings from the model's final hidden states, pooled as its files say
        (as /v1/embeddings computes them): a numpy float32 array [hidden] for one input (a str or
        one list of token ids), [n, hidden] for a list of them."""
        inputs, batched = split_prompts(texts)
        ids = [self._native.encode_prompt(t) if isinstance(t, str) else t for t in inputs]
        vectors = self._native.embed(ids)
        return vectors if batched else vectors[0]

    # ---- state ---------------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """The engine's counters and gauges, named as the server's /metrics names them
        (ax_requests_running, ax_kv_cache_usage_ratio, ax_engine_generated_tokens_total, ...)."""
        return self._native.metrics()

    @property
    def info(self) -> dict[str, Any]:
        """The model and the engine: architecture, backend, vocab and hidden size, layers, the
        longest sequence (max_context), the KV pool, the tokenizer and whether there is a chat
        template."""
        return self._native.info()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def close(self) -> None:
        """Stops the engine (requests still running fail with EngineError) and frees the model."""
        self._native.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -----------------------------------------------------------------------------

    def _submit(self, prompt: Prompt, opts: dict[str, Any], prompt_param: str = "prompt") -> Any:
        ids = self._native.encode_prompt(prompt) if isinstance(prompt, str) else prompt
        return self._native.submit(ids, opts, prompt_param)

    def _chat_prompt(self, messages: Sequence[dict[str, Any]], kwargs: dict[str, Any] | None) -> list[int]:
        return self._native.chat_prompt(_chat_request(messages, kwargs))


def _chat_request(messages: Sequence[dict[str, Any]], kwargs: dict[str, Any] | None,
                  tools: Sequence[dict[str, Any]] | None = None) -> str:
    """A chat request's JSON, as the server receives one (it validates and renders it)."""
    request: dict[str, Any] = {"messages": list(messages)}
    if tools is not None:
        request["tools"] = list(tools)
    if kwargs is not None:
        request["chat_template_kwargs"] = kwargs
    return json.dumps(request, ensure_ascii=False)
