"""The de-identification report written with every export: the k reached, who and what
was suppressed and why (as counts), and the configuration with its SHA-256, so that a
reader can tell two exports made under the same rules from two that were not."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from service.research import kanon
from service.research.aggregates import Aggregates

SUPPRESSION_REASON = (
    "in an equivalence class of the released quasi-identifiers smaller than k at the "
    "chosen generalisation; all of the patient's records were left out"
)
REGION_RULE = "county (fylke): the first two digits of the kommunenummer"
AGE_RULE = "age at enrolment in bands (see generalisation), top-coded"
TIME_RULES = {
    "shift": "one random non-zero offset in whole days per patient, drawn once per study",
    "since_enrolment": "each patient's enrolment day moved to 2000-01-01",
}
RECORDS_WITHHELD = (
    "withheld: fewer patients were suppressed than a cell's threshold, and their record "
    "counts would describe them"
)
FIXED_TEXTS = (SUPPRESSION_REASON, RECORDS_WITHHELD, REGION_RULE, AGE_RULE, *TIME_RULES.values())


def configuration(study: Any, released: frozenset[str], qi: tuple[str, ...]) -> dict[str, Any]:
    return {
        "k": study.k,
        "max_suppressed_share": study.max_suppressed_share,
        "quasi_identifiers": list(qi),
        # The reviewer's written reasons for the released attributes that do not count.
        "non_identifying": list(study.non_identifying or []),
        "variables": sorted(released),
        "time_mode": study.time_mode,
        "time_rule": TIME_RULES.get(study.time_mode, ""),
        "time_precision": study.time_precision,
        "max_offset_days": study.max_offset_days,
        "region_rule": REGION_RULE,
        "age_rule": AGE_RULE,
        "ladder": [level.name for level in kanon.LADDER],
        "pseudonyms": "HMAC-SHA256 under the study's key",
        "decimals": 4,
        "value_limits": dict(sorted((study.value_limits or {}).items())),
        "aggregate_cell_threshold": Aggregates.for_study(study.k).threshold,
    }


def config_sha256(config: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()


def build(
    study: Any,
    config: dict[str, Any],
    release: kanon.Release,
    *,
    cohort: int,
    smallest_written_class: int | None,
    suppressed_records: dict[str, int] | None,
    written: dict[str, int],
    value_limits: dict[str, Any],
    aggregates: dict[str, int] | None,
) -> dict[str, Any]:
    return {
        "approval_reference": study.approval_reference,
        "configuration": config,
        "configuration_sha256": config_sha256(config),
        "k_required": release.k,
        "k_reached": smallest_written_class,
        "generalisation": release.level.name,
        # Quasi-identifiers written empty at the chosen rung.
        "withheld": [q for q in release.quasi_identifiers if _withheld(q, release)],
        "equivalence_classes": release.classes,
        "ladder_trials": [
            {
                "generalisation": t.level,
                "classes": t.classes,
                "smallest_class": t.smallest_class,
                "patients_to_suppress": t.would_suppress,
            }
            for t in release.trials
        ],
        "patients_in_cohort": cohort,
        "patients_released": cohort - len(release.suppressed),
        "patients_suppressed": len(release.suppressed),
        "suppression_reason": SUPPRESSION_REASON if release.suppressed else None,
        "records_suppressed": suppressed_records
        if suppressed_records is not None
        else RECORDS_WITHHELD,
        "records_written": written,
        "values_coded": value_limits,
        "aggregates": aggregates,
    }


def _withheld(name: str, release: kanon.Release) -> bool:
    return name == "enrolled_at" and not release.level.enrolment_time
