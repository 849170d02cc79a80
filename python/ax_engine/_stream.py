"""A streamed request, the same for Engine and Client: iterate it for the text pieces (or
StreamChunks with details=True); once it is exhausted finish_reason, usage and timings are set.
Leaving it early (break, an exception in the loop, close(), garbage collection) cancels the
request, which frees its KV cache at the engine's next step."""
from __future__ import annotations

from typing import Any, Iterator

from .types import StreamChunk, Timings, Usage


class Stream(Iterator[Any]):
    finish_reason: str | None
    usage: Usage | None
    timings: Timings | None

    def __init__(self, details: bool) -> None:
        self._details = details
        self._done = False
        self.finish_reason = None
        self.usage = None
        self.timings = None

    # Subclasses: the next chunk, or None once the request finished (after calling _finish).
    def _next_chunk(self) -> StreamChunk | None:
        raise NotImplementedError

    def _cancel(self) -> None:
        raise NotImplementedError

    def _finish(self, reason: str, usage: Usage, timings: Timings) -> None:
        self.finish_reason, self.usage, self.timings = reason, usage, timings

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Any:
        while not self._done:
            try:
                chunk = self._next_chunk()
            except BaseException:
                self.close()
                raise
            if chunk is None:
                self._done = True
                break
            if self._details:
                return chunk
            if chunk.text:
                return chunk.text
        raise StopIteration

    def text(self) -> str:
        """Reads the rest of the stream and returns its text."""
        return "".join(c.text if isinstance(c, StreamChunk) else c for c in self)

    def close(self) -> None:
        """Stops the request if it still runs."""
        if not self._done:
            self._done = True
            self._cancel()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
