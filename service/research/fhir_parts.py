"""The small pieces every exported resource is built of: our extensions, quantities,
lists kept in one column. Shared by ``records`` and ``care_resources``."""

from __future__ import annotations

from typing import Any

from service.fhirkit.catalogue import UCUM

EXT = "https://fhir.dho.example/StructureDefinition/research-"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": EXT + name, **value}


def present(items: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [i for i in items if i is not None]


def quantity(value: float | None, unit: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    found: dict[str, Any] = {"value": value}
    if unit:
        found |= {"unit": unit, "system": UCUM, "code": unit}
    return found


def split(value: str | None) -> list[str]:
    """A list kept in one column, ``;``-separated."""
    return value.split(";") if value else []
