"""The report's one table shape: a header row, then rows whose first cells are words and
whose other cells are numbers (right-aligned, ``class="n"``). Every cell is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def table(head: Sequence[str], rows: Sequence[Sequence[str]], words: int = 1) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[:words])
        + "".join(f'<td class="n">{escape(cell)}</td>' for cell in row[words:])
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
