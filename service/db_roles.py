"""The two PostgreSQL roles: an owner that runs migrations and a service that runs requests.

The audit trail's triggers refuse UPDATE, DELETE and TRUNCATE whatever the role, but a
table's owner can still disable or drop a trigger. So the service does not own its
tables: ``DHO_DB_OWNER_ROLE`` owns every table, sequence and function of the schema
(and runs ``dho migrate``), and ``DHO_DB_SERVICE_ROLE`` (the role of
``DHO_DATABASE_URL``) may read and write the other tables but only INSERT and SELECT
the audit trail, and only read ``alembic_version`` (the ready check compares it).

``apply`` is idempotent and runs after every migration on PostgreSQL from revision
0018 on, so tables added by later migrations get the same grants without each
migration having to remember them. SQLite has no roles: nothing happens there.
"""

from __future__ import annotations

import re

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
AUDIT_TABLE = "audit_event"
ROLES_REVISION = "0018"


def _checked(name: str) -> str:
    if not ROLE_NAME.match(name):
        raise ValueError(f"not a plain PostgreSQL role name: {name!r}")
    return name


def create_roles(owner: str, service: str) -> str:
    """One statement creating both roles unless they exist. Roles belong to the whole
    cluster, so another database (or a concurrent migration) may have made them
    already: that is not an error. Neither gets a password here; the operator sets
    them (README, "Operations")."""
    owner, service = _checked(owner), _checked(service)
    return f"""
    DO $roles$
    DECLARE
        wanted text;
    BEGIN
        FOREACH wanted IN ARRAY ARRAY['{owner}', '{service}'] LOOP
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = wanted) THEN
                BEGIN
                    EXECUTE format('CREATE ROLE %I LOGIN', wanted);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- made at the same moment by another migration
                END;
            END IF;
        END LOOP;
    END
    $roles$
    """


def apply(owner: str, service: str) -> str:
    """One statement giving the schema's objects to ``owner`` and the service its rights."""
    owner, service = _checked(owner), _checked(service)
    # Names are checked against ROLE_NAME above, and quoted by format(%I) inside.
    return f"""
    DO $grants$
    DECLARE
        owner_role constant text := '{owner}';
        service_role constant text := '{service}';
        schema_name constant text := current_schema();
        found record;
    BEGIN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO %I', schema_name, owner_role);
        END IF;
        FOR found IN
            SELECT c.relname, c.relkind FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = schema_name AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND pg_get_userbyid(c.relowner) <> owner_role
              -- a sequence owned by a column follows its table
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid
                              AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
        LOOP
            EXECUTE format('ALTER %s %I.%I OWNER TO %I',
                CASE found.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                     WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                schema_name, found.relname, owner_role);
        END LOOP;
        FOR found IN
            SELECT p.oid::regprocedure AS signature FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = schema_name AND pg_get_userbyid(p.proowner) <> owner_role
        LOOP
            EXECUTE format('ALTER ROUTINE %s OWNER TO %I', found.signature, owner_role);
        END LOOP;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), service_role);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', schema_name, service_role);
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM %I', schema_name, service_role);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                       schema_name, service_role);
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I',
                       schema_name, service_role);
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %I.%I FROM %I',
                       schema_name, '{AUDIT_TABLE}', service_role);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I.alembic_version FROM %I',
                       schema_name, service_role);
    END
    $grants$
    """  # noqa: S608


def revoke(service: str) -> str:
    """Undo the service's grants in this database (the roles stay: other databases of
    the cluster may use them)."""
    service = _checked(service)
    return f"""
    DO $revoke$
    DECLARE
        service_role constant text := '{service}';
    BEGIN
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I',
                       current_schema(), service_role);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I',
                       current_schema(), service_role);
    END
    $revoke$
    """
