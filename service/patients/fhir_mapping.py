"""Our patient row to and from the FHIR Patient resource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from service.fhirkit.outcome import FhirError
from service.patients.identity_number import (
    DNR_SYSTEM,
    FNR_SYSTEM,
    InvalidIdentityNumber,
    parse_identity_number,
)

# no-basis (HL7 Norway) carries the kommunenummer as an extension on the address.
MUNICIPALITY_EXTENSION = "http://hl7.no/fhir/StructureDefinition/no-basis-municipalitycode"
# When follow-up really started, for a patient moved from another service (a local date
# of the centre; answered as the instant it stands for). Absent: follow-up starts now.
FOLLOW_UP_START_EXTENSION = "https://fhir.dho.example/StructureDefinition/follow-up-start"
GENDERS = frozenset({"male", "female", "other", "unknown"})


@dataclass(frozen=True)
class Enrolment:
    identity_system: str
    identity_value: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    municipality: str
    centre_reference: str | None
    other_identifiers: tuple[tuple[str, str], ...] = ()
    # (the local date follow-up started, the element that said so) or None: now.
    follow_up_start: tuple[date, str] | None = None


def enrolment_from_fhir(resource: dict[str, Any]) -> Enrolment:
    system, value = _identity(resource)
    try:
        number = parse_identity_number(value)
    except InvalidIdentityNumber as error:
        raise FhirError.one(
            422, "value", f"identity number: {error}", "Patient.identifier.value"
        ) from None
    if (number.kind == "dnr") != (system == DNR_SYSTEM):
        raise FhirError.one(
            422,
            "value",
            "the identifier system does not match the kind of number (fødselsnummer/D-nummer)",
            "Patient.identifier.system",
        )
    names = resource.get("name") or []
    if not names or not names[0].get("family") or not names[0].get("given"):
        raise FhirError.one(
            422, "required", "an enrolled patient needs a given and a family name", "Patient.name"
        )
    birth_date = number.birth_date
    if resource.get("birthDate") and resource["birthDate"] != birth_date.isoformat():
        raise FhirError.one(
            422,
            "invariant",
            "birthDate does not match the identity number",
            "Patient.birthDate",
        )
    gender = resource.get("gender") or number.sex
    if gender not in GENDERS:
        raise FhirError.one(
            422, "code-invalid", "gender must be male, female, other or unknown", "Patient.gender"
        )
    return Enrolment(
        identity_system=system,
        identity_value=value,
        given_name=" ".join(names[0]["given"]),
        family_name=names[0]["family"],
        birth_date=birth_date,
        sex=gender,
        municipality=_municipality(resource),
        centre_reference=(resource.get("managingOrganization") or {}).get("reference"),
        other_identifiers=tuple(
            (i["system"], i["value"])
            for i in resource.get("identifier") or ()
            if i.get("system") and i.get("value") and i["system"] not in (FNR_SYSTEM, DNR_SYSTEM)
        ),
        follow_up_start=_follow_up_start(resource),
    )


def _follow_up_start(resource: dict[str, Any]) -> tuple[date, str] | None:
    for index, extension in enumerate(resource.get("extension") or ()):
        if not isinstance(extension, dict) or extension.get("url") != FOLLOW_UP_START_EXTENSION:
            continue
        expression = f"Patient.extension[{index}].valueDate"
        value = extension.get("valueDate")
        try:
            return date.fromisoformat(value if isinstance(value, str) else ""), expression
        except ValueError:
            raise FhirError.one(
                422, "value", "the follow-up start is a date (YYYY-MM-DD)", expression
            ) from None
    return None


def _identity(resource: dict[str, Any]) -> tuple[str, str]:
    for identifier in resource.get("identifier") or ():
        if identifier.get("system") in (FNR_SYSTEM, DNR_SYSTEM) and identifier.get("value"):
            return identifier["system"], identifier["value"]
    raise FhirError.one(
        422,
        "required",
        f"an enrolled patient needs a national identity number (system {FNR_SYSTEM} "
        f"or {DNR_SYSTEM})",
        "Patient.identifier",
    )


def _municipality(resource: dict[str, Any]) -> str:
    for index, address in enumerate(resource.get("address") or ()):
        for extension in address.get("extension") or ():
            if extension.get("url") == MUNICIPALITY_EXTENSION:
                code = (extension.get("valueCoding") or {}).get("code", "")
                return _checked_municipality(code, f"Patient.address[{index}].extension")
        if address.get("district"):
            return _checked_municipality(address["district"], f"Patient.address[{index}].district")
    raise FhirError.one(
        422,
        "required",
        "an enrolled patient needs a municipality (kommunenummer) on the address",
        "Patient.address",
    )


def _checked_municipality(code: str, expression: str) -> str:
    if len(code) != 4 or not code.isdigit():
        raise FhirError.one(422, "value", "a kommunenummer has four digits", expression)
    return code


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def patient_to_fhir(row: Any, identity_value: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": row.id,
        "meta": {"versionId": str(row.version_id), "lastUpdated": row.created_at.isoformat()},
        "active": row.status != "ended",
        "name": [{"use": "official", "family": row.family_name, "given": row.given_name.split()}],
        "gender": row.sex,
        "birthDate": row.birth_date.isoformat(),
        "address": [
            {
                "extension": [
                    {
                        "url": MUNICIPALITY_EXTENSION,
                        "valueCoding": {
                            "system": "urn:oid:2.16.578.1.12.4.1.1.3402",
                            "code": row.municipality,
                        },
                    }
                ],
                "district": row.municipality,
            }
        ],
        "managingOrganization": {"reference": f"Organization/{row.centre_id}"},
        "extension": [
            {"url": FOLLOW_UP_START_EXTENSION, "valueDateTime": _instant(row.enrolled_at)}
        ],
    }
    if identity_value is not None:
        resource["identifier"] = [{"system": row.identity_system, "value": identity_value}]
    return resource
