"""A message as FHIR ``Communication``: what a client may send, and how it is answered.

Sent: ``status`` completed, ``subject`` the patient, one ``payload`` with the text
(``contentString``) and at most one more with a photo (``contentAttachment`` with
inline ``data``, PNG or JPEG). Who sent it and to whom the server decides from the
caller's token: a patient writes to their centre, a nurse to the patient. A nurse may
add the minutes the reply took (extension ``minutes-spent``), which the resource-use
log counts. Anything else a client could send about routing (``sender``,
``recipient``) is refused rather than ignored, so no client believes it chose.

Answered: the same, plus ``sender`` and ``recipient``, ``sent``, and whether the other
side has read it (extension ``message-read``: when and by whom).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.fhirkit.outcome import FhirError
from service.fhirkit.validation import validate
from service.messages.attachments import image_type
from service.messages.models import FROM_PATIENT

MINUTES_URL = "https://fhir.dho.example/StructureDefinition/minutes-spent"
READ_URL = "https://fhir.dho.example/StructureDefinition/message-read"
_MAX_MINUTES = 240.0


@dataclass(frozen=True)
class Draft:
    """A message as sent, checked; not yet anyone's."""

    subject: str
    text: str
    sent_at: datetime | None
    in_response_to: str | None
    identifier: str | None
    attachment_type: str | None
    attachment: bytes | None
    minutes: float | None


def parse(
    resource: dict[str, Any],
    *,
    now: datetime,
    future_skew: timedelta,
    max_chars: int,
    max_attachment_bytes: int,
) -> Draft:
    validate(resource, "Communication")
    if resource.get("status") != "completed":
        raise _invalid("a message is sent as completed", "Communication.status")
    for element in ("sender", "recipient"):
        if element in resource:
            raise _invalid(
                "who sends and receives is decided by the caller's login",
                f"Communication.{element}",
            )
    subject = (resource.get("subject") or {}).get("reference")
    if not isinstance(subject, str) or not subject.startswith("Patient/"):
        raise _invalid("the subject must be the patient (Patient/id)", "Communication.subject")
    text, attachment_type, attachment = _payload(resource, max_chars, max_attachment_bytes)
    return Draft(
        subject=subject,
        text=text,
        sent_at=_sent(resource, now, future_skew),
        in_response_to=_in_response_to(resource),
        identifier=_identifier(resource),
        attachment_type=attachment_type,
        attachment=attachment,
        minutes=_minutes(resource),
    )


def _payload(
    resource: dict[str, Any], max_chars: int, max_attachment_bytes: int
) -> tuple[str, str | None, bytes | None]:
    texts: list[str] = []
    images: list[tuple[str, bytes]] = []
    for index, part in enumerate(resource.get("payload") or []):
        where = f"Communication.payload[{index}]"
        if "contentString" in part:
            texts.append(part["contentString"])
        elif "contentAttachment" in part:
            images.append(_image(part["contentAttachment"], where, max_attachment_bytes))
        else:
            raise _invalid(
                "only text and an inline photo are accepted", f"{where}.contentReference"
            )
    if len(texts) != 1 or not texts[0].strip():
        raise _invalid("a message holds one text (contentString)", "Communication.payload")
    if len(texts[0]) > max_chars:
        raise _invalid(f"a message holds at most {max_chars} characters", "Communication.payload")
    if len(images) > 1:
        raise _invalid("a message holds at most one photo", "Communication.payload")
    kind, data = images[0] if images else (None, None)
    return texts[0], kind, data


def _image(attachment: Mapping[str, Any], where: str, max_bytes: int) -> tuple[str, bytes]:
    path = f"{where}.contentAttachment"
    if "url" in attachment or "data" not in attachment:
        raise _invalid("a photo is sent inline (data), never as a link", f"{path}.data")
    try:
        data = base64.b64decode(attachment["data"], validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("the photo is not valid base64", f"{path}.data") from None
    if len(data) > max_bytes:
        raise FhirError.one(
            413, "too-costly", f"a photo may be at most {max_bytes} bytes", f"{path}.data"
        )
    found = image_type(data)
    if found is None:
        raise _invalid("only PNG and JPEG photos are accepted", f"{path}.data")
    declared = attachment.get("contentType")
    if declared is not None and declared != found:
        raise _invalid(f"the photo is {found}, not {declared}", f"{path}.contentType")
    return found, data


def _sent(resource: dict[str, Any], now: datetime, skew: timedelta) -> datetime | None:
    value = resource.get("sent")
    if value is None:
        return None
    try:
        sent = datetime.fromisoformat(value)
        if sent.tzinfo is None:
            raise ValueError("no offset")
        sent = sent.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _invalid("sent must be a time with an offset", "Communication.sent") from None
    if sent > now + skew:
        raise _invalid("sent lies in the future", "Communication.sent")
    return sent


def _in_response_to(resource: dict[str, Any]) -> str | None:
    answers = resource.get("inResponseTo") or []
    if not answers:
        return None
    reference = answers[0].get("reference")
    if len(answers) > 1 or not isinstance(reference, str):
        raise _invalid("a message answers one message", "Communication.inResponseTo")
    if not reference.startswith("Communication/"):
        raise _invalid("a message answers a Communication", "Communication.inResponseTo")
    return reference.removeprefix("Communication/")


def _identifier(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("value"):
            return f"{identifier.get('system', '')}|{identifier['value']}"
    return None


def _minutes(resource: dict[str, Any]) -> float | None:
    for extension in resource.get("extension") or []:
        if extension.get("url") == MINUTES_URL:
            value = extension.get("valueDecimal")
            if not isinstance(value, int | float) or not 0 < value <= _MAX_MINUTES:
                raise _invalid(
                    f"minutes-spent must be above 0 and at most {_MAX_MINUTES:g}",
                    "Communication.extension",
                )
            return float(value)
    return None


def _invalid(diagnostics: str, expression: str) -> FhirError:
    return FhirError.one(422, "invalid", diagnostics, expression)


def render(row: Mapping[Any, Any]) -> dict[str, Any]:
    patient = {"reference": f"Patient/{row['patient_id']}"}
    centre = {"reference": f"Organization/{row['centre_id']}"}
    from_patient = row["direction"] == FROM_PATIENT
    nurse = {"type": "Practitioner", "identifier": {"value": row["sender"]}}
    payload: list[dict[str, Any]] = [{"contentString": row["text"]}]
    if row["attachment"] is not None:
        payload.append(
            {
                "contentAttachment": {
                    "contentType": row["attachment_type"],
                    "size": len(row["attachment"]),
                    "data": base64.b64encode(row["attachment"]).decode(),
                }
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": row["id"],
        "status": "completed",
        "subject": patient,
        "sent": _instant(row["sent_at"]),
        "sender": patient if from_patient else nurse,
        "recipient": [centre if from_patient else patient],
        "payload": payload,
    }
    if row["in_response_to"]:
        resource["inResponseTo"] = [{"reference": f"Communication/{row['in_response_to']}"}]
    if row["read_at"] is not None:
        resource["extension"] = [
            {
                "url": READ_URL,
                "extension": [
                    {"url": "at", "valueDateTime": _instant(row["read_at"])},
                    {"url": "by", "valueString": row["read_by"]},
                ],
            }
        ]
    return resource


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
