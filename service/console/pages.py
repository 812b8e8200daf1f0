"""Rendering: one Jinja2 environment for the console's templates, autoescaped.

A page template and the partial it includes for each piece that updates live (a
queue row, the item panel): a live update renders the same partial as the first
page load, so the markup has one source.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def environment(templates: Path = TEMPLATES) -> Environment:
    """One per folder of templates: the console's, the tablet's."""
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def html(
    template: str, context: dict[str, Any], status: int = 200, templates: Path = TEMPLATES
) -> HTMLResponse:
    body = environment(templates).get_template(template).render(**context)
    return HTMLResponse(body, status_code=status)
