"""Where the journal's private keys may be read from: the operator's key folder only.

A centre's admin names the key of its HelseID client (`private_key_path`), but the file
is read by the worker on the operator's machine. Were any path accepted, an admin could
make the worker open any file it can read; so the name must resolve inside the folder
the operator mounts the keys in (``DHO_JOURNAL_KEY_DIR``, by default
``<var_dir>/journal-keys``). Checked when the admin sets it (a clear 422) and again
before every read (a folder or a link changed since).
"""

from __future__ import annotations

from pathlib import Path

from service.settings import Settings


def key_dir(settings: Settings) -> Path:
    return settings.journal_key_dir or settings.var_dir / "journal-keys"


def key_file(settings: Settings, name: str) -> Path | None:
    """The key file ``name`` names (relative to the folder, or absolute inside it), or
    None when it resolves outside the folder."""
    folder = key_dir(settings).resolve()
    path = (folder / name).resolve()
    return path if path.is_relative_to(folder) and path != folder else None
