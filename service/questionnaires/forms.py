"""The forms, read once from ``fhir/questionnaires/``: they are data, versioned by their
canonical URL and ``version``, so a centre reviews them as documents, not as code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SCORE_EXTENSION = "https://fhir.dho.example/StructureDefinition/score-measurement"
# On a yes/no item: the catalogue measurement its answer is stored as (1 yes, 0 no), so the
# threshold rules, the rule of three and the advice apply to it as to any reading.
ANSWER_EXTENSION = "https://fhir.dho.example/StructureDefinition/answer-measurement"


TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
# The form that asks how the patient finds the follow-up (``alerts.experience``): asked on
# its own timetable, never triaged.
EXPERIENCE = "experience"


def translated(element: dict[str, Any], key: str) -> dict[str, str]:
    """An element's text by language: the form's own (Bokmål), and its translations."""
    texts = {"nb": str(element.get(key, ""))}
    for extension in (element.get(f"_{key}") or {}).get("extension", []):
        if extension.get("url") != TRANSLATION:
            continue
        parts = {e["url"]: e for e in extension.get("extension", [])}
        if "lang" in parts and "content" in parts:
            texts[parts["lang"]["valueCode"]] = parts["content"]["valueString"]
    return texts


@dataclass(frozen=True)
class Form:
    id: str
    url: str
    version: str
    resource: dict[str, Any]
    # The catalogue measurement a scored form's total is stored as (``cat_score``), or None.
    score_measurement: str | None
    # linkId -> the measurement a yes/no answer is stored as.
    answer_measurements: dict[str, str]

    @property
    def canonical(self) -> str:
        return f"{self.url}|{self.version}"

    @property
    def title(self) -> dict[str, str]:
        return translated(self.resource, "title")


@dataclass(frozen=True)
class Forms:
    by_id: dict[str, Form]

    def all(self) -> list[Form]:
        return [self.by_id[key] for key in sorted(self.by_id)]

    def by_canonical(self, reference: str) -> Form | None:
        """``url|version``, or ``url`` alone for the version we serve."""
        url, _, version = reference.partition("|")
        for form in self.by_id.values():
            if form.url == url and version in ("", form.version):
                return form
        return None


@lru_cache(maxsize=2)
def load_forms(fhir_dir: Path) -> Forms:
    forms: dict[str, Form] = {}
    for path in sorted((fhir_dir / "questionnaires").glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        score = next(
            (e["valueCode"] for e in resource.get("extension", []) if e["url"] == SCORE_EXTENSION),
            None,
        )
        answers = {
            item["linkId"]: extension["valueCode"]
            for item in resource["item"]
            for extension in item.get("extension", [])
            if extension["url"] == ANSWER_EXTENSION
        }
        forms[resource["id"]] = Form(
            resource["id"], resource["url"], resource["version"], resource, score, answers
        )
    return Forms(forms)
