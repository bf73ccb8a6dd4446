"""Durations and texts, the small values every manifest section is built from."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.manifest.types import Duration, Text


@pytest.mark.parametrize(("text", "expected"), [
    ("2 years", Duration(years=2)),
    ("6 mnd", Duration(months=6)),
    ("3 years 6 months", Duration(years=3, months=6)),
    ("14 dager", Duration(days=14)),
    ("2 weeks", Duration(days=14)),
    ("P1Y6M", Duration(years=1, months=6)),
    ("P14D", Duration(days=14)),
    ("unlimited", Duration(unlimited=True)),
    ("5 år", Duration(years=5)),
])
def test_duration_parses(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("-1 year", "negative"),
    ("2", "not a duration"),
    ("2 parsecs", "unknown unit 'parsecs'"),
    ("", "not a duration"),
    ("two years", "not a duration"),
])
def test_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Duration.parse(text)


@given(st.integers(0, 50), st.integers(0, 11), st.integers(0, 400))
def test_duration_round_trips(years: int, months: int, days: int) -> None:
    d = Duration(years, months, days)
    assert Duration.parse(str(d)) == d


def test_text_plain_is_neutral_and_dict_is_per_language() -> None:
    plain = Text.model_validate("Stripe")
    assert plain.neutral and plain.get("nb") == plain.get("en") == "Stripe"
    both = Text.model_validate({"nb": "Kunde", "en": "Customer"})
    assert both.get("nb") == "Kunde" and both.get("en") == "Customer" and not both.neutral
    only_nb = Text.model_validate({"nb": "Kunde"})
    assert only_nb.get("en") == "Kunde" and not only_nb.has("en")
