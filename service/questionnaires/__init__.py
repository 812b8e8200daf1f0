"""Questionnaires: the forms patients answer (FHIR Questionnaire, data in fhir/questionnaires/)
and their answers (QuestionnaireResponse), validated, stored verbatim and, where a form
yields a score, turned into an ordinary survey Observation that triage judges."""
