"""OperationOutcome errors: the one error vocabulary of the FHIR routes.

Raise ``FhirError`` anywhere below a FHIR route; its handler answers an
``OperationOutcome`` whose issues name the offending element by FHIRPath
``expression``. Diagnostics are written by us, never ``str(exception)``: a
library's message can echo the input, and the input is health data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

IssueSeverity = Literal["fatal", "error", "warning", "information"]

# FHIR issue-type codes used here (http://hl7.org/fhir/issue-type).
IssueCode = Literal[
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "forbidden",
    "not-found",
    "not-supported",
    "duplicate",
    "too-costly",
    "conflict",
    "processing",
    "code-invalid",
    "exception",
    "transient",
    "informational",
]


@dataclass(frozen=True)
class Issue:
    code: IssueCode
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: IssueSeverity = "error"

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


@dataclass
class FhirError(Exception):
    status_code: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def one(
        cls,
        status_code: int,
        code: IssueCode,
        diagnostics: str,
        *expression: str,
        headers: dict[str, str] | None = None,
    ) -> FhirError:
        return cls(status_code, [Issue(code, diagnostics, tuple(expression))], headers or {})

    def within(self, prefix: str) -> FhirError:
        """The same error located inside a Bundle entry: ``Observation.subject`` becomes
        ``Bundle.entry[3].resource.subject``."""
        issues = [
            Issue(
                i.code,
                i.diagnostics,
                tuple(_relocate(e, prefix) for e in i.expression) or (prefix,),
                i.severity,
            )
            for i in self.issues
        ]
        return FhirError(self.status_code, issues, self.headers)

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)

    def __str__(self) -> str:
        return f"{self.status_code}: {'; '.join(i.diagnostics for i in self.issues)}"


def _relocate(expression: str, prefix: str) -> str:
    head, dot, rest = expression.partition(".")
    # "Entry.request" is about the entry itself, not its resource.
    if head == "Entry":
        return f"{prefix.removesuffix('.resource')}{dot}{rest}"
    # "Observation.code" names the resource by its type; inside a Bundle the entry does.
    if head[:1].isupper() and "[" not in head:
        return f"{prefix}{dot}{rest}"
    return f"{prefix}.{expression}"


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in issues]}


def not_found(resource_type: str) -> FhirError:
    # The same answer whether the resource does not exist or is outside the caller's
    # reach: existence must not leak.
    return FhirError.one(404, "not-found", f"{resource_type} not found")
