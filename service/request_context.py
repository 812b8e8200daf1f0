"""The request id and the client's address, carried in context variables so logs,
errors and the audit trail can quote them without being handed the request."""

from __future__ import annotations

from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_client_address: ContextVar[str | None] = ContextVar("client_address", default=None)


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> None:
    _request_id.set(value)


def current_client_address() -> str | None:
    return _client_address.get()


def set_client_address(value: str | None) -> None:
    _client_address.set(value)
