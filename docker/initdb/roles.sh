#!/bin/sh
# Runs once, when the database volume is new (the postgres image's /docker-entrypoint-initdb.d).
# Makes the service's own role with its password (migration 0018 then finds it and only grants
# it INSERT and SELECT on the audit trail), the owner role, and lets a streaming replica
# (the "replica" profile) connect for replication.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v service_password="$DHO_DB_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE dho_owner LOGIN;
CREATE ROLE dho_service LOGIN PASSWORD :'service_password';
SQL
echo "host replication $POSTGRES_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
