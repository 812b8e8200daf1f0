"""Journalling to the patient's record (EPJ): resolved items as FHIR documents, sent
through a transactional outbox (``journal_message``) by ``dho worker``."""
