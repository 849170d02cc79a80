"""Client: the same methods as Engine, for a model served by `ax-engine serve` (standard library
only: urllib).

    from ax_engine import Client
    client = Client("http://127.0.0.1:8080")
    print(client.generate("def fib(n):", max_tokens=48, temperature=0))

generate/stream/chat/chat_stream go through the token routes /v1/generate[/stream] (token ids,
timings and log-probs come back as from the in-process Engine); a list of prompts is sent as
concurrent requests, which the server batches. Errors are APIError (the server's status, message
and the parameter at fault) or APIConnectionError.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ._options import GenerateOptions, Prompt, check_options, shape_results, single_prompt, split_prompts
from ._stream import Stream
from .errors import APIConnectionError, APIError
from .types import Generation, StreamChunk, Timings, TokenLogprob, Usage

if TYPE_CHECKING:
    from typing import Unpack

_SAMPLING_KEYS = ("temperature", "top_k", "top_p", "min_p", "repetition_penalty", "presence_penalty",
                  "frequency_penalty", "seed")


def generate_body(opts: dict[str, Any]) -> dict[str, Any]:
    """The /v1/generate request fields for Engine-style options (without the input)."""
    body: dict[str, Any] = {}
    sampling = {k: opts[k] for k in _SAMPLING_KEYS if opts.get(k) is not None}
    if opts.get("logit_bias"):
        sampling["logit_bias"] = {str(k): v for k, v in opts["logit_bias"].items()}
    if sampling:
        body["sampling"] = sampling
    if opts.get("max_tokens") is not None:
        body["max_output_tokens"] = opts["max_tokens"]
    for key in ("stop", "stop_token_ids", "ignore_eos"):
        if opts.get(key):
            body[key] = opts[key]
    if opts.get("logprobs") is not None:
        body["logprobs"] = True
        body["top_logprobs"] = opts["logprobs"]
    speculation: dict[str, Any] = {}
    if opts.get("speculation") is not None:
        speculation["mode"] = "ngram" if opts["speculation"] else "off"
    if opts.get("max_draft") is not None:
        speculation["max_draft"] = opts["max_draft"]
    if speculation:
        body["speculation"] = speculation
    return body


def _input(prompt: Prompt) -> dict[str, Any]:
    return {"input_text": prompt} if isinstance(prompt, str) else {"input_tokens": list(prompt)}


def _logprobs(raw: list[dict[str, Any]] | None) -> list[TokenLogprob] | None:
    if raw is None:
        return None
    return [TokenLogprob(t["token"], t["logprob"], [(a["token"], a["logprob"]) for a in t["top_logprobs"]])
            for t in raw]


def _usage(u: dict[str, Any]) -> Usage:
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return Usage(u["prompt_tokens"], u["completion_tokens"], cached)


def _timings(t: dict[str, Any]) -> Timings:
    return Timings(t["queue_ms"] / 1e3, t["ttft_ms"] / 1e3, t["total_ms"] / 1e3, t["decode_tokens_per_s"],
                   t["preemptions"])


def parse_prometheus(text: str) -> dict[str, float]:
    """Samples of a Prometheus text exposition by name, labels included as written
    ('ax_http_requests_total{route="/health",status="200"}')."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            continue
    return out


def _api_error(status: int, body: bytes) -> APIError:
    try:
        err = json.loads(body)["error"]
        return APIError(err.get("message", ""), status, err.get("type"), err.get("param"), err.get("code"))
    except (ValueError, KeyError, TypeError):
        return APIError(body.decode("utf-8", "replace").strip() or f"HTTP {status}", status)


class _ClientStream(Stream):
    def __init__(self, response: Any, details: bool) -> None:
        super().__init__(details)
        self._response = response
        self._events = self._read_events()

    def _read_events(self) -> Iterator[dict[str, Any]]:
        try:
            for raw in self._response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line.startswith("data:"):
                    continue  # blank separators, ": keep-alive" comments
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                yield json.loads(data)
        except OSError as e:
            raise APIConnectionError(f"the stream broke: {e}") from e

    def _next_chunk(self) -> StreamChunk | None:
        for event in self._events:
            if "error" in event:
                err = event["error"]
                raise APIError(err.get("message", ""), 500, err.get("type"), err.get("param"), err.get("code"))
            if event.get("finish_reason") is not None:
                self._finish(event["finish_reason"], _usage(event["usage"]), _timings(event["timings"]))
                continue
            return StreamChunk(event["text"], event["tokens"], _logprobs(event.get("logprobs")))
        if self.finish_reason is None:
            raise APIConnectionError("the stream ended before the request finished")
        self._response.close()
        return None

    def _cancel(self) -> None:
        self._response.close()  # the server cancels the request when its client goes away


class Client:
    """An ax-engine server at base_url ("http://host:port"; a trailing /v1 is fine). api_key:
    sent as a bearer token (servers started with --api-key need it). timeout: seconds a request
    may wait for data."""

    def __init__(self, base_url: str = "http://127.0.0.1:8080", *, api_key: str | None = None,
                 timeout: float = 600.0) -> None:
        base = base_url.rstrip("/")
        self.base_url = base[:-3] if base.endswith("/v1") else base
        self.api_key = api_key
        self.timeout = timeout

    # ---- generation ----------------------------------------------------------------------------

    def generate(self, prompt: Prompt | Sequence[Prompt], *, details: bool = False,
                 **options: Unpack[GenerateOptions]) -> Any:
        """As Engine.generate; a list of prompts is sent as concurrent requests."""
        prompts, batched = split_prompts(prompt)
        body = generate_body(check_options(options))
        if len(prompts) == 1:
            results = [self._generate({**_input(prompts[0]), **body})]
        else:
            with ThreadPoolExecutor(max_workers=min(len(prompts), 64)) as pool:
                results = list(pool.map(lambda p: self._generate({**_input(p), **body}), prompts))
        return shape_results(results, details, batched)

    def stream(self, prompt: Prompt, *, details: bool = False, **options: Unpack[GenerateOptions]) -> Stream:
        """As Engine.stream."""
        body = {**_input(single_prompt(prompt)), **generate_body(check_options(options))}
        return _ClientStream(self._open("POST", "/v1/generate/stream", body), details)

    def chat(self, messages: Sequence[dict[str, Any]], *, chat_template_kwargs: dict[str, Any] | None = None,
             details: bool = False, **options: Unpack[GenerateOptions]) -> Any:
        """As Engine.chat: the server renders the messages with the model's chat template."""
        g = self._generate({**self._messages(messages, chat_template_kwargs), **generate_body(check_options(options))})
        return g if details else g.text

    def chat_stream(self, messages: Sequence[dict[str, Any]], *,
                    chat_template_kwargs: dict[str, Any] | None = None, details: bool = False,
                    **options: Unpack[GenerateOptions]) -> Stream:
        """As Engine.chat_stream."""
        body = {**self._messages(messages, chat_template_kwargs), **generate_body(check_options(options))}
        return _ClientStream(self._open("POST", "/v1/generate/stream", body), details)

    # ---- text and tokens -----------------------------------------------------------------------

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return self._json("POST", "/tokenize", {"prompt": text, "add_special": add_special})["tokens"]

    def detokenize(self, ids: Sequence[int]) -> str:
        return self._json("POST", "/detokenize", {"tokens": list(ids)})["prompt"]

    def apply_chat_template(self, messages: Sequence[dict[str, Any]], *, add_generation_prompt: bool = True,
                            tools: Sequence[dict[str, Any]] | None = None,
                            chat_template_kwargs: dict[str, Any] | None = None) -> str:
        """As Engine.apply_chat_template (the server's POST /apply-template)."""
        body = {**self._messages(messages, chat_template_kwargs), "add_generation_prompt": add_generation_prompt}
        if tools is not None:
            body["tools"] = list(tools)
        return self._json("POST", "/apply-template", body)["prompt"]

    def embed(self, texts: str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]) -> Any:
        """As Engine.embed: a numpy float32 array ([hidden] for one input, [n, hidden] for a list)."""
        inputs, batched = split_prompts(texts)
        r = self._json("POST", "/v1/embeddings", {"input": inputs})
        rows = [d["embedding"] for d in sorted(r["data"], key=lambda d: d["index"])]
        import numpy as np

        vectors = np.asarray(rows, dtype=np.float32)
        return vectors if batched else vectors[0]

    # ---- state ---------------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """Every sample of the server's /metrics by name (the engine's names are those
        Engine.metrics() uses)."""
        return parse_prometheus(self._open("GET", "/metrics", None).read().decode("utf-8"))

    def health(self) -> str:
        """"ok", "loading" (the model is loading) or "shutting_down"."""
        with self._open("GET", "/health", None, accept_status=503) as r:
            return json.loads(r.read())["status"]

    def close(self) -> None:
        """Nothing to free (connections are per request); here so Client and Engine swap freely."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -----------------------------------------------------------------------------

    @staticmethod
    def _messages(messages: Sequence[dict[str, Any]], kwargs: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": list(messages)}
        if kwargs is not None:
            body["chat_template_kwargs"] = kwargs
        return body

    def _generate(self, body: dict[str, Any]) -> Generation:
        r = self._json("POST", "/v1/generate", body)
        return Generation(r["output_text"], r["output_tokens"], r["finish_reason"], _usage(r["usage"]),
                          _timings(r["timings"]), _logprobs(r.get("logprobs")))

    def _open(self, method: str, path: str, body: dict[str, Any] | None, accept_status: int = 0) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code == accept_status:
                return e  # a response too: status, headers and body
            raise _api_error(e.code, e.read()) from None
        except (urllib.error.URLError, OSError) as e:
            raise APIConnectionError(f"{method} {self.base_url}{path}: {e}") from e

    def _json(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        with self._open(method, path, body) as r:
            return json.loads(r.read())
