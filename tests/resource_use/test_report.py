"""``dho report``: one HTML file that parses, holds every chart as inline SVG, says how
the figures are computed, and names no one."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from service import cli
from service.resource_use import report_command
from service.resource_use.report import CHART_IDS
from service.resource_use.report_trend import CHART_IDS as TREND_IDS
from service.settings import Settings
from tests.resource_use.month import Month


class Outline(HTMLParser):
    """What the tests look for: svg ids, headings, table cells, external references."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[str] = []
        self.headings: list[str] = []
        self.cells: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self._open: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "svg":
            self.svgs.append(attributes.get("id") or "")
        if tag == "html":
            self.lang = attributes.get("lang") or ""
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            if attributes.get(name):
                self.links.append(str(attributes[name]))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] in ("h1", "h2"):
            self.headings.append(data.strip())
        if self._open and self._open[-1] in ("td", "th"):
            self.cells.append(data.strip())


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    parser.close()
    return parser


async def _report(settings: Settings, month: Month, lang: Any = "nb") -> str:
    return await report_command.build(
        settings, month.a.id, date(2026, 1, 1), date(2026, 1, 31), lang
    )


async def test_the_report_holds_every_chart_and_its_method(
    month: Month, settings: Settings
) -> None:
    html = await _report(settings, month)
    parsed = outline(html)
    assert parsed.lang == "nb"
    assert sorted(parsed.svgs) == sorted(CHART_IDS + TREND_IDS)
    assert {"Hovedtall", "Metode", "Forbehold", "Per kommune"} <= set(parsed.headings)
    # Self-contained: no script, no link to anything outside the file.
    assert parsed.scripts == 0
    assert parsed.links == []
    # Four patients: "<5", and so are the 93 active patient-days resting on them.
    assert "<5" in parsed.cells
    assert "93,0" not in parsed.cells
    assert "Sykepleierminutter per pasientmåned" in html


async def test_the_report_names_no_patient(month: Month, settings: Settings) -> None:
    html = await _report(settings, month)
    for patient in month.patients.values():
        assert patient.identity_number not in html
        assert patient.id not in html
    # Every test patient is "Kari Testesen" (tests/factories.py).
    for name in ("Kari", "Testesen"):
        assert name not in html
    assert not any(len(run) == 11 for run in _digit_runs(html)), "an 11-digit number"


def _digit_runs(text: str) -> list[str]:
    runs, current = [], ""
    for char in text:
        if char.isdigit():
            current += char
        elif current:
            runs.append(current)
            current = ""
    return [*runs, current] if current else runs


async def test_a_small_count_draws_no_bar(month: Month, settings: Settings) -> None:
    html = await _report(settings, month, "en")
    parsed = outline(html)
    assert parsed.lang == "en"
    assert "Method" in parsed.headings
    # Two home visits: the bar would show the count the "<5" hides.
    contacts = html.split('id="chart-contacts"')[1].split("</svg>")[0]
    bar = contacts.split(">Home visit</text>")[1].split("</text>")[0]
    assert "<rect" not in bar
    assert bar.endswith("&lt;5")
    # Five phone calls, but of four patients: no bar either.
    calls = contacts.split(">Phone call</text>")[1].split("</text>")[0]
    assert "<rect" not in calls


async def test_dho_report_writes_the_file(
    month: Month, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    out = tmp_path / "report.html"
    argv = ["report", "--centre", month.a.id, "--from", "2026-01-01", "--to", "2026-01-31"]
    code = await _in_thread(cli.main, [*argv, "--out", str(out), "--lang", "en"])
    assert code == 0
    written = out.read_text(encoding="utf-8")
    assert sorted(outline(written).svgs) == sorted(CHART_IDS + TREND_IDS)
    for patient in month.patients.values():
        assert patient.identity_number not in written
        assert patient.id not in written
    assert "Testesen" not in written
    missing = await _in_thread(
        cli.main, [*argv[:2], "no-such-centre", *argv[3:], "--out", str(out)]
    )
    assert missing == 2


async def _in_thread(function: Any, *args: Any) -> Any:
    """``dho report`` runs its own event loop: give it a thread, as the migrations."""
    import asyncio

    return await asyncio.to_thread(function, *args)


async def test_a_small_cohort_prints_no_patient_days(month: Month, settings: Settings) -> None:
    """Centre A's municipalities each have fewer than five patients: their rows in the
    report print no active patient-days (a count in disguise) and no rate."""
    html = await _report(settings, month, "en")
    tables = [t for t in html.split("<table>")[1:] if t.startswith("<thead><tr><th>Cohort")]
    assert tables, "no cohort table"
    for row in tables[0].split("</table>")[0].split("<tr>")[2:]:
        cells = [c.split("</td>")[0] for c in row.split('<td class="n">')[1:]]
        assert cells
        assert all(c in ("&lt;5", "0", "–") for c in cells), cells
