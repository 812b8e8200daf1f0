"""One place for configuration: environment variables with the ``DHO_`` prefix.

Secrets (the data key, the dev issuer's key) never have usable defaults outside
development: a production process that forgot one refuses to start instead of
running with a key that is in the source code.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The FHIR contract (catalogue, CapabilityStatement) as data, beside the package.
DEFAULT_FHIR_DIR = Path(__file__).resolve().parent.parent / "fhir"


class TrustedIssuer(BaseModel):
    """An external OIDC issuer (HelseID, ID-porten, Keycloak) whose tokens we accept."""

    issuer: str
    audience: str
    jwks_url: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DHO_", env_file=None, extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./var/dho.sqlite3"
    # `dho migrate` connects with this URL when set: the schema owner's role (README,
    # "Operations"), while DHO_DATABASE_URL names the service's own, lesser role.
    migrate_database_url: str | None = None
    var_dir: Path = Path("./var")
    fhir_dir: Path = DEFAULT_FHIR_DIR
    # Wall-clock zone for readings sent with an unknown offset (-00:00) and date searches.
    local_timezone: str = "Europe/Oslo"

    # Identity. With no external issuer configured, the development issuer signs
    # tokens with a key under var_dir (`dho token`); configuring one disables it.
    oidc_issuers: list[TrustedIssuer] = Field(default_factory=list)
    dev_issuer: str = "urn:dho:dev-issuer"
    dev_audience: str = "dho"
    clock_skew_seconds: int = 60
    jwks_cache_seconds: int = 3600

    # Identity numbers are encrypted at rest with this key (base64, 32 bytes) and
    # found by a keyed hash. Development derives a key file under var_dir.
    data_key: str | None = None
    data_key_id: str = "k1"
    # Key rotation (service/patients/identity_vault.py): earlier keys by id, which still
    # decrypt, and the id of the key the lookup hashes were made with.
    retired_data_keys: dict[str, str] = Field(default_factory=dict)
    lookup_key_id: str | None = None

    # Ingest. A body other than a Bundle: at most this many bytes and JSON values.
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    max_json_items: int = 20_000
    future_skew_seconds: int = 600
    # A Bundle (POST /fhir): its byte and value limits follow from its entry limit, so
    # they never stop a Bundle short of it. 6,000 entries hold what a PHD gateway sends
    # after a day offline: an oximeter every minute with its device observations and
    # hourly coincident timestamps is 5,811 IG-shaped entries, 6.7 MB and 270,000
    # values (tests/ingest/day_offline.py). The allowance per entry is room for the
    # richest Observation the PHD IG publishes (numeric-spo2-alarm: 111 values, 2.6 kB).
    bundle_max_entries: int = 6000
    bundle_entry_bytes: int = 3 * 1024
    bundle_entry_items: int = 128
    # Messages: a patient writes a few lines, and may add one photo (of a swollen ankle,
    # a rash, a device's screen): PNG or JPEG, checked from its bytes, at most this size.
    # The body limit above bounds the base64 that carries it.
    message_text_max_chars: int = 4000
    message_attachment_max_bytes: int = 512 * 1024
    default_page_size: int = 50
    max_page_size: int = 500

    # The evaluation marks a rate resting on fewer patient-years than this "too thin to
    # read" (a month of seven patients is about 0.6 patient-years).
    evaluation_min_patient_years: float = Field(default=1.0, ge=0)

    db_pool_size: int = 10
    # `make bench` only: count the statements each process sends, into files of this
    # folder (service/statement_counts.py). Unset, nothing is counted.
    statement_counts_dir: str | None = None
    # Requests that may wait for one of the pool's 2 x db_pool_size connections, per
    # process; the next is answered 503 with Retry-After at once (service/admission.py).
    db_queue_limit: int = Field(default=20, ge=0)
    # SIGTERM: how long requests in flight (dho serve) and the tick or export under way
    # (dho worker) may take to finish; then they are cut off, and a cut-off job's
    # transaction rolls back, so another worker runs it.
    shutdown_grace_seconds: float = Field(default=20.0, gt=0)
    # Read-heavy work (research exports, evaluation, reports) reads from this database
    # when set: a streaming replica of DHO_DATABASE_URL's. Unset: the primary.
    read_database_url: str | None = None
    # PostgreSQL roles made by migration 0018 (service/db_roles.py): the owner of the
    # schema, which runs `dho migrate`, and the service's own role, which may only
    # append to the audit trail.
    db_owner_role: str = Field(default="dho_owner", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    db_service_role: str = Field(default="dho_service", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Run the background jobs (missing readings, SLA escalations) inside each API
    # process. Unset: yes on the embedded SQLite default (one process does it all), no
    # on PostgreSQL, where `dho worker` runs them.
    jobs_in_process: bool | None = None
    log_level: str = "INFO"

    # Journalling to the patient's record (service/journal): a message is retried with
    # exponential backoff and jitter (base, doubling, capped) and dead-lettered after
    # this many attempts; the worker looks for due messages every poll interval and
    # sends with this many at once (per process; several workers are safe).
    journal_max_attempts: int = Field(default=10, ge=1)
    journal_backoff_seconds: float = Field(default=5.0, gt=0)
    journal_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    journal_poll_seconds: float = Field(default=2.0, gt=0)
    journal_concurrency: int = Field(default=4, ge=1, le=64)
    # How long a worker's claim on a message holds: past it, another worker takes the
    # message over (its holder is taken for dead). Longer than any send may take (a
    # receiver's timeout is at most 120 s, for the token and for the POST).
    journal_lease_seconds: float = Field(default=300.0, gt=0)
    # The folder of the HelseID clients' private keys (a mounted secret); a centre's
    # `private_key_path` must name a file in it (service/journal/keys.py). Unset:
    # <var_dir>/journal-keys.
    journal_key_dir: Path | None = None
    # The hosts a centre's receiver_url and token_url may name, comma-separated
    # (service/journal/egress.py). Empty: any (then restrict egress at the network).
    journal_receiver_hosts: str = ""

    # The nurse console (service/console). Its session cookie is encrypted and signed
    # with this key (base64, 32 bytes), so any API process can read any session;
    # development derives one under var_dir, production must set it.
    console_session_key: str | None = None
    console_idle_minutes: float = Field(default=30.0, gt=0)
    # The OAuth client the console logs in as, at the issuer of DHO_OIDC_ISSUERS named by
    # console_issuer (the first by default). The development issuer needs neither.
    console_client_id: str = "dho-console"
    console_client_secret: str | None = None
    console_issuer: str | None = None
    # The patient's tablet page (``/me``): its client at the patients' issuer (ID-porten),
    # the first configured issuer unless named; and how long a tablet at home stays
    # logged in without use (a week: a patient logs in far less often than a nurse).
    tablet_client_id: str = "dho-tablet"
    tablet_client_secret: str | None = None
    tablet_issuer: str | None = None
    tablet_idle_minutes: float = Field(default=7 * 24 * 60, gt=0)

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if not self.data_key:
                raise ValueError("DHO_DATA_KEY must be set in production")
            if not self.oidc_issuers:
                raise ValueError("DHO_OIDC_ISSUERS must name an issuer in production")
            if not self.console_session_key:
                raise ValueError("DHO_CONSOLE_SESSION_KEY must be set in production")
        key = self.console_session_key
        if key is not None and len(base64.b64decode(key)) != 32:
            raise ValueError("DHO_CONSOLE_SESSION_KEY must be 32 bytes, base64-encoded")
        if self.data_key is not None and len(base64.b64decode(self.data_key)) != 32:
            raise ValueError("DHO_DATA_KEY must be 32 bytes, base64-encoded")
        if any(len(base64.b64decode(k)) != 32 for k in self.retired_data_keys.values()):
            raise ValueError("DHO_RETIRED_DATA_KEYS must map key ids to 32-byte base64 keys")
        known = {self.data_key_id if self.data_key else "dev", *self.retired_data_keys}
        if self.lookup_key_id is not None and self.lookup_key_id not in known:
            raise ValueError("DHO_LOOKUP_KEY_ID must name the data key or a retired one")
        return self

    @property
    def run_jobs_in_process(self) -> bool:
        if self.jobs_in_process is not None:
            return self.jobs_in_process
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.environment != "development"

    @property
    def dev_issuer_enabled(self) -> bool:
        return not self.oidc_issuers

    @property
    def bundle_max_body_bytes(self) -> int:
        return max(self.max_body_bytes, self.bundle_max_entries * self.bundle_entry_bytes)

    @property
    def bundle_max_json_items(self) -> int:
        return max(self.max_json_items, self.bundle_max_entries * self.bundle_entry_items)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
