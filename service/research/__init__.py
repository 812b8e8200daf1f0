"""Research datasets: studies, and de-identified exports of their cohort's data.

An export keeps the science (every interval, every value, the triage and the resource
use of each patient) and loses the person (no name, number, address, device or free
text; keyed pseudonyms; shifted dates; generalised quasi-identifiers checked for
k-anonymity before anything is released, and the written files checked again after).
"""
