"""Structured JSON logs with the request id, and nothing personal in them.

Records carry only what we put in ``extra`` under known keys: method, route
template, status, duration. Query strings are never logged (``identifier=`` would
carry an identity number), nor bodies, names, values or tokens.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

from service.request_context import current_request_id

SAFE_EXTRA_KEYS = (
    "method",
    "route",
    "status",
    "duration_ms",
    "error_type",
    "event",
    "count",
    "result",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        for key in SAFE_EXTRA_KEYS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where it happened; exception messages may quote input.
            entry["exception"] = record.exc_info[0].__name__
            entry["where"] = _where(record.exc_info[2])
        return orjson.dumps(entry).decode()


def _where(tb: Any) -> str:
    frames = []
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}")
        tb = tb.tb_next
    return " > ".join(frames[-5:])


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Uvicorn's access log prints the full path with its query string: ours does not.
    logging.getLogger("uvicorn.access").disabled = True
