"""The shared small-number rule: primary and secondary suppression."""

from service.resource_use.disclosure import HIDDEN, Cell, shown, suppress


def test_a_figure_derived_from_few_patients_is_hidden_whatever_its_name() -> None:
    table = suppress(
        [
            Cell("patient_years_before", (3,)),
            Cell("adherence_ratio", (40, 3)),
            Cell("zero_patients", (0,)),
            Cell("minutes", (12,)),
        ]
    )
    assert [c.hidden for c in table] == [True, True, False, False]
    assert shown("3.0", table[0]) == HIDDEN
    assert shown("0", table[2]) == "0"


def test_a_total_minus_its_printed_parts_cannot_give_a_hidden_part_back() -> None:
    parts = {"Nordby": 4, "Sørby": 6, "Vestby": 9}
    table = suppress([Cell(k, (v,), group="centre") for k, v in parts.items()])
    total = sum(parts.values())
    printed = sum(parts[c.key] for c in table if not c.hidden)
    hidden = [c.key for c in table if c.hidden]
    assert hidden == ["Nordby", "Sørby"]
    # The subtraction now yields the sum of two hidden parts, never one of them.
    assert total - printed == parts["Nordby"] + parts["Sørby"]
    assert all(total - printed != parts[k] for k in hidden)


def test_no_secondary_hiding_when_nothing_or_two_are_hidden() -> None:
    table = suppress(
        [Cell("a", (2,), group="g"), Cell("b", (3,), group="g"), Cell("c", (20,), group="g")]
    )
    assert [c.hidden for c in table] == [True, True, False]
    table = suppress([Cell("a", (12,), group="g"), Cell("b", (30,), group="g")])
    assert not any(c.hidden for c in table)
