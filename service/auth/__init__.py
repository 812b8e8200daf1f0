"""Who is calling: bearer JWTs from trusted OIDC issuers, turned into a ``Principal``."""
