"""``make bench``: the ingest benchmark on PostgreSQL (see ``bench/README.md``)."""
