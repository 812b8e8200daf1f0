"""Search parameters every FHIR search reads the same way."""

from __future__ import annotations


def positive_count(text: str | None, default: int) -> int | None:
    """``_count``: ASCII digits only (``str.isdigit`` also takes "²" and "５") and
    positive; None when it is not one. The caller caps it at its page size."""
    if text is None:
        return default
    if not text.isascii() or not text.isdigit():
        return None
    count = int(text[:10])  # longer than 10 digits is past any page size anyway
    return count if count >= 1 else None
