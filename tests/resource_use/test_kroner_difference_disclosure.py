"""A kroner line's difference is its after minus its before: shown beside one side shown
while the other is hidden, it would give the hidden side back (after = before +
difference). Seen in the demo: a protocol's legevakt "after" hidden by the complementary
rule, its "before" and its difference printed."""

from __future__ import annotations

from service.resource_use.disclosure import Cell, _within


def _line(before: bool, after: bool, difference: bool) -> list[Cell]:
    path = "kroner.lines.emergency_primary_care_contacts"
    return [
        Cell("protocol", "heart_failure", f"{path}.before", 2880.0, before),
        Cell("protocol", "heart_failure", f"{path}.after", 0.0, after),
        Cell("protocol", "heart_failure", f"{path}.difference", -2880.0, difference),
    ]


def _hidden(cells: list[Cell]) -> set[str]:
    return {c.place for c in cells if c.hidden}


def test_a_difference_beside_one_hidden_side_is_hidden() -> None:
    cells = _line(before=False, after=True, difference=False)
    found = _within(cells, _hidden(cells))
    assert found == {cells[2].place}
    cells = _line(before=True, after=False, difference=False)
    assert _within(cells, _hidden(cells)) == {cells[2].place}


def test_a_difference_stays_where_both_sides_show_or_both_are_hidden() -> None:
    for before, after in ((False, False), (True, True)):
        cells = _line(before=before, after=after, difference=False)
        assert _within(cells, _hidden(cells)) == set()
