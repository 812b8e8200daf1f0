"""Two studies released to the same researchers are not independent.

Pseudonyms and offsets differ between studies, but a patient's readings (values,
intervals, times of day) are the same in both, so two releases about the same
patients join patient by patient, and the joined records carry the union of both
studies' quasi-identifiers: each study may hold k while the union does not.

So each study keeps the finest generalisation any of its exports has released
(``study.finest_level``), and an export of a study with a researcher in common with
another that has released something recomputes the classes of the patients in both
over the union, the other study's values taken at its finest release (and its own
``non_identifying`` respected). A class under k fails the export with a message that
names the other study. Whichever of two such studies exports second is the one judged.
The k applied is the strictest of the studies joined: each reviewer's k is a promise
about everything derived from that study's release.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.database import reading
from service.research import kanon, repository, subjects


async def check(engine: AsyncEngine, study: Any, release: kanon.Release, cut: Any) -> None:
    """Raise ``kanon.AnonymityNotReached`` if ``release``, joined with what other
    studies have released to one of the same researchers, leaves a class under k."""
    joined: list[dict[str, tuple[str | None, ...]]] = []
    names: list[str] = []
    k = study.k
    async with reading(engine) as conn:
        for other in await repository.overlapping_studies(conn, study.id):
            centres = (await repository.links(conn, [other.id]))[0][other.id]
            # Whoever its exports covered has an offset in it, though they may have
            # left its protocols since: its centres' patients, not its cohort today.
            members = await repository.cohort(conn, centres, (), None, None, cut)
            offsets = await repository.offsets(conn, other.id)
            level = kanon.level_named(other.finest_level) or kanon.LADDER[0]
            qi = subjects.quasi_identifiers(frozenset(other.variables), other.non_identifying)
            values = {
                m.id: kanon.class_key(
                    kanon.generalise(
                        subjects.subject(m, subjects.shift(other, offsets[m.id], m)), level, qi
                    ),
                    qi,
                )
                # A patient without an offset in the other study was never in its release.
                for m in members
                if m.id in offsets
            }
            joined.append(values)
            names.append(other.id)
            k = max(k, other.k)
    if not joined or k <= 1:
        return
    own = {
        patient: kanon.class_key(values, release.quasi_identifiers)
        for patient, values in release.values.items()
    }
    found = kanon.smallest_joined_class(own, joined)
    if found is not None and found[0] < k:
        raise kanon.AnonymityNotReached(
            f"k={k} is not held over the union with study {', '.join(names)}: it shares "
            f"researchers and {found[1]} patients with this one, and joined through their "
            f"readings the two releases' patient attributes leave a class of {found[0]}; "
            "release the same patient attributes in both, declare one non-identifying "
            "with a justification, or give the studies different researchers; nothing "
            "was released"
        )


async def note_release(engine: AsyncEngine, study_id: str, level: kanon.Level) -> None:
    """Keep the finest generalisation the study has released: what another study's
    export to the same researchers is joined against."""
    order = [rung.name for rung in kanon.LADDER]
    async with engine.begin() as conn:
        known = kanon.level_named(await repository.finest_level(conn, study_id))
        if known is None or order.index(level.name) < order.index(known.name):
            await repository.set_finest_level(conn, study_id, level.name)
