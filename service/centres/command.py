"""``dho centre add|list|update``: the operator's way to start a centre, on the machine.

The same checks and the same service functions as ``/api/centres``, and audited the
same way (actor ``dho-cli:<login>``, role admin). The operator reaches every centre: the
command is for whoever runs the service, before any admin has a token for the centre.
Exit status 0 on success, 2 when a value is refused (the message names the field).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser is built on every ``dho`` call: import the service lazily
    from service.centres.schemas import CentreCreate, CentreRead, CentreUpdate
    from service.settings import Settings

_FIELDS = (
    "name",
    "org_number",
    "municipalities",
    "time_zone",
    "red_claim_minutes",
    "red_resolve_minutes",
)


def add_arguments(commands: Any) -> None:
    centre = commands.add_parser("centre", help="create, list and change follow-up centres")
    actions = centre.add_subparsers(dest="centre_command", required=True)
    add = actions.add_parser("add", help="register a new centre")
    add.add_argument("--id", required=True, help="the id tokens will name the centre by")
    _fields(add, required=True)
    actions.add_parser("list", help="every centre, one per line")
    update = actions.add_parser("update", help="change a centre (only the options given)")
    update.add_argument("--id", required=True)
    _fields(update, required=False)


def _fields(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--name", required=required)
    parser.add_argument("--org-number", required=required, help="organisasjonsnummer, 9 digits")
    parser.add_argument(
        "--municipality",
        dest="municipalities",
        action="append",
        required=required,
        help="kommunenummer served (repeatable)",
    )
    parser.add_argument("--time-zone", help="IANA name (default Europe/Oslo)")
    parser.add_argument("--red-claim-minutes", type=int, help="SLA: claim a red within")
    parser.add_argument("--red-resolve-minutes", type=int, help="SLA: resolve a red within")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from service.centres.schemas import CentreCreate, CentreUpdate
    from service.errors import ApiError

    given = {f: getattr(args, f) for f in _FIELDS if getattr(args, f, None) is not None}
    try:
        if args.centre_command == "add":
            body: CentreCreate | CentreUpdate = CentreCreate(id=args.id, **given)
        elif args.centre_command == "update":
            body = CentreUpdate(**given)
        else:
            body = CentreUpdate.model_construct()
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "update" for e in error.errors()})
        print(f"refused: {', '.join(fields)}: {error.errors()[0]['msg']}", file=sys.stderr)
        return 2
    try:
        shown = asyncio.run(_run(settings, args, body))
    except ApiError as error:
        print(f"refused: {error.detail}", file=sys.stderr)
        return 2
    for centre in shown:
        print(_line(centre))
    return 0


async def _run(
    settings: Settings, args: argparse.Namespace, body: CentreCreate | CentreUpdate
) -> list[CentreRead]:
    from service.auth.principal import Principal, Role
    from service.centres import service as centres
    from service.centres.schemas import CentreCreate
    from service.database import create_engine

    engine = create_engine(settings)
    operator = f"dho-cli:{getpass.getuser()}"
    try:
        async with engine.begin() as conn:
            if isinstance(body, CentreCreate):
                principal = Principal(operator, Role.admin, issuer="dho-cli")
                return [await centres.create(conn, principal, body)]
            if args.centre_command == "update":
                principal = Principal(operator, Role.admin, (args.id,), issuer="dho-cli")
                return [await centres.update(conn, principal, args.id, body)]
            return await centres.list_all(conn)
    finally:
        await engine.dispose()


def _line(centre: CentreRead) -> str:
    return "\t".join(
        [
            centre.id,
            centre.name,
            centre.org_number or "-",
            ",".join(centre.municipalities),
            centre.time_zone,
            f"sla {centre.red_claim_minutes}/{centre.red_resolve_minutes} min",
        ]
    )
