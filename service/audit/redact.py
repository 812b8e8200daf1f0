"""What a search or a path asked for, with identity numbers taken out.

The audit trail keeps the search parameters (BALP wants the query), but an identity
number must never be stored in clear, not even there. So:

* ``identifier`` parameters (also ``subject:identifier`` and the like) keep their
  system and lose their value: ``urn:oid:...|[redacted]``.
* Anywhere else, an 11-digit number (a fødselsnummer, D-nummer or H-nummer, also
  written ``ddmmyy nnnnn``) is replaced, except in our own UUIDs, which can hold
  long runs of digits and are not personal.

No hash is kept instead: an unkeyed hash of an 11-digit number is reversed by trying
them all, and the keyed one is the patient table's lookup key. The patient a search
found is recorded by id in the record itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlencode

REDACTED = "[redacted]"
MAX_QUERY_CHARS = 2000

_IDENTITY_NUMBER = re.compile(r"(?<!\d)\d{6}[ .-]?\d{5}(?!\d)")
_OUR_ID = re.compile(
    r"^(?:[A-Za-z]+/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def scrub(value: str) -> str:
    """``value`` with anything shaped like an identity number replaced."""
    if _OUR_ID.match(value):
        return value
    return _IDENTITY_NUMBER.sub(REDACTED, value)


def redact_query(params: Iterable[tuple[str, str]]) -> str | None:
    """The search parameters as a query string, identity numbers removed; None if none."""
    pairs: list[tuple[str, str]] = []
    for name, value in params:
        if name.partition(":")[0].lower().endswith("identifier"):
            system, bar, _ = value.rpartition("|")
            system = scrub(system)
            value = f"{system}|{REDACTED}" if bar and REDACTED not in system else REDACTED
        else:
            value = scrub(value)
        pairs.append((scrub(name), value))
    text = urlencode(pairs, safe="|:/[]")
    return text[:MAX_QUERY_CHARS] or None
