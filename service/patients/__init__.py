"""Patients: enrolment, identity numbers, and the FHIR Patient resource."""
