"""``POST /api/v1/subjects`` on someone already known does what ``personvern subject add``
does: a birth date, kind or customer flag the engine lacked is recorded (and the answer
shows it), one that contradicts what is on record is a 409 with nothing changed, never
dropped in silence behind a 200."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from web.support import KARI, assert_problem


def shown(api: TestClient, ref: str = KARI) -> dict[str, Any]:
    r = api.get(f"/api/v1/subjects/{ref}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_known_person_gets_the_facts_it_lacked(any_api: TestClient) -> None:
    r = any_api.post("/api/v1/subjects", json={"email": KARI})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert (r.json()["birth_date"], r.json()["kind"], r.json()["existing_customer"]) == \
        (None, None, False)
    r = any_api.post("/api/v1/subjects", json={"email": KARI, "birth_date": "2010-05-01",
                                               "kind": "customer", "existing_customer": True})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == sid
    for body in (r.json(), shown(any_api)):
        assert (body["birth_date"], body["kind"], body["existing_customer"]) == \
            ("2010-05-01", "customer", True)
    # The same facts again: found, nothing to record.
    again = any_api.post("/api/v1/subjects", json={"email": KARI, "birth_date": "2010-05-01"})
    assert again.status_code == 200 and again.json() == r.json()


def test_a_contradicting_fact_is_409_and_nothing_is_stored(any_api: TestClient) -> None:
    assert any_api.post("/api/v1/subjects", json={
        "email": KARI, "birth_date": "2010-05-01", "kind": "customer"}).status_code == 201
    before = shown(any_api)
    # With a new identity and a missing flag in the same call: neither is kept either.
    r = any_api.post("/api/v1/subjects", json={
        "email": KARI, "phone": "+4791234567", "existing_customer": True,
        "birth_date": "2001-05-01"})
    body = assert_problem(r, 409, f"subject {before['id']} has birth date 2010-05-01 on "
                                  "record, not ")
    assert body["detail"].endswith("; nothing was changed")
    r = any_api.post("/api/v1/subjects", json={"email": KARI, "phone": "+4791234567",
                                               "birth_date": "2010-05-01", "kind": "employee"})
    assert_problem(r, 409, "has kind customer on record, not employee")
    assert shown(any_api) == before
    assert any_api.get("/api/v1/subjects/+4791234567").status_code == 404


def test_bad_facts_are_422_and_nothing_is_stored(any_api: TestClient) -> None:
    assert any_api.post("/api/v1/subjects", json={"email": KARI}).status_code == 201
    before = shown(any_api)
    for bad in ({"birth_date": "2099-01-01"}, {"birth_date": "1 May 2010"},
                {"existing_customer": "yes"}):
        assert_problem(any_api.post("/api/v1/subjects", json={"email": KARI, **bad}), 422)
    assert shown(any_api) == before
