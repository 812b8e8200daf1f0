"""A day in the life of a follow-up centre, fourteen days long: 50 patients, one queue.

The cohort (``tests/triage/story.py``): 13 heart-failure, 13 COPD, 12 hypertension and
12 diabetes patients, all on their protocol's default bands (no trial period, no personal
bands). Forty are stable: daily readings with noise that stays inside their bands. Four
more are stable with isolated out-of-band readings that never make three in a row. Six
have a story the centre must see: a slow heart-failure decompensation, a COPD
exacerbation, a patient who stops measuring, a gateway that delivers a day late, a device
that sends every reading twice, and a red reading nobody claims within the SLA.

Simulated time: day 0 starts at 00:00 UTC twenty days before the real today, so every
reading lies in the real past. Everything runs on that clock, never the wall clock:
readings go through the ingest service (``create_observation``; the gateway's through
``bundle.process``) with an ``IngestContext`` whose ``now`` is the simulated moment of
arrival, the worker's jobs (scan_missing_readings, escalate_overdue, wake_snoozed) run at
every simulated hour on the hour and at the SLA checkpoints, and the nurses act through
``service.queue.service`` with the simulated ``now``. Patients are enrolled and get their
care plans through the API; enrolment stamps the wall clock, so the test moves
``enrolled_at`` back to day 0, which is when the simulated follow-up starts. The jobs
scan the whole database, so everything asserted is read from this test's fresh centre;
afterwards every patient's follow-up is ended, so no later test's scan of the real "now"
finds them silent.

How the centre works the queue (the policy the expected outcome follows):

* Rounds at 10:00 and 14:00 every day: the nurse takes every open item in queue order
  (red first, then longest waiting), claims it and resolves it at once (ten minutes
  spent; the outcome fits the story).
* Red items do not wait for a round: the on-call nurse is alerted by the red verdict
  (the queue's "created"/"raised" event), claims the item five minutes after it turned
  red and resolves it twenty minutes later, well inside the 120-minute resolve SLA.
* The exception is the SLA story: on day 6 the on-call nurse is on another call from
  08:00 to 09:00, so the red of 08:21 waits. The escalation job runs at the checkpoints
  08:36 (15 minutes: not yet late, the SLA says "more than 15") and 08:37 (late:
  escalated, "sla.claim"); the team leader then claims it at 08:40 and resolves it at
  09:00.
* When the COPD patient is admitted to hospital the nurse pauses their follow-up, so
  nothing is expected from them afterwards.

Alert burden. Items per patient-week = items raised / (50 patients x 14 days / 7) =
items / 100. The naive rule it is compared with raises one alert per stored reading (one
Observation, so a blood-pressure panel counts once) of which any value lies outside the
protocol's default yellow band, i.e. below yellow_low or above yellow_high (red values
are outside too), on the same data: a duplicate or a late delivery is the same reading,
counted once. The bands (NAIVE_BANDS, checked against the protocol files below):
heart_failure: systolic 100-159, diastolic <= 99, pulse 50-100 (weight has no band);
copd: SpO2 >= 88, pulse 50-110, CAT <= 20; hypertension: systolic 100-159, diastolic
<= 99, pulse 50-110; diabetes: glucose 4.0-15.0 mmol/L. Both figures are printed
(``pytest -s``).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Row

import alerts
from service.auth.principal import DEFAULT_SCOPES, Principal, Role
from service.careplans import service as careplans
from service.careplans.schemas import StatusChange
from service.ingest import bundle as bundles
from service.ingest import service as ingest
from service.ingest.context import ingest_context
from service.ingest.repository import observation as observation_table
from service.patients.models import Patient
from service.queue import jobs
from service.queue import repository as queue_repository
from service.queue import service as queue
from service.queue.schemas import Action, Outcome, ResolveRequest
from service.settings import Settings
from service.state import AppState
from tests.factories import Centre, EnrolledPatient, create_centre, enrol, set_care_plan
from tests.triage import story
from tests.triage.story import at

patient_table = Patient.__table__  # type: ignore[attr-defined]
item_table = queue_repository.item
finding_table = queue_repository.finding
event_table = queue_repository.event

PATIENT_WEEKS = story.COHORT_SIZE * story.DAYS / 7  # 100

# Protocol default yellow bands the naive rule uses: (last green low, last green high).
NAIVE_BANDS: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "heart_failure": {
        "systolic": (100, 159),
        "diastolic": (None, 99),
        "heart_rate": (50, 100),
        "body_weight": (None, None),
    },
    "copd": {"spo2": (88, None), "heart_rate": (50, 110), "cat_score": (None, 20)},
    "hypertension": {"systolic": (100, 159), "diastolic": (None, 99), "heart_rate": (50, 110)},
    "diabetes": {"glucose": (4.0, 15.0)},
}

# Same moment: deliveries first, then the nurses, then the worker's jobs.
DELIVERY, NURSE, JOBS = 0, 1, 2


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    actions: tuple[Action, ...]


RESOLUTIONS = {
    "hf-decompensation": Resolution(
        Outcome.handled_by_centre, (Action.phone_call, Action.medication_change_advised)
    ),
    "copd-exacerbation": Resolution(
        Outcome.admitted_to_hospital, (Action.phone_call, Action.referral_emergency)
    ),
    "stops-measuring": Resolution(Outcome.patient_unreachable, (Action.phone_call,)),
    "late-gateway": Resolution(
        Outcome.technical_issue, (Action.reviewed_readings, Action.technical_support)
    ),
    "double-sender": Resolution(
        Outcome.handled_by_centre, (Action.phone_call, Action.advice_to_patient)
    ),
    "sla-red": Resolution(Outcome.referred_to_gp, (Action.phone_call, Action.contact_with_gp)),
}
DEFAULT_RESOLUTION = Resolution(Outcome.handled_by_centre, (Action.phone_call,))
SLA_STORY = "sla-red"


def patient_principal(patient_id: str) -> Principal:
    return Principal(
        subject=patient_id, role=Role.patient, scopes=frozenset(DEFAULT_SCOPES[Role.patient])
    )


def staff(subject: str, centre: Centre) -> Principal:
    return Principal(
        subject=subject,
        role=Role.nurse,
        centres=(centre.id,),
        scopes=frozenset(DEFAULT_SCOPES[Role.nurse]),
    )


@dataclass
class Simulation:
    state: AppState
    t0: datetime
    centre: Centre
    scripts: dict[str, story.Script]
    patients: dict[str, EnrolledPatient]
    now: timedelta = timedelta(0)
    # (patient, kind, taken at, copy) -> what ingest answered
    stored: dict[tuple[str, str, timedelta, bool], ingest.Stored] = field(default_factory=dict)
    sla_checkpoints: dict[str, tuple[datetime | None, str | None]] = field(default_factory=dict)
    _events: list[tuple[timedelta, int, int, Callable[[], Awaitable[None]]]] = field(
        default_factory=list
    )
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def nurse(self) -> Principal:
        return staff(f"nurse-{self.centre.id}", self.centre)

    @property
    def team_leader(self) -> Principal:
        return staff(f"team-leader-{self.centre.id}", self.centre)

    def clock(self, offset: timedelta | None = None) -> datetime:
        return self.t0 + (self.now if offset is None else offset)

    def schedule(
        self, offset: timedelta, order: int, action: Callable[[], Awaitable[None]]
    ) -> None:
        heapq.heappush(self._events, (offset, order, next(self._seq), action))

    async def run(self) -> None:
        for script in self.scripts.values():
            for delivery in script.deliveries:
                self.schedule(delivery.at, DELIVERY, self._deliver(script, delivery))
        for day in range(story.DAYS):
            for hhmm in ("10:00", "14:00"):
                self.schedule(at(day, hhmm), NURSE, self._round)
        for hour in range(1, story.DAYS * 24 + 1):
            self.schedule(timedelta(hours=hour), JOBS, self._tick)
        while self._events:
            self.now, _, _, action = heapq.heappop(self._events)
            await action()

    # --- Readings -------------------------------------------------------------------

    def _deliver(
        self, script: story.Script, delivery: story.Delivery
    ) -> Callable[[], Awaitable[None]]:
        async def deliver() -> None:
            patient = self.patients[script.name]
            principal = patient_principal(patient.id)
            ctx = dataclasses.replace(ingest_context(self.state), now=self.clock())
            if delivery.route == "gateway":
                bundle = story.gateway_bundle(
                    patient.identity_number, f"cuff-{script.name}", delivery.readings, self.t0
                )
                async with self.state.engine.begin() as conn:
                    answer = await bundles.process(
                        conn,
                        principal,
                        bundle,
                        ctx,
                        self.state.vault,
                        max_entries=self.state.settings.bundle_max_entries,
                    )
                statuses = [e["response"]["status"] for e in answer["entry"]]
                assert statuses[0] == "200 OK"  # the Patient: found, never created
                assert statuses[2:] == ["201 Created"] * len(delivery.readings)
                return
            (taken,) = delivery.readings
            resource = story.resource(f"Patient/{patient.id}", taken, self.t0)
            async with self.state.engine.begin() as conn:
                result = await ingest.create_observation(conn, principal, resource, ctx)
            self.stored[(script.name, taken.kind, taken.at, delivery.copy)] = result
            if result.created and result.verdict is not None and result.verdict.severity == "red":
                self._on_red(script.name)

        return deliver

    # --- Nurses ---------------------------------------------------------------------

    def _on_red(self, name: str) -> None:
        red_at = self.now
        if name == SLA_STORY:
            for minutes in (15, 16):
                label = f"{minutes} min"
                self.schedule(red_at + timedelta(minutes=minutes), JOBS, self._checkpoint(label))
            leader = self.team_leader
            self.schedule(red_at + timedelta(minutes=19), NURSE, self._claim(name, leader))
            self.schedule(red_at + timedelta(minutes=39), NURSE, self._resolve(name, leader))
            return
        self.schedule(red_at + timedelta(minutes=5), NURSE, self._claim(name, self.nurse))
        self.schedule(red_at + timedelta(minutes=25), NURSE, self._resolve(name, self.nurse))

    async def _item_id(self, name: str) -> str:
        async with self.state.engine.connect() as conn:
            row = await queue_repository.unresolved_item(conn, self.patients[name].id)
        assert row is not None, f"{name} has no unresolved item at {self.now}"
        return str(row.id)

    def _claim(self, name: str, who: Principal) -> Callable[[], Awaitable[None]]:
        async def claim() -> None:
            item_id = await self._item_id(name)
            async with self.state.engine.begin() as conn:
                await queue.claim(conn, who, item_id, self.clock())

        return claim

    def _resolve(self, name: str, who: Principal) -> Callable[[], Awaitable[None]]:
        async def resolve() -> None:
            item_id = await self._item_id(name)
            async with self.state.engine.begin() as conn:
                await queue.resolve(conn, who, item_id, self._resolution(name, 20), self.clock())
            if name == "copd-exacerbation":  # admitted: follow-up paused while in hospital
                async with self.state.engine.begin() as conn:
                    await careplans.change_status(
                        conn,
                        who,
                        self.patients[name].id,
                        StatusChange(status="paused", reason="admitted to hospital"),
                        self.clock(),
                    )

        return resolve

    def _resolution(self, name: str, minutes: float) -> ResolveRequest:
        chosen = RESOLUTIONS.get(name, DEFAULT_RESOLUTION)
        return ResolveRequest(outcome=chosen.outcome, actions=list(chosen.actions), minutes=minutes)

    async def _round(self) -> None:
        now = self.clock()
        async with self.state.engine.connect() as conn:
            page = await queue.list_queue(
                conn,
                self.nurse,
                now,
                self.state.local_zone,
                states=["open"],
                severity=None,
                claimed_by=None,
                protocol=None,
                limit=200,
            )
        names = {p.id: name for name, p in self.patients.items()}
        for row in page.items:
            async with self.state.engine.begin() as conn:
                await queue.claim(conn, self.nurse, row.id, now)
            resolution = self._resolution(names[row.patient_id], 10)
            async with self.state.engine.begin() as conn:
                await queue.resolve(conn, self.nurse, row.id, resolution, now)

    # --- The worker -----------------------------------------------------------------

    async def _tick(self) -> None:
        for job in (jobs.scan_missing_readings, jobs.escalate_overdue, jobs.wake_snoozed):
            async with self.state.engine.begin() as conn:
                await job(conn, self.clock())

    def _checkpoint(self, label: str) -> Callable[[], Awaitable[None]]:
        async def checkpoint() -> None:
            async with self.state.engine.begin() as conn:
                await jobs.escalate_overdue(conn, self.clock())
                row = await queue_repository.unresolved_item(conn, self.patients[SLA_STORY].id)
            assert row is not None
            self.sla_checkpoints[label] = (row.escalated_at, row.escalation)

        return checkpoint


# --- Expected outcome -----------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    rule: str
    measurement: str
    severity: str
    value: float
    threshold: float
    effective: timedelta  # when the reading was taken, or when the gap passed its limit
    late: bool = False


@dataclass(frozen=True)
class Item:
    patient: str
    opened: timedelta
    severity: str
    events: tuple[str, ...]
    findings: tuple[Found, ...]
    escalation: str | None = None


WORKED = ("claimed", "resolved")

# Derived by hand from the protocol files (alerts/protocols/*.json) and story.py. Band
# semantics: value <= red_low or >= red_high is red; < yellow_low or > yellow_high is
# yellow, and a yellow threshold finding needs 3 deviating readings in a row (red: one).
EXPECTED_ITEMS = tuple(
    sorted(
        (
            # double-sender, diabetes: glucose 3.6 on day 5 (taken 08:20, posted 08:21 and 08:22).
            # 3.6 < yellow_low 4.0 and > red_low 3.0: yellow; "threshold.low:glucose" needs 1 in a
            # row, so it fires on the first copy. The copy is stored once and not judged again.
            # Worked at the 10:00 round.
            Item(
                "double-sender",
                at(5, "08:21"),
                "yellow",
                ("created", *WORKED),
                (Found("threshold.low", "glucose", "yellow", 3.6, 4.0, at(5, "08:20")),),
            ),
            # sla-red, hypertension: 188/104 on day 6 (taken 08:20, posted 08:21). 188 >= red_high
            # 180: red at once. Diastolic 104 > 99 is yellow but the first in a row: nothing. Not
            # claimed: the job at 08:36 leaves it (15 min is not more than 15), the job at 08:37
            # escalates it (16 > 15); the team leader claims it at 08:40 and resolves it at 09:00.
            Item(
                "sla-red",
                at(6, "08:21"),
                "red",
                ("created", "escalated", *WORKED),
                (Found("threshold.high", "systolic", "red", 188, 180, at(6, "08:20")),),
                escalation="sla.claim",
            ),
            # stops-measuring, diabetes: last glucose day 6 08:10. Glucose every 24 h, window 6 h,
            # grace 6 h: missing after 36 h, i.e. after day 7 20:10. The 20:00 scan is before it;
            # the 21:00 scan finds it (gap 36 h 50 min = 36.8 h, limit 36 h). Later scans that day
            # find the same gap (same anchor): nothing new. The silence goes on, and each further
            # 24 h period is a new finding (effective day N 20:10, found at the 21:00 scan, gap
            # 36.8 + 24 (N - 7) h), a new item once the last was resolved at the next 10:00
            # round. Day 13's comes after the last round: still open at the end.
            *(
                Item(
                    "stops-measuring",
                    at(day, "21:00"),
                    "yellow",
                    ("created", *WORKED) if day < 13 else ("created",),
                    (
                        Found(
                            "missing.reading",
                            "glucose",
                            "yellow",
                            round(36.8 + 24 * (day - 7), 1),
                            36.0,
                            at(day, "20:10"),
                        ),
                    ),
                )
                for day in range(7, 14)
            ),
            # late-gateway, hypertension: readings taken at 07:00, Bundles posted 07:02. Systolic
            # 164 (day 6) and 166 (day 7) > 159: yellow, 1 and 2 in a row, nothing. Day 8's Bundle
            # is held by the offline gateway: the last systolic is day 7 07:00, + 36 h = day 8
            # 19:00, so the 20:00 scan raises "missing" (gap 37.0 h). Day 8's Bundle arrives day 9
            # 06:30: 168 > 159 is the third in a row judged at its own time (days 6, 7, 8), so it
            # fires, late (received 23.5 h after it was taken > late_after_hours 6), and joins the
            # open item (no event: its severity is unchanged). The day-9 Bundle (152/88) is
            # green. Worked at 10:00. The device was last heard day 7 07:02: at day 9 06:30
            # that is 47.5 h, inside the 48 h silence limit, so no device finding.
            Item(
                "late-gateway",
                at(8, "20:00"),
                "yellow",
                ("created", *WORKED),
                (
                    Found(
                        "threshold.high", "systolic", "yellow", 168, 159, at(8, "07:00"), late=True
                    ),
                    Found("missing.reading", "systolic", "yellow", 37.0, 36.0, at(8, "19:00")),
                ),
            ),
            # hf-decompensation, heart failure (trend.weight_gain: a gain of 2.0 kg or more between
            # two weighings at most 3 days apart). Weights taken at 07:30; days 0-8 within 0.3 kg
            # of each other in any 3 days, then days 6-13: 82.1, 82.0, 81.9, 82.7, 83.4, 84.1, 84.3,
            # 84.0. Against the lowest of the 3 days before: day 9: 82.7 - 81.9 = 0.8; day 10:
            # 83.4 - 81.9 = 1.5; day 11: 84.1 - 81.9 (day 8, exactly 3 days before) = 2.2 >= 2.0:
            # yellow on the weight (posted 07:31); day 12: 84.3 - 82.7 = 1.6; day 13: 84.0 - 83.4
            # = 0.6. The pulse that morning, 102, is the first over 100. Worked at 10:00.
            Item(
                "hf-decompensation",
                at(11, "07:31"),
                "yellow",
                ("created", *WORKED),
                (Found("trend.weight_gain", "body_weight", "yellow", 2.2, 2.0, at(11, "07:30")),),
            ),
            # copd-exacerbation, COPD (SpO2 red <= 85, yellow < 88): SpO2 at 08:00 and 20:00 (posted
            # a minute later): day 10 89, 87; day 11 87, 86; day 12 84. 87 (d10 pm) 1 in a row,
            # 87 (d11 am) 2, 86 (d11 pm) 3: yellow at day 11 20:01, waiting for the morning round.
            # 84 <= 85 on day 12 08:01: red at once (not critical: the safety limit is 83), raised
            # on the open yellow item. Pulse > 110 only at 112 (d11 pm) and 118 (d12 am): 2 in a
            # row, nothing. Claimed at 08:06, resolved 08:26: not escalated.
            Item(
                "copd-exacerbation",
                at(11, "20:01"),
                "red",
                ("created", "raised", *WORKED),
                (
                    Found("threshold.low", "spo2", "yellow", 86, 88, at(11, "20:00")),
                    Found("threshold.low", "spo2", "red", 84, 85, at(12, "08:00")),
                ),
            ),
            # hf-decompensation: pulse > yellow_high 100 on days 11, 12, 13 (102, 106, 109; days
            # 9-10: 86, 94), so the third in a row fires on day 13 (posted 07:33). Worked at 10:00.
            Item(
                "hf-decompensation",
                at(13, "07:33"),
                "yellow",
                ("created", *WORKED),
                (Found("threshold.high", "heart_rate", "yellow", 109, 100, at(13, "07:30")),),
            ),
        ),
        key=lambda item: item.opened,
    )
)  # 13 items: 6 stories, and 7 days of one patient's silence

# Naive alerts, by patient (every other patient: 0), from the values in story.py:
EXPECTED_NAIVE = {
    "hf-decompensation": 3,  # pulse 102, 106, 109 > 100
    "copd-exacerbation": 6,  # SpO2 87, 87, 86, 84 < 88; pulse 112, 118 > 110
    "late-gateway": 3,  # systolic 164, 166, 168 > 159
    "double-sender": 1,  # glucose 3.6 < 4.0, stored (and counted) once
    "sla-red": 1,  # 188/104
    "blip-copd": 1,  # SpO2 87 < 88
    "blip-hypertension": 2,  # systolic 163, 161 > 159
    "blip-diabetes": 2,  # glucose 15.6, 16.1 > 15.0 (11.2 between them)
    "blip-heart-failure": 1,  # pulse 104 > 100
}  # total 20


def naive_alerts(script: story.Script) -> int:
    bands = NAIVE_BANDS[script.protocol]

    def outside(measurement: str, value: float) -> bool:
        low, high = bands[measurement]
        return (low is not None and value < low) or (high is not None and value > high)

    return sum(
        any(outside(m, v) for m, v in taken.by_measurement().items()) for taken in script.readings()
    )


def sim_start() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=20)


async def _setup(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> tuple[Simulation, list[story.Script]]:
    state: AppState = app.state.dho
    centre = await create_centre(app, settings)
    scripts = story.cohort()
    patients = {}
    for script in scripts:
        patient = await enrol(client, settings, centre)
        await set_care_plan(client, patient, script.protocol)
        patients[script.name] = patient
    t0 = sim_start()
    await backdate_enrolment(state, centre.id, t0)
    sim = Simulation(state, t0, centre, {s.name: s for s in scripts}, patients)
    return sim, scripts


async def backdate_enrolment(state: AppState, centre_id: str, t0: datetime) -> None:
    """Enrolment stamps the wall clock; the simulated follow-up starts at ``t0``."""
    async with state.engine.begin() as conn:
        await conn.execute(
            sa.update(patient_table)
            .where(patient_table.c.centre_id == centre_id)
            .values(enrolled_at=t0)
        )


async def _end_follow_up(sim: Simulation) -> None:
    """Leave no active patient behind for other tests' scans of "now"."""
    for patient in sim.patients.values():
        async with sim.state.engine.begin() as conn:
            await careplans.change_status(
                conn,
                sim.nurse,
                patient.id,
                StatusChange(status="ended", reason="end of the simulation"),
                sim.clock(),
            )


async def _rows(sim: Simulation, table: Any, *order: Any) -> list[Row[Any]]:
    async with sim.state.engine.connect() as conn:
        query = sa.select(table).where(table.c.centre_id == sim.centre.id).order_by(*order)
        return list((await conn.execute(query)).all())


def test_the_naive_bands_are_the_protocols_default_yellow_bands() -> None:
    for code, bands in NAIVE_BANDS.items():
        protocol = alerts.load_protocol(code)
        for measurement, limits in bands.items():
            band = protocol.bands.get(measurement, alerts.Band())
            assert (band.yellow_low, band.yellow_high) == limits, (code, measurement)


async def test_fourteen_days_of_fifty_patients(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    sim, scripts = await _setup(client, app, settings)
    try:
        await sim.run()
        await _check(sim, scripts, settings)
    finally:
        await _end_follow_up(sim)


async def _check(sim: Simulation, scripts: list[story.Script], settings: Settings) -> None:
    names = {p.id: name for name, p in sim.patients.items()}
    items = await _rows(sim, item_table, item_table.c.opened_at, item_table.c.id)
    findings = await _rows(sim, finding_table, finding_table.c.created_at, finding_table.c.id)
    events = await _rows(sim, event_table, event_table.c.seq)
    observations = await _rows(sim, observation_table, observation_table.c.effective_at)

    # Every item: who, when, how bad, what happened to it, and on which findings.
    kinds: dict[str, list[str]] = {}
    for event in events:
        kinds.setdefault(event.item_id, []).append(event.kind)
    by_item: dict[str, list[Row[Any]]] = {}
    for finding in findings:
        assert finding.item_id is not None, finding
        by_item.setdefault(finding.item_id, []).append(finding)
    actual = tuple(
        Item(
            names[row.patient_id],
            row.opened_at - sim.t0,
            row.severity,
            tuple(kinds[row.id]),
            tuple(
                Found(
                    f.rule,
                    f.measurement,
                    f.severity,
                    f.value,
                    f.threshold,
                    f.effective_at - sim.t0,
                    late=f.late,
                )
                for f in sorted(by_item[row.id], key=lambda f: (f.effective_at, f.rule))
            ),
            escalation=row.escalation,
        )
        for row in items
    )
    assert actual == EXPECTED_ITEMS

    # No stable patient (blips included) raised a finding, let alone an item.
    quiet = {s.name for s in scripts if s.story in (story.STABLE, story.BLIP_STORY)}
    assert len(quiet) == 44
    assert not {names[f.patient_id] for f in findings} & quiet

    # Every item was worked by the end but the last day's silence; only the SLA story's
    # was escalated.
    open_at_end = [
        (names[r.patient_id], r.opened_at - sim.t0) for r in items if r.state != "resolved"
    ]
    assert open_at_end == [("stops-measuring", at(13, "21:00"))]
    escalated = [(names[r.patient_id], r.escalation) for r in items if r.escalated_at]
    assert escalated == [("sla-red", "sla.claim")]
    assert sim.sla_checkpoints == {
        "15 min": (None, None),
        "16 min": (sim.t0 + at(6, "08:37"), "sla.claim"),
    }
    outcomes = {names[r.patient_id]: r.outcome for r in items}
    assert outcomes["copd-exacerbation"] == "admitted_to_hospital"
    assert outcomes["sla-red"] == "referred_to_gp"

    # Raised from yellow to red: only the COPD item, and it waited as a red from 08:01.
    copd = next(r for r in items if names[r.patient_id] == "copd-exacerbation")
    assert (copd.opened_at, copd.waiting_since) == (
        sim.t0 + at(11, "20:01"),
        sim.t0 + at(12, "08:01"),
    )
    assert (copd.claimed_at, copd.resolved_at) == (
        sim.t0 + at(12, "08:06"),
        sim.t0 + at(12, "08:26"),
    )

    # Late: only the gateway's day-8 reading, judged with days 6 and 7 as its run.
    late = [f for f in findings if f.late]
    assert len(late) == 1
    gateway = sim.patients["late-gateway"].id
    panels = {
        o.effective_at - sim.t0: o.id
        for o in observations
        if o.patient_id == gateway and o.measurement == "blood_pressure"
    }
    assert late[0].reading_ids == [panels[at(day, "07:00")] for day in (8, 7, 6)]
    assert late[0].created_at == sim.t0 + at(9, "06:30")
    received = {o.id: o.received_at - sim.t0 for o in observations}
    assert received[panels[at(8, "07:00")]] == at(9, "06:30")

    # The duplicate device: 14 readings sent 28 times, stored 14 times, judged once each.
    double = sim.patients["double-sender"].id
    assert sum(o.patient_id == double for o in observations) == story.DAYS
    for (name, kind, taken_at, copy), result in sim.stored.items():
        if copy:
            first = sim.stored[(name, kind, taken_at, False)]
            assert (result.created, result.row["id"]) == (False, first.row["id"])
            assert result.verdict == first.verdict
    hypo = sim.stored[("double-sender", "glucose", at(5, "08:20"), False)]
    again = sim.stored[("double-sender", "glucose", at(5, "08:20"), True)]
    assert hypo.verdict is not None
    assert hypo.verdict.severity == "yellow"
    assert again.verdict == hypo.verdict
    assert [f.observation_id for f in findings if f.patient_id == double] == [hypo.row["id"]]

    # Every reading of the cohort was stored exactly once.
    readings = {s.name: len(s.readings()) for s in scripts}
    assert Counter(names[o.patient_id] for o in observations) == readings

    # The alert burden, against one naive alert per deviating reading.
    naive = {s.name: naive_alerts(s) for s in scripts}
    assert {n: c for n, c in naive.items() if c} == EXPECTED_NAIVE
    total_naive = sum(naive.values())
    assert (len(items), total_naive) == (13, 20)
    assert len(items) < total_naive
    database = settings.database_url.split(":", 1)[0]
    print(
        f"\n[{database}] alert burden over {PATIENT_WEEKS:g} patient-weeks: "
        f"{len(items)} items = {len(items) / PATIENT_WEEKS:.2f} per patient-week; "
        f"naive one-alert-per-deviating-reading: {total_naive} alerts = "
        f"{total_naive / PATIENT_WEEKS:.2f} per patient-week"
    )
