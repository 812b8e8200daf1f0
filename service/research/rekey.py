"""Re-sealing study keys under the current data key, after a data-key rotation.

A study key is sealed under a key derived from the data key (``StudyKeyring``). Once a
rotation has moved ``DHO_DATA_KEY`` on, keys sealed under the old one open only while
that key stays in ``DHO_RETIRED_DATA_KEYS``; dropping it would make the study's
pseudonyms impossible to reproduce, so its linkage across exports would be lost for
good. ``dho reencrypt`` therefore re-seals every study key that a retired key sealed:
the key's bytes stay the same (pseudonyms do not change), only its wrapping moves.

Work goes a batch at a time, each batch its own short transaction, in keyset order of
the study id: a study that cannot be opened is passed over rather than read again, and
concurrent runs update rows in the same order, so they never wait on each other in a
cycle. Each row is written by one UPDATE conditional on the key id it was read under:
of two concurrent runs, one moves the row and the other changes nothing. A study whose
key was sealed under a data key this process does not hold is left as it is and
reported (its id and the key's id, never key material): it stops nothing, but the
operator must know before dropping any key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.research.models import Study
from service.research.pseudonyms import StudyKeyring

study = Study.__table__  # type: ignore[attr-defined]

BATCH_SIZE = 100


class Reason(StrEnum):
    """Why a study key was left where it is."""

    # Its key id names neither the current data key nor a retired one.
    key_not_held = "key_not_held"
    # A key of that id is held but does not open it: another key under a reused id,
    # or a damaged row.
    did_not_open = "did_not_open"


@dataclass(frozen=True)
class Unsealable:
    """A study whose key this run could not re-seal; says which, never the key."""

    study_id: str
    key_id: str
    reason: Reason


@dataclass(frozen=True)
class Batch:
    """One batch's work. ``last_id`` is where the next batch starts (None: done)."""

    resealed: int
    unsealable: tuple[Unsealable, ...]
    last_id: str | None


@dataclass(frozen=True)
class Outcome:
    """A whole run: how many study keys moved, and those left where they were."""

    resealed: int
    unsealable: tuple[Unsealable, ...]


async def sealed_under_other_keys(
    conn: AsyncConnection, key_id: str, after: str | None, limit: int
) -> Sequence[Row[Any]]:
    """Studies whose key was not sealed under ``key_id``, in id order after ``after``."""
    query = sa.select(study.c.id, study.c.key_ciphertext, study.c.key_id).where(
        study.c.key_id != key_id
    )
    if after is not None:
        query = query.where(study.c.id > after)
    return (await conn.execute(query.order_by(study.c.id).limit(limit))).all()


async def set_sealed_key(
    conn: AsyncConnection, study_id: str, ciphertext: str, key_id: str, was_key_id: str
) -> bool:
    """Conditional on the key id the row was read under: a concurrent run that got
    there first wins, and this one changes nothing. Answers whether the row moved."""
    result = await conn.execute(
        sa.update(study)
        .where(study.c.id == study_id, study.c.key_id == was_key_id)
        .values(key_ciphertext=ciphertext, key_id=key_id)
    )
    return bool(result.rowcount)


def _held(keyring: StudyKeyring, key_id: str) -> bool:
    return key_id == keyring.key_id or key_id in keyring.retired


async def reseal_batch(
    conn: AsyncConnection, keyring: StudyKeyring, after: str | None, limit: int = BATCH_SIZE
) -> Batch:
    """Re-seal up to ``limit`` study keys (those after ``after`` in id order) under the
    keyring's current key; run inside one transaction."""
    rows = await sealed_under_other_keys(conn, keyring.key_id, after, limit)
    resealed = 0
    unsealable: list[Unsealable] = []
    for row in rows:
        if not _held(keyring, row.key_id):
            unsealable.append(Unsealable(row.id, row.key_id, Reason.key_not_held))
            continue
        try:
            key = keyring.open(row.id, row.key_ciphertext, row.key_id)
        except (InvalidTag, ValueError):  # ValueError: not base64, or cut short
            unsealable.append(Unsealable(row.id, row.key_id, Reason.did_not_open))
            continue
        ciphertext = keyring.seal(row.id, key)
        # The sealed key is the only copy: prove the new one opens to the same bytes
        # before it replaces the old.
        if keyring.open(row.id, ciphertext, keyring.key_id) != key:
            raise RuntimeError(f"study {row.id}: the re-sealed key does not open")
        if await set_sealed_key(conn, row.id, ciphertext, keyring.key_id, row.key_id):
            resealed += 1
    return Batch(resealed, tuple(unsealable), rows[-1].id if len(rows) == limit else None)


async def reseal_study_keys(
    engine: AsyncEngine, keyring: StudyKeyring, batch_size: int = BATCH_SIZE
) -> Outcome:
    """Re-seal every study key sealed under an earlier data key, one transaction per
    batch (a failure loses at most the batch in hand, and a rerun takes up the rest)."""
    resealed = 0
    unsealable: list[Unsealable] = []
    after: str | None = None
    while True:
        async with engine.begin() as conn:
            batch = await reseal_batch(conn, keyring, after, batch_size)
        resealed += batch.resealed
        unsealable.extend(batch.unsealable)
        if batch.last_id is None:
            return Outcome(resealed, tuple(unsealable))
        after = batch.last_id
