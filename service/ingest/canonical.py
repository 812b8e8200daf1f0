"""The canonical value of each measurement, beside the quantity the device sent.

Ingest converts every measurement to the catalogue's canonical UCUM unit and keeps the
resource as sent; FHIR answers carry the converted value as an extension on the
quantity it belongs to (fhir/README.md), so no consumer redoes the conversion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.fhirkit.catalogue import UCUM

CANONICAL_QUANTITY = "https://fhir.dho.example/StructureDefinition/canonical-quantity"


def add_canonical_quantities(
    resource: dict[str, Any], values: Sequence[Mapping[str, Any]] | None
) -> None:
    """Beside each quantity as the device sent it, the value in the catalogue's
    canonical UCUM unit, as ingest normalised it (fhir/README.md): a consumer need not
    redo the conversion. ``values`` are the stored row's normalised values; each is put
    on the quantity it came from (its original value and unit, in a component with its
    code first). An extension of ours that arrived in the resource is dropped, never
    echoed: only the service says what the canonical value is."""
    quantities: list[tuple[set[str], dict[str, Any]]] = []
    for element in [resource, *(resource.get("component") or ())]:
        quantity = element.get("valueQuantity") if isinstance(element, dict) else None
        if isinstance(quantity, dict):
            kept = [e for e in quantity.get("extension") or () if not _ours(e)]
            if kept:
                quantity["extension"] = kept
            else:
                quantity.pop("extension", None)
            codings = (element.get("code") or {}).get("coding") or ()
            codes = {str(c.get("code")) for c in codings if isinstance(c, dict)}
            quantities.append((codes, quantity))
    for value in values or ():
        sent = [
            (codes, q)
            for codes, q in quantities
            if q.get("code") == value["original_unit"] and _number(q) == value["original_value"]
        ]
        by_code = [q for codes, q in sent if value["code"] in codes]
        candidates = by_code or [q for _, q in sent]
        if not candidates:
            continue
        target = candidates[0]
        quantities = [(codes, q) for codes, q in quantities if q is not target]
        canonical = {
            "value": value["value"],
            "unit": value["unit"],
            "system": UCUM,
            "code": value["unit"],
        }
        target["extension"] = [
            *(target.get("extension") or ()),
            {"url": CANONICAL_QUANTITY, "valueQuantity": canonical},
        ]


def _ours(extension: Any) -> bool:
    return isinstance(extension, dict) and extension.get("url") == CANONICAL_QUANTITY


def _number(quantity: Mapping[str, Any]) -> float | None:
    number = quantity.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    return float(number)
