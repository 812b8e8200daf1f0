"""FHIR plumbing shared by every FHIR route: outcomes, bodies, the catalogue, units, times.

(Not named ``fhir``: that name belongs to the fhir.resources distribution.)
"""
