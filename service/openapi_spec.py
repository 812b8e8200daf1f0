"""Write or check ``openapi/openapi.json``: the API contract, generated from the code.

``check`` fails when the committed file differs from what the code generates, so a
change of an endpoint cannot land without its contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from service.app import create_app
from service.settings import Settings


def generate() -> dict[str, Any]:
    # No lifespan runs: building the schema needs no database and no keys.
    return create_app(Settings()).openapi()


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("write", "check"):
        print("usage: python -m service.openapi_spec write|check PATH", file=sys.stderr)
        return 2
    action, path = argv[0], Path(argv[1])
    text = render()
    if action == "write":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        print(f"{path} is stale: run `make openapi` and commit it", file=sys.stderr)
        return 1
    print(f"{path} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
