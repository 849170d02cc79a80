"""Exceptions raised by ax_engine. Every message is the engine's or the server's own sentence,
naming the parameter at fault."""
from __future__ import annotations


class Error(Exception):
    """Base class of everything ax_engine raises about a request or the engine."""


class EngineError(Error):
    """The in-process engine refused or failed a request (a bad parameter, a prompt longer than the
    context, a model without a chat template, the engine closed...)."""


class APIError(Error):
    """An error response from an ax-engine server (or any OpenAI-compatible one).

    status_code: the HTTP status; type, param, code: the error object's fields (param names the
    request field at fault, code is e.g. "context_length_exceeded")."""

    def __init__(self, message: str, status_code: int, type: str | None = None, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code


class APIConnectionError(Error):
    """The server could not be reached, or the connection broke during a response."""
