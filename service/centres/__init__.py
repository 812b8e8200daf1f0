"""Follow-up centres (oppfølgingstjenester): the tenants of the service."""
