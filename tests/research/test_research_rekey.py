"""`dho reencrypt` re-seals study keys: after it, the retired data key can go and every
study still opens, with the same key bytes and therefore the same pseudonyms. A study
sealed under a key the process does not hold is reported (no key material) and stops
nothing, but the command exits 1. Two concurrent runs move each key once.

Each test runs on a database of its own, of the session's kind (so on SQLite and on
PostgreSQL): re-sealing touches every study it finds, and the shared database holds the
other tests' studies.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from service import cli
from service.research import rekey
from service.research.pseudonyms import Pseudonyms, StudyKeyring
from service.settings import Settings
from tests.conftest import Database, _create_postgres_database, _drop_postgres_database, _migrate
from tests.factories import create_centre, enrol
from tests.patients.test_key_rotation import _running
from tests.research.helpers import register_study, researcher

K0, K1, K2 = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))


@pytest.fixture
async def own_database(database: Database, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database of the same kind as the session's ``database``."""
    if database.kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'rekey.sqlite3'}"
        await _migrate(url)
        yield url
        return
    created = await _create_postgres_database()
    assert created is not None
    try:
        await _migrate(created)
        yield created
    finally:
        await _drop_postgres_database(created)


def _settings(url: str, var_dir: Path, key: str, key_id: str, **more: Any) -> Settings:
    return Settings(
        database_url=url,
        var_dir=var_dir,
        jobs_in_process=False,
        data_key=key,
        data_key_id=key_id,
        **more,
    )


async def _sealed(engine: AsyncEngine, study_id: str) -> Row[Any]:
    async with engine.connect() as conn:
        query = sa.text("SELECT key_ciphertext, key_id FROM study WHERE id = :id")
        return (await conn.execute(query, {"id": study_id})).one()


async def _opened(app: Any, study_id: str) -> bytes:
    """The study's key, opened with the keys this running service holds."""
    row = await _sealed(app.state.dho.engine, study_id)
    keyring = StudyKeyring.from_vault(app.state.dho.vault)
    return keyring.open(study_id, row.key_ciphertext, row.key_id)


async def _register(settings: Settings, count: int) -> dict[str, bytes]:
    """``count`` studies registered while the service runs under ``settings``; answers
    each study's id and key."""
    async with _running(settings) as (app, client):
        centre = await create_centre(app, settings)
        subject, _ = researcher(settings)
        ids = [(await register_study(client, centre, [subject]))["id"] for _ in range(count)]
        return {study_id: await _opened(app, study_id) for study_id in ids}


async def _reencrypt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> tuple[int, str, str]:
    """``dho reencrypt`` with ``settings`` as its environment: exit status, out, err."""
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    capsys.readouterr()
    # The command runs its own event loop, as it does from the shell.
    code = await asyncio.to_thread(cli.main, ["reencrypt"])
    out, err = capsys.readouterr()
    return code, out, err


async def test_after_reencrypt_the_retired_key_can_go_and_pseudonyms_stay(
    own_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _settings(own_database, tmp_path, K1, "k1")
    async with _running(before) as (app, client):
        centre = await create_centre(app, before)
        patient = await enrol(client, before, centre)
        subject, _ = researcher(before)
        study_id = (await register_study(client, centre, [subject]))["id"]
        key = await _opened(app, study_id)
    pseudonym = Pseudonyms(key).patient(patient.id)

    rotated = _settings(
        own_database, tmp_path, K2, "k2", retired_data_keys={"k1": K1}, lookup_key_id="k1"
    )
    # A study registered after the rotation is sealed under the new key already.
    later = await _register(rotated, 1)
    async with _running(rotated) as (app, _):
        later_row = await _sealed(app.state.dho.engine, next(iter(later)))

    code, out, err = await _reencrypt(monkeypatch, capsys, rotated)
    assert (code, err) == (0, "")
    assert "1 identity numbers moved to key k2" in out
    assert "1 study keys re-sealed under key k2" in out
    code, out, _ = await _reencrypt(monkeypatch, capsys, rotated)
    assert code == 0
    assert "0 study keys re-sealed" in out

    # k1 dropped entirely: not even kept as the lookup key.
    after = _settings(own_database, tmp_path, K2, "k2")
    async with _running(after) as (app, _):
        assert not app.state.dho.vault.retired
        row = await _sealed(app.state.dho.engine, study_id)
        assert row.key_id == "k2"
        reopened = await _opened(app, study_id)
        assert reopened == key
        assert Pseudonyms(reopened).patient(patient.id) == pseudonym
        assert await _sealed(app.state.dho.engine, next(iter(later))) == later_row


async def test_a_study_sealed_under_a_key_not_held_is_reported_and_stops_nothing(
    own_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (lost_id,) = await _register(_settings(own_database, tmp_path, K0, "k0"), 1)
    kept = await _register(_settings(own_database, tmp_path, K1, "k1"), 2)
    rotated = _settings(own_database, tmp_path, K2, "k2", retired_data_keys={"k1": K1})
    async with _running(rotated) as (app, _):
        lost_before = await _sealed(app.state.dho.engine, lost_id)
        kept_before = [await _sealed(app.state.dho.engine, i) for i in kept]

    code, out, err = await _reencrypt(monkeypatch, capsys, rotated)
    assert code == 1
    assert "2 study keys re-sealed under key k2" in out
    assert "1 study keys could not be re-sealed" in err
    assert f"study {lost_id}: sealed under data key k0, which this process does not hold" in err
    secrets_ = [K0, K1, K2, lost_before.key_ciphertext, *(r.key_ciphertext for r in kept_before)]
    secrets_ += [base64.b64encode(k).decode() for k in kept.values()]
    secrets_ += [k.hex() for k in kept.values()]
    assert not [s for s in secrets_ if s in out + err]

    async with _running(rotated) as (app, _):
        assert await _sealed(app.state.dho.engine, lost_id) == lost_before
        for study_id, key in kept.items():
            assert (await _sealed(app.state.dho.engine, study_id)).key_id == "k2"
            assert await _opened(app, study_id) == key


async def test_concurrent_runs_move_each_study_key_once(own_database: str, tmp_path: Path) -> None:
    keys = await _register(_settings(own_database, tmp_path, K1, "k1"), 3)
    (lost_id,) = await _register(_settings(own_database, tmp_path, K0, "k0"), 1)
    rotated = _settings(own_database, tmp_path, K2, "k2", retired_data_keys={"k1": K1})
    async with _running(rotated) as (app, _):
        engine = app.state.dho.engine
        keyring = StudyKeyring.from_vault(app.state.dho.vault)
        # Batches of one: every study in its own transaction, the runs interleaved.
        runs = await asyncio.gather(
            *(rekey.reseal_study_keys(engine, keyring, batch_size=1) for _ in range(2))
        )
        assert sum(run.resealed for run in runs) == len(keys)
        for run in runs:
            assert run.unsealable == (rekey.Unsealable(lost_id, "k0", rekey.Reason.key_not_held),)
        for study_id, key in keys.items():
            assert await _opened(app, study_id) == key
        # The UPDATE holds the key id the row was read under: a run that lost the race
        # changes nothing.
        study_id = next(iter(keys))
        moved = await _sealed(engine, study_id)
        async with engine.begin() as conn:
            assert not await rekey.set_sealed_key(conn, study_id, "stale", "k2", "k1")
        assert await _sealed(engine, study_id) == moved
