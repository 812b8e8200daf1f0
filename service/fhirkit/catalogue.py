"""The measurement catalogue (``fhir/catalogue.json``) as typed, indexed data.

The JSON file is the single source of truth for what we accept: codes, canonical
UCUM units, unit conversions and plausible ranges. Ingest, the CapabilityStatement
and the tests all read it through this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from service.settings import DEFAULT_FHIR_DIR

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:iso:std:iso:11073:10101"


class UnitNotAccepted(ValueError):
    pass


@dataclass(frozen=True)
class Conversion:
    factor: float
    offset: float = 0.0

    def to_canonical(self, value: float) -> float:
        return value * self.factor + self.offset

    def from_canonical(self, value: float) -> float:
        return (value - self.offset) / self.factor


@dataclass(frozen=True)
class Measurement:
    key: str
    display_nb: str
    display_en: str
    loinc: str | None
    category: str
    codings: tuple[tuple[str, str], ...]
    unit: str | None = None
    conversions: tuple[tuple[str, Conversion], ...] = ()
    plausible_low: float | None = None
    plausible_high: float | None = None
    components: tuple[str, ...] = ()
    integer: bool = False

    @property
    def code(self) -> str:
        """The code we store and search by: LOINC where there is one."""
        return self.loinc or self.codings[0][1]

    @property
    def is_panel(self) -> bool:
        return bool(self.components)

    @property
    def accepted_units(self) -> tuple[str, ...]:
        return tuple(unit for unit, _ in self.conversions)

    def conversion(self, ucum_code: str) -> Conversion:
        for unit, conversion in self.conversions:
            if unit == ucum_code:
                return conversion
        raise UnitNotAccepted(ucum_code)

    def is_plausible(self, canonical_value: float) -> bool:
        low, high = self.plausible_low, self.plausible_high
        return (low is None or canonical_value >= low) and (high is None or canonical_value <= high)


@dataclass(frozen=True)
class Context:
    """A device or context observation the PHD IG defines: stored, never triaged."""

    key: str
    display_en: str
    codings: tuple[tuple[str, str], ...]

    @property
    def code(self) -> str:
        return self.codings[0][1]


@dataclass(frozen=True)
class Catalogue:
    measurements: tuple[Measurement, ...]
    by_coding: dict[tuple[str, str], Measurement]
    by_key: dict[str, Measurement]
    score_system: str
    context_by_coding: dict[tuple[str, str], Context]
    context_profiles: frozenset[str]

    def find_context(self, codings: list[dict[str, Any]] | None) -> Context | None:
        for coding in codings or ():
            context = self.context_by_coding.get((coding.get("system", ""), coding.get("code", "")))
            if context is not None:
                return context
        return None

    def find(self, codings: list[dict[str, Any]] | None) -> Measurement | None:
        for coding in codings or ():
            measurement = self.by_coding.get((coding.get("system", ""), coding.get("code", "")))
            if measurement is not None:
                return measurement
        return None

    def find_by_search_token(self, token: str) -> list[Measurement]:
        """``code=`` search values: ``system|code``, ``|code`` or a bare code."""
        system, _, code = token.rpartition("|")
        return [
            m for (s, c), m in self.by_coding.items() if c == code and (not system or s == system)
        ]

    def supported_codes(self) -> str:
        """For error messages: the LOINC (and our own) codes; MDC ones are in the catalogue."""
        return ", ".join(f"{s}|{c}" for s, c in self.by_coding if s != MDC)


def _measurement(raw: dict[str, Any]) -> Measurement:
    conversions = tuple(
        (unit, Conversion(float(c["factor"]), float(c.get("offset", 0.0))))
        for unit, c in raw.get("to_canonical", {}).items()
    )
    plausible = raw.get("plausible", {})
    return Measurement(
        key=raw["key"],
        display_nb=raw["display"]["nb"],
        display_en=raw["display"]["en"],
        loinc=raw.get("loinc"),
        category=raw["category"],
        codings=tuple((c["system"], c["code"]) for c in raw["codings"]),
        unit=raw.get("unit"),
        conversions=conversions,
        plausible_low=plausible.get("low"),
        plausible_high=plausible.get("high"),
        components=tuple(raw.get("components", ())),
        integer=bool(raw.get("integer", False)),
    )


@lru_cache(maxsize=4)
def load_catalogue(fhir_dir: Path = DEFAULT_FHIR_DIR) -> Catalogue:
    raw = json.loads((fhir_dir / "catalogue.json").read_text(encoding="utf-8"))
    measurements = tuple(_measurement(m) for m in raw["measurements"])
    by_coding: dict[tuple[str, str], Measurement] = {}
    for measurement in measurements:
        for coding in measurement.codings:
            if coding in by_coding:
                raise ValueError(f"catalogue: coding {coding} is listed twice")
            by_coding[coding] = measurement
    contexts = [
        Context(c["key"], c["display"]["en"], tuple((x["system"], x["code"]) for x in c["codings"]))
        for c in raw.get("context", ())
    ]
    context_by_coding = {coding: c for c in contexts for coding in c.codings}
    overlap = set(context_by_coding) & set(by_coding)
    if overlap:
        raise ValueError(f"catalogue: {overlap} is both a measurement and a context code")
    return Catalogue(
        measurements=measurements,
        by_coding=by_coding,
        by_key={m.key: m for m in measurements},
        score_system=raw["score_system"],
        context_by_coding=context_by_coding,
        context_profiles=frozenset(raw.get("context_profiles", ())),
    )
