"""Audit: every access to personal health data leaves an append-only record, read by
auditors (also as FHIR AuditEvent, IHE BALP) and by patients (their access log)."""
