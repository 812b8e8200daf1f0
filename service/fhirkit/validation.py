"""Structural validation with fhir.resources' R4B models (they parse R4 JSON).

Pydantic's errors become OperationOutcome issues whose expression is the FHIRPath of
the element (``Observation.component[1].valueQuantity.value``). The diagnostics are
pydantic's message *type*, never its text, which may quote the input.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from service.fhirkit.outcome import FhirError, Issue, IssueCode

MODELS: dict[str, Any] = {
    "Communication": Communication,
    "Observation": Observation,
    "Patient": Patient,
    "Device": Device,
    "QuestionnaireResponse": QuestionnaireResponse,
}

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not an element of this resource",
    "value_error": "has an invalid value",
    "enum": "is not one of the allowed codes",
    "literal_error": "is not one of the allowed codes",
    "string_type": "must be a string",
    "float_parsing": "must be a number",
    "decimal_parsing": "must be a number",
    "int_parsing": "must be an integer",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "bool_type": "must be true or false",
}


def validate(resource: dict[str, Any], resource_type: str, *, max_issues: int = 20) -> None:
    """Raise a 400/422 ``FhirError`` unless ``resource`` is a valid ``resource_type``."""
    if resource.get("resourceType") != resource_type:
        raise FhirError.one(
            400 if "resourceType" not in resource else 422,
            "invalid",
            f"expected a {resource_type} resource",
            f"{resource_type}.resourceType",
        )
    try:
        MODELS[resource_type].model_validate(resource)
    except ValidationError as error:
        issues = [_issue(resource_type, e) for e in error.errors()[:max_issues]]
        raise FhirError(422, issues) from None
    except (TypeError, ValueError, RecursionError):
        raise FhirError.one(
            422, "structure", f"not a valid {resource_type}", resource_type
        ) from None


def _issue(resource_type: str, error: Any) -> Issue:
    path = resource_type
    for part in error.get("loc", ()):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("function-after", "function-before", "function-wrap"):
            path += f".{part}"
    # fhir.resources qualifies some types ("model_field_validation.missing").
    kind = str(error.get("type", "invalid")).rsplit(".", 1)[-1]
    code: IssueCode = (
        "required" if kind == "missing" else "structure" if kind == "extra_forbidden" else "value"
    )
    return Issue(code, f"{path} {_MESSAGES.get(kind, 'is invalid')}", (path,))
