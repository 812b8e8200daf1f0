"""The note for the patient's record: a FHIR ``document`` Bundle shaped after the VKP R4
profiles (HL7Norway/Velferdsteknologi, folder VKP-R4).

* ``Composition`` (vkp-Composition-v090): type "Pasientoppfolging" (vkp-composition-class),
  category "Digital hjemmeoppfølging" (vkp-composition-category), the event
  "hendelse_kvittert" (vkp-composition-event) over the item's life, and the sections of
  vkp-composition-section: ``reason`` (what was found, with the DetectedIssues),
  ``response_summary`` (outcome, actions, minutes), ``response_elaboration`` (the nurse's
  words, when there are any) and ``signature`` (who closed it, when).
* A ``DetectedIssue`` (vkp-DetectedIssue-v090) per standing finding, coded with the VKP
  alert codes (1.1 measurement reported, 1.2 form answered, 2.1 missing form, 2.2
  measurement not reported) and our rule code, implicating the readings it rests on.
* Those ``Observation``s, built element by element from what the device sent (no
  gateway references that would not resolve inside the document), the ``Patient``, the
  centre's ``Organization`` and the resolving nurse's ``Practitioner``.

Built from plain rows, no I/O: the service reads, this shapes. Texts are in bokmål, the
record's language.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

import orjson
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from alerts.text import FORMS

ALERT_CODES = "http://ehelse.no/fhir/CodeSystem/vkp-alert-code-v090"
SECTION_CODES = "http://ehelse.no/fhir/CodeSystem/vkp-composition-section-v090"
CLASS_CODES = "http://ehelse.no/fhir/CodeSystem/vkp-composition-class-v090"
CATEGORY_CODES = "http://ehelse.no/fhir/CodeSystem/vkp-composition-category-v090"
EVENT_CODES = "http://ehelse.no/fhir/CodeSystem/vkp-composition-event-v090"
COMPOSITION_PROFILE = "http://ehelse.no/fhir/StructureDefinition/vkp-Composition-v090"
DETECTED_ISSUE_PROFILE = "http://ehelse.no/fhir/StructureDefinition/vkp-DetectedIssue-v090"
RULE_CODES = "https://fhir.dho.example/CodeSystem/triage-rule"
OUTCOME_CODES = "https://fhir.dho.example/CodeSystem/item-outcome"
ORG_NUMBER = "urn:oid:2.16.578.1.12.4.1.4.101"
# The resolving nurse as the identity provider names them (a token's subject); a HelseID
# token would give the HPR number instead.
STAFF_SUBJECT = "https://fhir.dho.example/NamingSystem/staff-subject"
RFC3986 = "urn:ietf:rfc:3986"

_ALERTS = {
    "1.1": "Måledata rapportert",
    "1.2": "Skjemabesvarelse",
    "2.1": "Manglende skjemabesvarelse",
    "2.2": "Måling ikke rapportert",
}
_SECTIONS = {
    "reason": "2",
    "response_summary": "3",
    "response_elaboration": "4",
    "signature": "7",
    "note": "9",
}
_SEVERITY = {"red": "high", "yellow": "moderate", "green": "low"}
_COLOUR_NB = {"red": "rød", "yellow": "gul", "green": "grønn"}
_OUTCOME_NB = {
    "handled_by_centre": "håndtert av oppfølgingstjenesten",
    "no_action_needed": "ingen tiltak nødvendig",
    "referred_to_gp": "henvist til fastlege",
    "referred_to_emergency": "henvist til legevakt/akuttmottak",
    "admitted_to_hospital": "innlagt på sykehus",
    "measurement_error": "målefeil",
    "technical_issue": "teknisk feil",
    "patient_unreachable": "pasienten ikke nådd",
}
_ACTION_NB = {
    "reviewed_readings": "gjennomgått målinger",
    "phone_call": "telefonsamtale",
    "video_consultation": "videokonsultasjon",
    "secure_message": "sikker melding",
    "home_visit": "hjemmebesøk",
    "advice_to_patient": "råd til pasienten",
    "contact_with_gp": "kontakt med fastlege",
    "referral_emergency": "henvisning til akutthjelp",
    "medication_change_advised": "råd om endring i medisinering",
    "technical_support": "teknisk hjelp",
    "no_action_needed": "ingen tiltak nødvendig",
}
# Elements of a stored reading the record gets; references to the gateway's Bundle
# (device, gateway extension, derivedFrom) would not resolve inside the document.
_OBSERVATION_ELEMENTS = (
    "status",
    "category",
    "code",
    "effectiveDateTime",
    "effectiveInstant",
    "effectivePeriod",
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "dataAbsentReason",
    "bodySite",
    "method",
    "component",
)


class InvalidDocument(Exception):
    """The document does not validate: the elements named, never their values."""


def alert_code(rule: str, measurement: str | None) -> str:
    """The VKP alert code of a finding: a form's answer or its absence, a measurement's."""
    form = measurement in FORMS
    if rule == "missing.reading":
        return "2.1" if form else "2.2"
    if rule == "device.silent":
        return "2.2"
    return "1.2" if form else "1.1"


def build(
    *,
    bundle_identifier: str,
    item: Any,
    findings: Sequence[Any],
    observations: Sequence[Any],
    patient: Any,
    centre: Any,
    resolver: str,
    local_time: str,
) -> dict[str, Any]:
    """The document for a resolved item. ``item``, ``findings``, ``observations``,
    ``patient`` and ``centre`` are rows; ``local_time`` the resolve in the centre's zone,
    as the signature shows it. The Patient carries no identity number yet
    (``with_identity`` adds it at send time)."""
    urls = Urls()
    patient_url, org_url, nurse_url = urls.new(), urls.new(), urls.new()
    standing = [f for f in findings if f.withdrawn_at is None]
    by_reading = {o.id: urls.new() for o in observations}
    issues = [(urls.new(), f) for f in standing]
    composition_url = urls.new()

    entries: list[dict[str, Any]] = [
        bundle_entry(
            composition_url,
            _composition(item, issues, patient_url, org_url, nurse_url, resolver, local_time),
        ),
        bundle_entry(patient_url, patient_resource(patient, org_url)),
        bundle_entry(org_url, organization_resource(centre)),
        bundle_entry(nurse_url, practitioner_resource(resolver)),
    ]
    entries += [
        bundle_entry(url, _detected_issue(f, item, patient_url, nurse_url, by_reading))
        for url, f in issues
    ]
    entries += [bundle_entry(by_reading[o.id], _observation(o, patient_url)) for o in observations]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": RFC3986, "value": bundle_identifier},
        "type": "document",
        "timestamp": instant(item.resolved_at),
        "entry": entries,
    }


def with_identity(document: Mapping[str, Any], system: str, value: str) -> dict[str, Any]:
    """The document as sent: its Patient entry with the identity number."""
    sent: dict[str, Any] = orjson.loads(orjson.dumps(document))
    for entry in sent.get("entry", []):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Patient":
            resource["identifier"] = [{"system": system, "value": value}]
    return sent


def validate(document: Mapping[str, Any]) -> None:
    """fhir.resources' R4B Bundle model over the whole document (it parses each entry
    as its own resource type). Raises ``InvalidDocument`` naming the elements."""
    try:
        Bundle.model_validate(document)
    except ValidationError as error:
        places = []
        for e in error.errors()[:10]:
            path = "Bundle"
            for part in e.get("loc", ()):
                path += f"[{part}]" if isinstance(part, int) else f".{part}"
            places.append(f"{path}: {str(e.get('type', 'invalid')).rsplit('.', 1)[-1]}")
        raise InvalidDocument("; ".join(places)) from None
    except (TypeError, ValueError):
        raise InvalidDocument("Bundle: not a valid Bundle") from None
    entries = document.get("entry") or []
    first = entries[0].get("resource", {}) if entries else {}
    if document.get("type") != "document" or first.get("resourceType") != "Composition":
        raise InvalidDocument("Bundle.entry[0]: a document begins with its Composition")


def new_identifier() -> str:
    return f"urn:uuid:{uuid4()}"


# The builders below without a leading underscore are shared with the pathway's notes
# (``service.journal.notes``).


class Urls:
    def new(self) -> str:
        return f"urn:uuid:{uuid4()}"


def bundle_entry(url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": url, "resource": resource}


def instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def narrative(*paragraphs: str) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def codeable(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def composition_section(
    key: str, title: str, text: Sequence[str], refs: Sequence[str] = ()
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "title": title,
        "code": codeable(SECTION_CODES, _SECTIONS[key], key),
        "text": narrative(*text),
    }
    if refs:
        section["entry"] = [{"reference": r} for r in refs]
    return section


def _composition(
    item: Any,
    issues: Sequence[tuple[str, Any]],
    patient_url: str,
    org_url: str,
    nurse_url: str,
    resolver: str,
    local_time: str,
) -> dict[str, Any]:
    colour = _COLOUR_NB.get(item.severity, item.severity)
    reasons = [f.reason_nb for _, f in issues] or ["Ingen stående funn (alle trukket tilbake)."]
    outcome = _OUTCOME_NB.get(item.outcome or "", item.outcome or "ukjent")
    actions = ", ".join(_ACTION_NB.get(a, a) for a in item.actions or []) or "ingen registrert"
    minutes = "" if item.minutes is None else f" Tidsbruk: {item.minutes:g} minutter."
    sections = [
        composition_section(
            "reason",
            "Årsak",
            [f"Varsel ({colour}{', teknisk' if item.technical else ''}).", *reasons],
            [url for url, _ in issues],
        ),
        composition_section(
            "response_summary",
            "Tiltak",
            [f"Utfall: {outcome}.", f"Tiltak: {actions}.{minutes}"],
        ),
    ]
    if item.note:
        sections.append(composition_section("response_elaboration", "Kommentar", [item.note]))
    sections.append(
        composition_section(
            "signature", "Signatur", [f"Avsluttet av {resolver} {local_time}."], [nurse_url]
        )
    )
    return {
        "resourceType": "Composition",
        "meta": {"profile": [COMPOSITION_PROFILE]},
        "status": "final",
        "type": codeable(CLASS_CODES, "0", "Pasientoppfolging"),
        "category": [codeable(CATEGORY_CODES, "2", "Digital hjemmeoppfølging")],
        "subject": {"reference": patient_url},
        "date": instant(item.resolved_at),
        "author": [{"reference": nurse_url}],
        "custodian": {"reference": org_url},
        "title": "Digital hjemmeoppfølging: varsel behandlet og lukket",
        "event": [
            {
                "code": [codeable(EVENT_CODES, "3", "hendelse_kvittert")],
                "period": {"start": instant(item.opened_at), "end": instant(item.resolved_at)},
            }
        ],
        "section": sections,
    }


def patient_resource(patient: Any, org_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [
            {"use": "official", "family": patient.family_name, "given": patient.given_name.split()}
        ],
        "gender": patient.sex,
        "birthDate": patient.birth_date.isoformat(),
        "managingOrganization": {"reference": org_url},
    }


def organization_resource(centre: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Organization", "name": centre.name}
    if centre.org_number:
        resource["identifier"] = [{"system": ORG_NUMBER, "value": centre.org_number}]
    return resource


def practitioner_resource(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": STAFF_SUBJECT, "value": subject}],
    }


def _detected_issue(
    finding: Any, item: Any, patient_url: str, nurse_url: str, by_reading: Mapping[str, str]
) -> dict[str, Any]:
    code = alert_code(finding.rule, finding.measurement)
    implicated = [by_reading[r] for r in finding.reading_ids or [] if r in by_reading]
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "meta": {"profile": [DETECTED_ISSUE_PROFILE]},
        "status": "final",
        "code": {
            "coding": [
                {"system": ALERT_CODES, "code": code, "display": _ALERTS[code]},
                {"system": RULE_CODES, "code": finding.rule},
            ]
        },
        "severity": _SEVERITY.get(finding.severity, "moderate"),
        "patient": {"reference": patient_url},
        "identifiedDateTime": instant(finding.effective_at),
        "detail": finding.reason_nb,
        "mitigation": [
            {
                "action": {
                    **codeable(OUTCOME_CODES, item.outcome or "unknown"),
                    "text": _OUTCOME_NB.get(item.outcome or "", item.outcome or "ukjent"),
                },
                "date": instant(item.resolved_at),
                "author": {"reference": nurse_url},
            }
        ],
    }
    if implicated:
        resource["implicated"] = [{"reference": url} for url in implicated]
    return resource


def _observation(row: Any, patient_url: str) -> dict[str, Any]:
    stored: dict[str, Any] = orjson.loads(row.resource)
    resource: dict[str, Any] = {"resourceType": "Observation"}
    for name in _OBSERVATION_ELEMENTS:
        if name in stored:
            resource[name] = stored[name]
    resource["status"] = row.status
    resource["subject"] = {"reference": patient_url}
    if not any(k.startswith("effective") for k in resource):
        resource["effectiveDateTime"] = row.effective_original
    return resource
