"""One export, end to end: cohort, offsets, k-anonymity, streaming writes, checks.

Nothing is written before the k-anonymity decision (the study's own, and joined with
what other studies released to the same researchers: ``service.research.overlap``), so
a study that cannot be made anonymous enough releases nothing. Rows are then read one
patient and one keyset page at a time, each page in a short transaction of its own (a
long one would hold SQLite's write lock, or PostgreSQL's vacuum horizon, for the whole
export), and the export's ``transaction_time`` is the cut: rows stored after it are
left out. Pages are formatted and written in a thread, so the event loop (the worker's
other jobs, or the API on the embedded default) keeps running. Any failure deletes
every file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.database import reading
from service.fhirkit.catalogue import Catalogue
from service.research import (
    checks,
    dictionary,
    kanon,
    kinds,
    overlap,
    records,
    report,
    repository,
    sources,
    subjects,
    writers,
)
from service.research.aggregates import Aggregates
from service.research.dates import days_since, draw_offset_days
from service.research.limits import ValueLimits
from service.research.pseudonyms import Pseudonyms, StudyKeyring
from service.research.vocabulary import vocabulary

PAGE = 1000
# Progress (which is also the heartbeat and the check for a cancel) is written at most
# this often: once per page was a transaction per thousand rows, most of an export's
# round trips.
PROGRESS_SECONDS = 1.0
AGGREGATES_TABLE = "aggregates"
DICTIONARY_FILE = "data-dictionary.csv"
REPORT_FILE = "deidentification-report.json"

Progress = Callable[[float], Awaitable[bool]]


class Cancelled(Exception):
    """The job was cancelled (or taken away) while it ran."""


@dataclass(frozen=True)
class Tools:
    engine: AsyncEngine
    keyring: StudyKeyring
    catalogue: Catalogue
    # Where the export's reads go: a read replica (DHO_READ_DATABASE_URL), or the
    # primary. Its writes (offsets, releases, the job) always go to ``engine``.
    reader: AsyncEngine | None = None

    @property
    def source(self) -> AsyncEngine:
        return self.reader or self.engine


def window_of(study: Any) -> tuple[datetime, datetime]:
    start = datetime.combine(study.period_start, time(), UTC)
    return start, datetime.combine(study.period_end, time(), UTC) + timedelta(days=1)


@dataclass(frozen=True)
class Plan:
    """What the export will release, decided before anything is written."""

    study: Any
    centres: list[str]
    cohort: int
    released: frozenset[str]
    release: kanon.Release
    people: list[records.Person]
    names: Pseudonyms
    window: tuple[datetime, datetime]
    cut: datetime
    limits: ValueLimits

    @property
    def tables(self) -> tuple[str, ...]:
        return dictionary.tables(self.released)

    @property
    def row_tables(self) -> tuple[str, ...]:
        return tuple(t for t in self.tables if t in dictionary.ROW_TABLES)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of source rows to read: the released tables', or every kind when
        the aggregates (which count them all) are released."""
        aggregated = AGGREGATES_TABLE in self.tables
        tables = dictionary.ROW_TABLES if aggregated else self.row_tables
        return tuple(kind for table in tables for kind in kinds.of_table(table))


async def run(
    tools: Tools, study_id: str, cut: datetime, directory: Path, progress: Progress
) -> list[dict[str, Any]]:
    """Write the export of ``study_id`` as of ``cut`` into ``directory`` (created here,
    deleted on any failure); answers the files with their digests."""
    try:
        plan = await _plan(tools, study_id, cut)
        await asyncio.to_thread(directory.mkdir, parents=True)
        files, aggregates = await _write(tools, plan, directory, progress)
        described = await _finish(tools, plan, directory, files, aggregates)
        await overlap.note_release(tools.engine, plan.study.id, plan.release.level)
        return described
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


async def _plan(tools: Tools, study_id: str, cut: datetime) -> Plan:
    # The study and its centres from the primary (a replica may not have them yet);
    # the cohort and every page of rows from the source.
    async with reading(tools.engine) as conn:
        study = await repository.get_study(conn, study_id)
        if study is None:
            raise LookupError("the study no longer exists")
        centres = (await repository.links(conn, [study_id]))[0][study_id]
    async with reading(tools.source) as conn:
        members = await subjects.cohort(conn, study, centres, cut)
    names = Pseudonyms(tools.keyring.open(study.id, study.key_ciphertext, study.key_id))
    drawn = await _offsets(tools.engine, study, members)
    released = frozenset(study.variables)
    shifts = {m.id: subjects.shift(study, drawn[m.id], m) for m in members}
    qi = subjects.quasi_identifiers(released, study.non_identifying)
    release = kanon.anonymise(
        [subjects.subject(m, shifts[m.id]) for m in members],
        qi,
        study.k,
        study.max_suppressed_share,
    )
    await overlap.check(tools.engine, study, release, cut)
    people = [
        records.Person(
            m.id,
            names.patient(m.id),
            shifts[m.id],
            m.enrolled_at,
            _protocol_label(release.values[m.id], released),
        )
        for m in members
        if m.id in release.values
    ]
    return Plan(
        study=study,
        centres=centres,
        cohort=len(members),
        released=released,
        release=release,
        # Sorted by pseudonym: the files' order says nothing about ids or enrolment.
        people=sorted(people, key=lambda p: p.pseudonym),
        names=names,
        window=window_of(study),
        cut=cut,
        limits=ValueLimits.of(study.value_limits),
    )


def _protocol_label(values: dict[str, str | None], released: frozenset[str]) -> str:
    if "protocol" not in released:
        return "all"
    return values.get("protocol") or "none"


async def _write(
    tools: Tools, plan: Plan, directory: Path, progress: Progress
) -> tuple[list[writers.WrittenFile], dict[str, int] | None]:
    """The data files; and the aggregates' cell counts, if they were released."""
    mapper = records.Mapper(plan.names, tools.catalogue, plan.limits, plan.released)
    counts = Aggregates.for_study(plan.study.k) if AGGREGATES_TABLE in plan.tables else None
    sinks = {
        t: writers.Sink(directory, kinds.resource_types(t), t, dictionary.columns(t, plan.released))
        for t in ("patients", *plan.row_tables)
    }
    try:
        patients = [
            records.patient(p, plan.release.values[p.id], plan.released) for p in plan.people
        ]
        await asyncio.to_thread(sinks["patients"].write, patients)
        expected = 0
        if "readings" in plan.kinds:
            totals = await _counts(tools.source, plan, "readings")
            expected = sum(totals.get(p.id, 0) for p in plan.people)
        written = 0
        reported = monotonic()
        writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="export-writer")
        # The next page is read while the thread writes the last one: the database's
        # time and the writer's overlap. Writes stay in order, one at a time.
        writing: concurrent.futures.Future[None] | None = None
        try:
            async for done, person, kind, rows in _every_page(tools.source, plan):
                if writing is not None:
                    await asyncio.wrap_future(writing)
                sink = sinks.get(kinds.KINDS[kind].table)
                writing = writer.submit(_write_page, sink, counts, mapper, kind, rows, person)
                written += len(rows) if kind == "readings" else 0
                if monotonic() - reported < PROGRESS_SECONDS:
                    continue
                reported = monotonic()
                share = written / expected if expected else done / len(plan.people)
                if not await progress(min(share, 0.99)):
                    raise Cancelled
        finally:
            # Even when this task is cancelled, the thread may still be writing: the
            # files are closed (or deleted) only after it has finished. At most one page.
            writer.shutdown(wait=True)
        if writing is not None:
            writing.result()  # a failed last write fails the export
    finally:
        files = [f for sink in sinks.values() for f in await asyncio.to_thread(sink.close)]
    if counts is None:
        return files, None
    files += await asyncio.to_thread(_write_aggregates, directory, counts)
    return files, counts.summary()


def _write_page(
    sink: writers.Sink | None,
    counts: Aggregates | None,
    mapper: records.Mapper,
    kind: str,
    rows: Sequence[Any],
    person: records.Person,
) -> None:
    mapper.limits.counting = sink is not None
    full = [mapper.row(kind, row, person) for row in rows]
    if counts is not None:
        category = kinds.KINDS[kind].category
        for source, row in zip(rows, full, strict=True):
            day = row["day"] if kind == "readings" else _day_of(kind, source, person)
            minutes = row["minutes"] if kind == "nurse_actions" else None
            counts.add(person.id, kind, person.protocol, row[category], day, minutes)
    if sink is not None:
        sink.write(mapper.release(kind, row, person) for row in full)


def _day_of(kind: str, source: Any, person: records.Person) -> int:
    return days_since(person.enrolled_at, kinds.KINDS[kind].time_of(source))


def _write_aggregates(directory: Path, counts: Aggregates) -> list[writers.WrittenFile]:
    table = writers.TableWriter(directory, AGGREGATES_TABLE, dictionary.AGGREGATES)
    table.write(counts.rows())
    return table.close()


async def _finish(
    tools: Tools,
    plan: Plan,
    directory: Path,
    files: list[writers.WrittenFile],
    aggregates: dict[str, int] | None,
) -> list[dict[str, Any]]:
    """The dictionary, the report, and the checks of everything written."""
    study, release = plan.study, plan.release
    await asyncio.to_thread(
        writers.write_csv,
        directory / DICTIONARY_FILE,
        dictionary.DICTIONARY_HEADER,
        dictionary.dictionary_rows(plan.released),
    )
    suppressed = set(release.suppressed)
    suppressed_records: dict[str, int] | None = None
    # The records of the written tables left out with the suppressed patients; withheld
    # when those are fewer than a cell's threshold, or the counts would profile them.
    if not suppressed or len(suppressed) >= Aggregates.for_study(study.k).threshold:
        suppressed_records = {}
        for kind in (k for table in plan.row_tables for k in kinds.of_table(table)):
            counts = await _counts(tools.source, plan, kind) if suppressed else {}
            suppressed_records[kind] = sum(n for p, n in counts.items() if p in suppressed)
    config = report.configuration(study, plan.released, release.quasi_identifiers)
    document = report.build(
        study,
        config,
        release,
        cohort=plan.cohort,
        smallest_written_class=None,
        suppressed_records=suppressed_records,
        written={f.name: f.count for f in files},
        value_limits=plan.limits.describe(),
        aggregates=aggregates,
    )
    async with reading(tools.source) as conn:
        source_names, serials = await repository.identities(conn, plan.centres)
    needles = checks.Needles.build(source_names, serials, vocabulary(tools.catalogue, document))
    document["k_reached"] = await asyncio.to_thread(
        checks.verify,
        directory,
        [f.name for f in files] + [DICTIONARY_FILE],
        needles,
        frozenset(entry["variable"] for entry in study.non_identifying or ()),
        study.k,
    )
    await asyncio.to_thread(writers.write_json, directory / REPORT_FILE, document)
    hit = await asyncio.to_thread(checks.scan_file, directory / REPORT_FILE, needles)
    if hit is not None:
        raise checks.CheckFailed(f"{hit} was found in {REPORT_FILE}")
    extra = [
        writers.WrittenFile(DICTIONARY_FILE, "data-dictionary", "csv", 0),
        writers.WrittenFile(REPORT_FILE, "deidentification-report", "json", 1),
    ]
    return await asyncio.to_thread(lambda: [f.describe(directory) for f in [*files, *extra]])


async def _offsets(engine: AsyncEngine, study: Any, members: Any) -> dict[str, int]:
    """Every member's offset in this study: drawn on first export, then kept."""
    async with engine.begin() as conn:
        known = await repository.offsets(conn, study.id)
        missing = [
            {
                "study_id": study.id,
                "patient_id": m.id,
                "centre_id": m.centre_id,
                "offset_days": draw_offset_days(study.max_offset_days),
                "drawn_at": datetime.now(UTC),
            }
            for m in members
            if m.id not in known
        ]
        if missing:
            await repository.add_offsets(conn, missing)
            known = await repository.offsets(conn, study.id)
    return known


async def _counts(engine: AsyncEngine, plan: Plan, kind: str) -> dict[str, int]:
    async with reading(engine) as conn:
        return await sources.counts(conn, kind, plan.centres, plan.window, plan.cut)


async def _every_page(
    engine: AsyncEngine, plan: Plan
) -> AsyncIterator[tuple[int, records.Person, str, Sequence[Any]]]:
    """Every page of every kind of every released patient, in the files' order."""
    for done, person in enumerate(plan.people):
        for kind in plan.kinds:
            async for rows in _pages(engine, plan, kind, person.id):
                yield done, person, kind, rows


async def _pages(
    engine: AsyncEngine, plan: Plan, kind: str, patient_id: str
) -> AsyncIterator[Sequence[Any]]:
    """A patient's rows of ``kind``, a keyset page at a time, each page read in a
    transaction of its own."""
    after: tuple[datetime, str] | None = None
    while True:
        async with reading(engine) as conn:
            rows = await sources.page(conn, kind, patient_id, plan.window, plan.cut, after, PAGE)
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        after = (kinds.KINDS[kind].time_of(rows[-1]), rows[-1].id)
