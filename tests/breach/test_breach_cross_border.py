"""GDPR Art. 33(3), 56: cross-border is yes, no or not stated; a left-out answer is never "no".

Whether people in other EEA countries are affected decides which supervisory authority
leads (Art. 56); the report to Datatilsynet must not say "no" when nobody said so.
"""

from __future__ import annotations

import json

import pytest

from breach.support import T0, ok, run

RECORD = ("breach", "record", "--title", "Lost laptop", "--description", "A laptop was stolen",
          "--risk", "high", "--aware-at", "2027-03-01T09:00:00+01:00")


def _report(opts: list[str], lang: str, fmt: str) -> str:
    result = run(opts, "breach", "report", "B-2027-001", "--format", fmt, "--lang", lang,
                 "--now", T0)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_art33_3_cross_border_left_out_is_not_stated_not_no(opts: list[str]) -> None:
    """Art. 33(3), 56: leaving out --cross-border stores nothing and every view says so."""
    view = ok(opts, *RECORD, "--now", T0)
    assert view["cross_border"] is None
    assert "| Cross-border | Not stated |" in _report(opts, "en", "md")
    assert "| Grenseoverskridende | Ikke oppgitt |" in _report(opts, "nb", "md")
    assert json.loads(_report(opts, "en", "json"))["cross_border"]["cross_border"] is None
    shown = run(opts, "breach", "show", "B-2027-001", "--now", T0).stdout
    assert "cross-border: not stated (GDPR Art. 33(3), 56)" in shown


@pytest.mark.parametrize(("given", "json_value", "md"), [
    ("yes", True, "| Cross-border | Yes |"), ("no", False, "| Cross-border | No |")])
def test_art33_3_cross_border_stated_is_reported_as_stated(
        opts: list[str], given: str, json_value: bool, md: str) -> None:
    """Art. 33(3): an answer given is kept and reported as given."""
    view = ok(opts, *RECORD, "--cross-border", given, "--now", T0)
    assert view["cross_border"] is json_value
    assert md in _report(opts, "en", "md")
    shown = run(opts, "breach", "show", "B-2027-001", "--now", T0).stdout
    assert f"cross-border: {given}" in shown


def test_art33_3_countries_given_means_cross_border(opts: list[str]) -> None:
    """Art. 33(3): naming an affected country answers the question."""
    view = ok(opts, *RECORD, "--country", "SE", "--now", T0)
    assert view["cross_border"] is True and view["countries"] == ["SE"]


def test_art33_3_cross_border_maybe_is_refused_and_nothing_stored(opts: list[str]) -> None:
    """Art. 33(3): an answer that is neither yes nor no is a usage error, nothing is stored."""
    result = run(opts, *RECORD, "--cross-border", "maybe", "--now", T0)
    assert result.exit_code == 2
    assert "--cross-border" in result.output and "'maybe' is not one of" in result.output
    assert "yes" in result.output and "no" in result.output
    assert run(opts, "breach", "list", "--json").stdout.strip() == "[]"


def test_breach_show_starts_every_value_in_one_column(opts: list[str]) -> None:
    """`breach show`'s labelled lines line up: the cross-border line is no wider than the
    others, closed included, so a reader scans one column of answers."""
    ok(opts, *RECORD, "--now", T0)
    ok(opts, "breach", "notify", "B-2027-001", "--authority", "--text", "Sent via Altinn",
       "--now", "2027-03-02T10:00:00+01:00")
    ok(opts, "breach", "close", "B-2027-001", "--subjects-exemption",
       "The data was encrypted (Art. 34(3)(a))", "--now", "2027-03-10T12:00:00+01:00")
    shown = run(opts, "breach", "show", "B-2027-001", "--now", T0).stdout.splitlines()
    labelled = [line for line in shown[1:] if not line.startswith(" ")]
    assert [line.split(":", 1)[0] for line in labelled] == [
        "status", "aware", "deadline", "authority", "people", "cross-border", "closed"]
    columns = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in labelled}
    assert columns == {len("cross-border: ")}
