"""/api/v1/ records: the policy and its versions, the record of processing, the breach register.

Bad input is refused with a clear problem and leaves nothing behind: an incomplete
manifest, a publish inside the notice period, unknown versions, a breach the controller
became aware of in the future, unknown breaches, a missing API key.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from factories import write_manifest
from personvern.settings import get_settings
from web.support import (
    T0,
    MovableClock,
    assert_problem,
    complete_manifest_dict,
    new_key,
    open_client,
)


@pytest.fixture
def moving() -> MovableClock:
    return MovableClock(T0)


@pytest.fixture
def rec(tmp_path: Path, sqlite_url: str, moving: MovableClock) -> Iterator[TestClient]:
    """A client with a key, on an app whose manifest is complete."""
    from personvern.web import create_app

    manifest = write_manifest(tmp_path, complete_manifest_dict())
    app = create_app(get_settings(manifest=manifest, database_url=sqlite_url), moving)
    with open_client(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        yield client


def versions(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/api/v1/policy/versions")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def breach_ids(client: TestClient) -> list[str]:
    r = client.get("/api/v1/breaches")
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()]


BREACH = {
    "title": "Lost laptop", "description": "A laptop with a customer export was stolen.",
    "risk": "high", "aware_at": "2027-03-01T10:00:00+01:00",
    "occurred_at": "2027-03-01T08:00:00+01:00", "data_categories": ["user.contact.email"],
    "subject_categories": ["customer"], "approx_subjects": 120, "approx_records": 120,
    "consequences": "Phishing e-mail", "measures": "Remote wipe", "nature": ["confidentiality"],
}


# ---- the policy --------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "fmt", "media", "marker"), [
    ("nb", "html", "text/html", '<html lang="nb">'),
    ("en", "html", "text/html", '<html lang="en">'),
    ("nb", "md", "text/markdown", "# "),
    ("en", "md", "text/markdown", "# "),
])
def test_policy_is_written_from_the_manifest(rec: TestClient, lang: str, fmt: str, media: str,
                                             marker: str) -> None:
    r = rec.get("/api/v1/policy", params={"lang": lang, "format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert marker in r.text
    assert "Leksehjelp" in r.text or "leksehjelp" in r.text.lower()


def test_incomplete_manifest_is_refused_listing_the_elements(api: TestClient) -> None:
    body = assert_problem(api.get("/api/v1/policy"), 422, "cannot be written")
    assert body["title"] == "Incomplete privacy policy"
    assert [m["element"] for m in body["missing"]] == ["recipients"]
    assert body["missing"][0]["path"] == "purposes[3].third_party_sharing"
    assert "GDPR Art. 13(1)(e)" in body["detail"]
    # Nor can it be published.
    r = api.post("/api/v1/policy/versions", json={"effective": "2027-04-01"})
    assert_problem(r, 422, "missing")
    assert versions(api) == []


def test_bad_policy_choices_are_422(rec: TestClient) -> None:
    assert_problem(rec.get("/api/v1/policy", params={"lang": "de"}), 422, "lang")
    assert_problem(rec.get("/api/v1/policy", params={"format": "pdf"}), 422, "format")


def test_publish_inside_the_notice_period_stores_nothing(rec: TestClient) -> None:
    for effective in ("2027-03-05", "2027-02-01", "2027-03-07T23:00:00+01:00"):
        r = rec.post("/api/v1/policy/versions", json={"effective": effective})
        assert_problem(r, 422, "earliest allowed")
    body = assert_problem(rec.post("/api/v1/policy/versions", json={"effective": "2027-03-05"}),
                          422, "7 days' notice")
    assert "2027-03-08" in body["detail"]
    assert versions(rec) == []


@pytest.mark.parametrize("body", [
    {}, {"effective": "soon"}, {"effective": "2027-03-09T00:00:00"},
    {"effective": "2027-04-01", "material": True}, {"effective": "0001-01-01T00:00:00+01:00"},
])
def test_publish_bad_body_is_422(rec: TestClient, body: dict[str, Any]) -> None:
    assert_problem(rec.post("/api/v1/policy/versions", json=body), 422)
    assert versions(rec) == []


def test_publish_then_read_versions_and_diff(rec: TestClient, moving: MovableClock) -> None:
    r = rec.post("/api/v1/policy/versions", json={"effective": "2027-03-08"})
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["number"] == 1 and v1["notices_queued"] == 0
    assert v1["effective_from"].startswith("2027-03-07T23:00")  # midnight in Oslo
    assert len(v1["content_sha256"]) == 64
    listed = versions(rec)
    assert [v["number"] for v in listed] == [1] and listed[0]["in_force"] is False
    moving.advance(days=8)
    assert versions(rec)[0]["in_force"] is True

    doc = rec.get("/api/v1/policy/versions/1", params={"lang": "en", "format": "md"})
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("text/markdown")
    assert doc.headers["policy-version"] == "1"
    html = rec.get("/api/v1/policy/versions/1")
    assert '<html lang="nb">' in html.text

    # The same manifest again: nothing to publish, nothing stored.
    assert_problem(rec.post("/api/v1/policy/versions", json={"effective": "2027-04-01"}),
                   409, "unchanged")
    assert len(versions(rec)) == 1

    d = rec.get("/api/v1/policy/diff", params={"a": "1", "b": "current"})
    assert d.status_code == 200, d.text
    assert d.json() == {"from": "1", "to": "current", "material": False, "changes": []}
    assert rec.get("/api/v1/policy/diff", params={"a": "1"}).json()["to"] == "current"


def test_unknown_versions_are_404(rec: TestClient) -> None:
    assert_problem(rec.get("/api/v1/policy/versions/1"), 404, "no version has been published")
    assert_problem(rec.get("/api/v1/policy/diff", params={"a": "1", "b": "current"}), 404,
                   "no policy version 1")
    rec.post("/api/v1/policy/versions", json={"effective": "2027-03-08"})
    assert_problem(rec.get("/api/v1/policy/diff", params={"a": "1", "b": "7"}), 404,
                   "versions 1 to 1 exist")
    assert_problem(rec.get("/api/v1/policy/versions/2"), 404, "no policy version 2")


@pytest.mark.parametrize("params", [{"a": "one"}, {"a": "0"}, {"a": "1", "b": "-2"}, {}])
def test_diff_bad_version_names_are_422(rec: TestClient, params: dict[str, str]) -> None:
    assert_problem(rec.get("/api/v1/policy/diff", params=params), 422)


# ---- the record of processing -------------------------------------------------------------

def test_ropa_in_every_format(rec: TestClient) -> None:
    r = rec.get("/api/v1/ropa", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4  # one per purpose
    html = rec.get("/api/v1/ropa", params={"lang": "en"})
    assert html.headers["content-type"].startswith("text/html") and 'lang="en"' in html.text
    ld = rec.get("/api/v1/ropa", params={"format": "jsonld"})
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert "@context" in json.loads(ld.text)


def test_ropa_bad_input(rec: TestClient) -> None:
    assert_problem(rec.get("/api/v1/ropa", params={"processor": "true"}), 404,
                   "no processor's record")
    assert_problem(rec.get("/api/v1/ropa", params={"format": "xml"}), 422, "format")
    assert_problem(rec.get("/api/v1/ropa", params={"lang": "sv"}), 422, "lang")


# ---- breaches ------------------------------------------------------------------------------

def test_breach_recorded_shown_with_deadline_and_time_left(rec: TestClient) -> None:
    r = rec.post("/api/v1/breaches", json=BREACH)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["id"] == "B-2027-001" and b["status"] == "awaiting_notice"
    assert b["deadline"] == "2027-03-04T09:00:00+00:00"
    assert b["time_left"] == "70 h 0 min left" and b["time_left_seconds"] == 70 * 3600
    assert b["subjects_must_be_told"] is True
    assert [u["kind"] for u in b["updates"]] == ["recorded"]
    assert b["nature"] == ["confidentiality"]
    shown = rec.get("/api/v1/breaches/b-2027-001").json()
    assert shown["id"] == "B-2027-001" and shown["deadline"] == b["deadline"]
    assert breach_ids(rec) == ["B-2027-001"]


def test_breach_aware_in_the_future_is_refused_and_not_stored(rec: TestClient) -> None:
    r = rec.post("/api/v1/breaches", json={**BREACH, "aware_at": "2027-03-01T13:00:00+01:00"})
    assert_problem(r, 422, "in the future")
    assert breach_ids(rec) == []


@pytest.mark.parametrize(("change", "detail"), [
    ({"aware_at": "2027-03-01T10:00:00"}, "aware_at"),  # no offset
    ({"risk": "catastrophic"}, "risk"),
    ({"title": ""}, "title"),
    ({"risk": "low"}, "reason"),  # no notice needs its reason
    ({"occurred_at": "2027-03-01T11:00:00+01:00"}, "after the controller became aware"),
    ({"data_categories": ["Not A Key"]}, "data category"),
    ({"countries": ["S1"]}, "two-letter"),
    ({"approx_subjects": -1}, "approx_subjects"),
    ({"severity": "bad"}, "severity"),
])
def test_breach_bad_input_stores_nothing(rec: TestClient, change: dict[str, Any],
                                         detail: str) -> None:
    assert_problem(rec.post("/api/v1/breaches", json={**BREACH, **change}), 422, detail)
    assert breach_ids(rec) == []


def test_unknown_breach_is_404(rec: TestClient) -> None:
    assert_problem(rec.get("/api/v1/breaches/B-2027-999"), 404, "no breach")
    assert_problem(rec.post("/api/v1/breaches/B-2027-999/updates",
                            json={"kind": "note", "text": "x"}), 404, "no breach")
    assert_problem(rec.post("/api/v1/breaches/B-2027-999/close"), 404, "no breach")
    assert_problem(rec.get("/api/v1/breaches/B-2027-999/report"), 404, "no breach")


def test_breach_notices_close_and_report(rec: TestClient, moving: MovableClock) -> None:
    bid = rec.post("/api/v1/breaches", json=BREACH).json()["id"]
    # Closing before the notices are given is refused, and changes nothing.
    assert_problem(rec.post(f"/api/v1/breaches/{bid}/close"), 422, "must be notified")
    assert_problem(rec.post(f"/api/v1/breaches/{bid}/updates",
                            json={"kind": "phase", "text": "more"}), 422, "first notice")
    moving.advance(hours=3)
    r = rec.post(f"/api/v1/breaches/{bid}/updates",
                 json={"kind": "authority_notice", "text": "Sent via Altinn"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "notified"
    assert_problem(rec.post(f"/api/v1/breaches/{bid}/updates",
                            json={"kind": "authority_notice", "text": "again"}), 409,
                   "was notified")
    assert_problem(rec.post(f"/api/v1/breaches/{bid}/close", json={}), 422, "high risk")
    rec.post(f"/api/v1/breaches/{bid}/updates",
             json={"kind": "subject_notice", "text": "Letter to everyone affected"})
    closed = rec.post(f"/api/v1/breaches/{bid}/close", json={"note": "Done"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert rec.get("/api/v1/breaches", params={"open": "true"}).json() == []
    assert len(rec.get("/api/v1/breaches", params={"open": "false"}).json()) == 1

    md = rec.get(f"/api/v1/breaches/{bid}/report")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "Lost laptop" in md.text
    html = rec.get(f"/api/v1/breaches/{bid}/report", params={"format": "html", "lang": "en"})
    assert html.headers["content-type"].startswith("text/html") and 'lang="en"' in html.text
    report = rec.get(f"/api/v1/breaches/{bid}/report", params={"format": "json"}).json()
    assert report["breach"] == bid and report["notice"]["type"] == "first"
    assert report["subjects_informed"]["informed"] is True
    assert_problem(rec.get(f"/api/v1/breaches/{bid}/report", params={"format": "pdf"}), 422)


def test_late_authority_notice_needs_a_reason(rec: TestClient, moving: MovableClock) -> None:
    bid = rec.post("/api/v1/breaches", json=BREACH).json()["id"]
    moving.advance(hours=80)
    assert rec.get(f"/api/v1/breaches/{bid}").json()["status"] == "overdue"
    assert_problem(rec.post(f"/api/v1/breaches/{bid}/updates",
                            json={"kind": "authority_notice", "text": "Sent"}), 422,
                   "reasons for the delay")
    r = rec.post(f"/api/v1/breaches/{bid}/updates",
                 json={"kind": "authority_notice", "text": "Sent", "late_reason": "Easter"})
    assert r.status_code == 201 and r.json()["late"] is True


# ---- the key --------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/policy"), ("GET", "/api/v1/policy/versions"),
    ("POST", "/api/v1/policy/versions"), ("GET", "/api/v1/policy/diff?a=1"),
    ("GET", "/api/v1/ropa"), ("GET", "/api/v1/breaches"), ("POST", "/api/v1/breaches"),
    ("GET", "/api/v1/breaches/B-2027-001"), ("POST", "/api/v1/breaches/B-2027-001/close"),
    ("GET", "/api/v1/breaches/B-2027-001/report"),
])
def test_missing_key_is_401(rec: TestClient, method: str, path: str) -> None:
    r = rec.request(method, path, headers={"Authorization": ""}, json=BREACH)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    wrong = rec.request(method, path, headers={"Authorization": "Bearer pv_wrong"}, json=BREACH)
    assert_problem(wrong, 401)
    assert breach_ids(rec) == []


# ---- scopes ---------------------------------------------------------------------------------

def test_only_policy_publish_publishes(rec: TestClient) -> None:
    def bearer(name: str, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {new_key(rec, name, scopes)}"}

    banner, reader = bearer("banner", "cookies:write"), bearer("site", "policy:read")
    publisher = bearer("privacy owner", "policy:publish")
    for who in (banner, reader):
        r = rec.post("/api/v1/policy/versions", json={"effective": "2027-03-08"}, headers=who)
        assert_problem(r, 403, "lacks the scope 'policy:publish'")
    assert versions(rec) == []
    assert_problem(rec.get("/api/v1/policy/versions", headers=publisher), 403, "policy:read")
    r = rec.post("/api/v1/policy/versions", json={"effective": "2027-03-08"}, headers=publisher)
    assert r.status_code == 201, r.text
    listed = rec.get("/api/v1/policy/versions", headers=reader).json()
    assert [v["number"] for v in listed] == [1]


def test_breaches_are_read_with_records_read_and_written_with_breach_write(
        rec: TestClient) -> None:
    def bearer(name: str, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {new_key(rec, name, scopes)}"}

    auditor, dpo = bearer("auditor", "records:read"), bearer("dpo", "breach:write")
    assert_problem(rec.post("/api/v1/breaches", json=BREACH, headers=auditor), 403,
                   "lacks the scope 'breach:write'")
    assert rec.get("/api/v1/breaches", headers=auditor).json() == []
    r = rec.post("/api/v1/breaches", json=BREACH, headers=dpo)
    assert r.status_code == 201, r.text
    assert_problem(rec.get("/api/v1/breaches", headers=dpo), 403, "lacks the scope 'records:read'")
    assert len(rec.get("/api/v1/breaches", headers=auditor).json()) == 1
    assert rec.get("/api/v1/ropa", headers=auditor).status_code == 200


# ---- cross-border (GDPR Art. 33(3), 56) ----------------------------------------------------

def test_art33_3_breach_cross_border_left_out_is_null_and_not_stated_in_the_report(
        rec: TestClient) -> None:
    """Art. 33(3), 56: a breach recorded without cross_border says "not stated", never "no"."""
    bid = rec.post("/api/v1/breaches", json=BREACH).json()["id"]
    assert rec.get(f"/api/v1/breaches/{bid}").json()["cross_border"] is None
    md = rec.get(f"/api/v1/breaches/{bid}/report", params={"lang": "en"}).text
    assert "| Cross-border | Not stated |" in md
    said_no = rec.post("/api/v1/breaches", json={**BREACH, "cross_border": False}).json()
    assert said_no["cross_border"] is False
    assert "| Cross-border | No |" in rec.get(f"/api/v1/breaches/{said_no['id']}/report",
                                              params={"lang": "en"}).text
    assert rec.post("/api/v1/breaches", json={**BREACH, "cross_border": True}
                    ).json()["cross_border"] is True


def test_art33_3_breach_cross_border_maybe_is_422_and_stores_nothing(rec: TestClient) -> None:
    """Art. 33(3): cross_border is true, false or left out; anything else is refused."""
    assert_problem(rec.post("/api/v1/breaches", json={**BREACH, "cross_border": "maybe"}),
                   422, "cross_border")
    assert breach_ids(rec) == []
