"""``dho cost-model load FILE.json``: set municipalities' prices from a file.

The file holds one model or a list of them, each as ``PUT /api/centres/{id}/cost-models/
{municipality}`` takes it plus ``centre`` and ``municipality``. All or nothing: one
refused model leaves every price as it was. The operator reaches every centre and is
audited as an admin (actor ``cli:<login>``). Exit status 0, or 2 when a model is
refused (the message names it and the field).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from service.settings import Settings


def add_arguments(commands: Any) -> None:
    parser = commands.add_parser("cost-model", help="set municipalities' prices in kroner")
    actions = parser.add_subparsers(dest="cost_model_command", required=True)
    load = actions.add_parser("load", help="load cost models from a JSON file")
    load.add_argument("file", type=Path, help="one model, or a list of models")


def run(settings: Settings, args: Any) -> int:
    from pydantic import TypeAdapter, ValidationError

    from service.cost_models.schemas import CostModelFile

    try:
        raw = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"refused: {args.file}: {error}", file=sys.stderr)
        return 2
    items = raw if isinstance(raw, list) else [raw]
    try:
        models = TypeAdapter(list[CostModelFile]).validate_python(items)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        print(f"refused: model {where}: {first['msg']}", file=sys.stderr)
        return 2
    from service.errors import ApiError

    try:
        count = asyncio.run(_load(settings, models))
    except ApiError as error:
        print(f"refused: {error.detail}", file=sys.stderr)
        return 2
    print(f"cost models set: {count}")
    return 0


async def _load(settings: Settings, models: list[Any]) -> int:
    from service.auth.principal import Principal, Role
    from service.cost_models import service as cost_models
    from service.cost_models.schemas import CostModelWrite
    from service.database import create_engine
    from service.models_base import utcnow

    operator = Principal(subject=f"cli:{getpass.getuser()}", role=Role.admin)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            for model in models:
                body = CostModelWrite.model_validate(
                    model.model_dump(exclude={"centre", "municipality"})
                )
                await cost_models.load(
                    conn, operator, model.centre, model.municipality, body, utcnow()
                )
    finally:
        await engine.dispose()
    return len(models)
