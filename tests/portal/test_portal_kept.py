"""The erasure form says what an erasure keeps, and says "the law requires it" only when a
statute is the reason for all of it (GDPR Art. 17(3)(b); Art. 12(1): clear and true)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from personvern.manifest.loader import load_manifest
from personvern.web.portal_core import kept_by_law_alone, kept_on_erasure
from portal.support import KARI, new_subject, sign_in
from web.support import T0, MovableClock, api_manifest_dict, get_settings, write_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def kept(name: str) -> list[dict[str, object]]:
    """What the example service's erasure keeps, in English."""
    return kept_on_erasure(load_manifest(EXAMPLES / f"{name}.yaml").manifest, "en")


def test_rows_a_statute_holds_are_kept_by_law() -> None:
    rows = kept("snapmentor")
    assert [(k["what"], k["why"], k["by_law"]) for k in rows] == [
        ("purchases", "regnskapslovgivningen", True), ("invoices", "regnskapslovgivningen", True)]
    assert kept_by_law_alone(rows)


def test_a_hold_without_a_statute_is_not_called_the_law() -> None:
    """Lillemini's orders are held by a rule that names no statute: the reason shown is
    the purpose, and the form may not say the law requires it."""
    rows = kept("lillemini")
    assert [(k["what"], k["by_law"]) for k in rows] == [("orders", False)]
    assert not kept_by_law_alone(rows)


def test_a_personal_column_the_map_keeps_is_listed_without_an_end() -> None:
    """Min Mentor keeps the companies table whole (erase: keep, no hold): the
    organisation number (a workplace, personal data of the person it places) stays, and
    no retention rule says until when."""
    rows = kept("minmentor")
    assert [(k["what"], k["by_law"], k["until"]) for k in rows] == [
        ("companies.orgnr", False, "No end is stated")]


def _service(tmp_path: Path, tables: list[dict[str, object]]) -> dict[str, object]:
    data = api_manifest_dict()
    data["retention"] = [*data["retention"],
                         {"id": "ledger_5y", "trigger": "fiscal_year_end",
                          "duration": "5 years", "statute": "bokføringsloven § 13"}]
    data["datasets"] = [{"id": "app", "kind": "sql", "url": f"sqlite:///{tmp_path}/app.db",
                         "tables": tables}]
    return data


USERS = {"name": "users", "columns": [{"name": "email", "identity": "email",
                                       "categories": ["user.contact.email"]}]}


@pytest.mark.parametrize(("tables", "intro", "rows"), [
    ([USERS], "When you delete the account, we erase the data about you.</p>", []),
    ([USERS, {"name": "sales", "hold": "ledger_5y",
              "references": [{"column": "user_id", "to": "users.id"}]}],
     "Some of it we must still keep for a while because the law requires it:",
     ["sales"]),
    ([{**USERS, "erase": "mask",
       "columns": [*USERS["columns"],  # type: ignore[list-item]
                   {"name": "nickname", "categories": ["user.name"], "erase": "keep"}]},
      {"name": "sales", "hold": "ledger_5y",
       "references": [{"column": "user_id", "to": "users.id"}]}],
     "we erase the data about you, except what is listed here", ["sales", "users.nickname"]),
])
def test_the_form_says_the_law_requires_it_only_when_it_does(
        tmp_path: Path, sqlite_url: str, tables: list[dict[str, object]], intro: str,
        rows: list[str]) -> None:
    from personvern.web import create_app

    manifest = write_manifest(tmp_path, _service(tmp_path, tables))
    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url,
                                  public_url="http://127.0.0.1"), MovableClock(T0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        new_subject(client, KARI)
        sign_in(client, KARI)
        page = client.get("/portal/delete?lang=en").text
    assert intro in page, page
    assert [r for r in ("sales", "users.nickname") if f"<td>{r}</td>" in page] == rows
    if not rows:
        assert "Once the erasure is done we keep none of it." in page
    if "users.nickname" in rows:
        assert "The service has chosen not to erase this" in page
