"""Messages between a patient and their follow-up centre (FHIR ``Communication``)."""
