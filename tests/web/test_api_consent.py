"""The /api/v1/ consent API: subjects, events, decisions; bad input leaves the ledger alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from web.support import (
    KARI,
    OLA,
    T0,
    assert_problem,
    give,
    ledger_count,
    ledger_rows,
    make_app,
    new_key,
    open_client,
    runtime_of,
    subject,
)

CHILD_BIRTH = "2017-05-01"  # 9 on 2027-03-01, under Norway's 13
ADULT_BIRTH = "1990-01-01"


def test_subject_is_created_then_found_by_any_identity(any_api: TestClient) -> None:
    r = any_api.post("/api/v1/subjects", json={"email": " Kari.Nordmann@Example.NO ",
                                               "phone": "912 34 567", "external_id": "u-1"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert {(i["kind"], i["value"]) for i in created["identities"]} == {
        ("email", KARI), ("phone", "+4791234567"), ("external_id", "u-1")}
    again = any_api.post("/api/v1/subjects", json={"email": KARI})
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    for ref in (created["id"], KARI, "+4791234567", "ext:u-1"):
        shown = any_api.get(f"/api/v1/subjects/{ref}")
        assert shown.status_code == 200 and shown.json()["id"] == created["id"], ref


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({}, 422, "at least one identity"),
    ({"email": "kari"}, 422, "not an e-mail"),
    ({"phone": "12"}, 422, "not a phone number"),
    ({"email": KARI, "birth_date": "2030-01-01"}, 422, "in the future"),
    ({"email": KARI, "birth_date": "not a date"}, 422, "birth_date"),
    ({"email": KARI, "nickname": "Kari"}, 422, "nickname"),
    ({"email": 42}, 422, "email"),
])
def test_subject_bad_input(api: TestClient, body: dict[str, Any], status: int,
                           detail: str) -> None:
    assert_problem(api.post("/api/v1/subjects", json=body), status, detail)


def test_identities_of_two_subjects_conflict(api: TestClient) -> None:
    subject(api, KARI)
    subject(api, OLA, external_id="u-2")
    r = api.post("/api/v1/subjects", json={"email": KARI, "external_id": "u-2"})
    assert_problem(r, 409, "different subjects")


def test_validation_problem_lists_each_field(api: TestClient) -> None:
    r = api.post("/api/v1/consents", json={"subject": "", "type": "consent_maybe"})
    body = assert_problem(r, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"body.subject", "body.purpose", "body.type"} <= fields
    assert all(e["message"] for e in body["errors"])


def test_unknown_subject_is_404(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/subjects/nobody@example.no"), 404, "no subject")
    assert_problem(api.post("/api/v1/subjects/0123/activity"), 404, "no subject")


def test_activity_is_recorded_at_the_clock(api: TestClient) -> None:
    sid = subject(api)
    r = api.post(f"/api/v1/subjects/{sid}/activity")
    assert r.status_code == 200, r.text
    assert r.json()["last_activity"] == "2027-03-01T11:00:00Z"
    assert api.get(f"/api/v1/subjects/{sid}").json()["last_activity"] == "2027-03-01T11:00:00Z"


def test_guardian_link(api: TestClient) -> None:
    child = subject(api, "barn@example.no", birth_date=CHILD_BIRTH)
    parent = subject(api, OLA)
    body = {"guardian_id": parent, "verified_by": "BankID"}
    first = api.post(f"/api/v1/subjects/{child}/guardians", json=body)
    assert first.status_code == 201 and first.json()["verified_by"] == "BankID"
    assert api.post(f"/api/v1/subjects/{child}/guardians", json=body).status_code == 200
    assert api.get(f"/api/v1/subjects/{child}").json()["guardians"] == [parent]
    assert_problem(api.post(f"/api/v1/subjects/{child}/guardians",
                            json={"guardian_id": "nobody@example.no"}), 404)
    assert_problem(api.post(f"/api/v1/subjects/{child}/guardians",
                            json={"guardian_id": child}), 422, "own guardian")
    # No birth date: no link, since nothing could end the guardian's standing at 18.
    ageless = subject(api, "uten.alder@example.no")
    assert_problem(api.post(f"/api/v1/subjects/{ageless}/guardians", json=body), 422,
                   "birth date first")
    assert api.get(f"/api/v1/subjects/{ageless}").json()["guardians"] == []


def test_consent_given_withdrawn_and_decided(any_api: TestClient) -> None:
    sid = subject(any_api)
    q = {"subject": sid, "purpose": "newsletter"}
    assert any_api.get("/api/v1/decisions", params=q).json()["code"] == "no_consent"
    r = give(any_api, sid)
    assert r.status_code == 201, r.text
    event = r.json()
    assert (event["type"], event["actor"], event["channel"]) == ("consent_given", "self", "api")
    assert event["policy_version"] == runtime_of(any_api).consent.policy_version
    decision = any_api.get("/api/v1/decisions", params=q).json()
    assert decision["allowed"] is True and decision["basis"] == "consent"
    assert decision["reason"].startswith("consent given 2027-03-01 via api")
    w = any_api.post("/api/v1/consents", json={**q, "type": "consent_withdrawn",
                                                "channel": "portal"})
    assert w.status_code == 201, w.text
    assert w.json()["prev_hash"] == event["hash"]
    after = any_api.post("/api/v1/decisions", json=q).json()
    assert after["allowed"] is False and after["code"] == "consent_withdrawn"
    assert "withdrawn 2027-03-01 via portal" in after["reason"]


def test_subject_consents_list_decisions_and_events(api: TestClient) -> None:
    sid = subject(api)
    give(api, sid)
    r = api.post("/api/v1/consents", json={"subject": KARI, "purpose": "analytics",
                                            "type": "objection_raised"})
    assert r.status_code == 201, r.text
    data = api.get(f"/api/v1/subjects/{KARI}/consents").json()
    assert data["subject_id"] == sid
    by = {p["purpose"]: p for p in data["purposes"]}
    assert set(by) == {"account", "newsletter", "analytics", "partners"}
    assert by["account"]["allowed"] and by["newsletter"]["allowed"]
    assert not by["analytics"]["allowed"] and by["analytics"]["code"] == "objected"
    assert [e["type"] for e in by["newsletter"]["events"]] == ["consent_given"]
    assert by["partners"]["events"] == [] and data["other_events"] == []


def test_evidence_keeps_ip_and_user_agent_only_as_keyed_hashes(api: TestClient) -> None:
    from personvern.consent.ledger import evidence_of

    sid = subject(api)
    r = give(api, sid, evidence={"text_shown": "Vil du ha nyhetsbrev?", "ip": "203.0.113.7",
                                 "user_agent": "Mozilla/5.0 (Testing)", "form": "signup"})
    assert r.status_code == 201, r.text
    r2 = give(api, sid, purpose="partners")
    assert r2.status_code == 201
    with runtime_of(api).transaction() as s:
        stored = evidence_of(s, r.json()["seq"])
        from_request = evidence_of(s, r2.json()["seq"])
    assert stored is not None and from_request is not None
    text = json.dumps(stored)
    assert "203.0.113.7" not in text and "Mozilla" not in text
    assert stored["text_shown"] == "Vil du ha nyhetsbrev?" and stored["form"] == "signup"
    for name in ("ip_hash", "user_agent_hash"):
        assert stored[name]["alg"] == "hmac-sha256" and len(stored[name]["digest"]) == 64
        assert stored[name]["source"] == "given"
        assert from_request[name]["source"] == "connection"
    # Without them in the body, the request's own connection is hashed instead.
    assert "ip_hash" in from_request and "user_agent_hash" in from_request
    assert "testclient" not in json.dumps(from_request)
    # Salted: the same address hashes differently in two events.
    again = give(api, sid, evidence={"ip": "203.0.113.7"})
    with runtime_of(api).transaction() as s:
        third = evidence_of(s, again.json()["seq"])
    assert third is not None and third["ip_hash"]["digest"] != stored["ip_hash"]["digest"]


def test_the_server_sets_the_hash_fields(api: TestClient) -> None:
    sid = subject(api)
    before = ledger_count(api)
    assert_problem(give(api, sid, evidence={"ip_hash": "forged"}), 422, "set by the server")
    assert_problem(give(api, sid, evidence={"ip": "not-an-ip"}), 422, "not an IP address")
    assert ledger_count(api) == before


def test_replayed_event_returns_the_stored_one(any_api: TestClient) -> None:
    sid = subject(any_api)
    first = give(any_api, sid, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    rows = ledger_rows(any_api)
    replay = give(any_api, sid, headers={"Idempotency-Key": "k-1"})
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert ledger_rows(any_api) == rows


# ---- every bad input: a clear 4xx problem, and the ledger exactly as it was ----------------

@pytest.fixture
def family(api: TestClient) -> dict[str, str]:
    """An adult with one consent already in the ledger, a child with a guardian, a stranger."""
    people = {
        "adult": subject(api, KARI, birth_date=ADULT_BIRTH),
        "child": subject(api, "barn@example.no", birth_date=CHILD_BIRTH),
        "parent": subject(api, OLA, birth_date="1985-02-03"),
        "stranger": subject(api, "fremmed@example.no", birth_date="1980-01-01"),
    }
    for child in ("child", "adult"):
        r = api.post(f"/api/v1/subjects/{people[child]}/guardians",
                     json={"guardian_id": people["parent"]})
        assert r.status_code == 201
    assert give(api, people["adult"], headers={"Idempotency-Key": "used"}).status_code == 201
    return people


def _consent(who: str, **kw: Any) -> dict[str, Any]:
    return {"subject": who, "purpose": "newsletter", "type": "consent_given", **kw}


BAD_EVENTS: list[tuple[str, Any, int, str]] = [
    ("unknown subject", lambda p: _consent("nobody@example.no"), 404, "no subject"),
    ("unknown purpose", lambda p: _consent(p["adult"], purpose="lottery"), 404,
     "unknown purpose"),
    ("withdraw with none given", lambda p: _consent(p["parent"], type="consent_withdrawn"), 422,
     "no consent to withdraw"),
    ("guardian of someone else's child",
     lambda p: _consent(p["child"], actor="guardian", actor_subject_id=p["stranger"]), 403,
     "not a guardian"),
    ("guardian for an adult",
     lambda p: _consent(p["adult"], actor="guardian", actor_subject_id=p["parent"]), 422,
     "old enough"),
    ("guardian who does not exist",
     lambda p: _consent(p["child"], actor="guardian", actor_subject_id="ghost@example.no"), 404,
     "no subject"),
    ("child under 13 alone", lambda p: _consent(p["child"]), 422, "guardian must give"),
    ("consent to a contract purpose", lambda p: _consent(p["adult"], purpose="account"), 422,
     "not consent"),
    ("an event type the API does not take",
     lambda p: _consent(p["adult"], type="consent_expired"), 422, "type"),
    ("an unknown actor", lambda p: _consent(p["adult"], actor="robot"), 422, "actor"),
    ("an unknown field", lambda p: _consent(p["adult"], note="hei"), 422, "note"),
]


@pytest.mark.parametrize(("case", "body", "status", "detail"), BAD_EVENTS,
                         ids=[c[0] for c in BAD_EVENTS])
def test_bad_event_is_refused_and_ledger_unchanged(
    api: TestClient, family: dict[str, str], case: str, body: Any, status: int, detail: str
) -> None:
    rows = ledger_rows(api)
    assert_problem(api.post("/api/v1/consents", json=body(family)), status, detail)
    assert ledger_rows(api) == rows


def test_conflicting_reuse_of_an_idempotency_key(api: TestClient, family: dict[str, str]) -> None:
    rows = ledger_rows(api)
    r = api.post("/api/v1/consents", headers={"Idempotency-Key": "used"},
                 json=_consent(family["adult"], purpose="partners"))
    assert_problem(r, 409, "already used")
    too_long = api.post("/api/v1/consents", headers={"Idempotency-Key": "x" * 201},
                        json=_consent(family["adult"]))
    assert_problem(too_long, 422, "idempotency-key")
    assert ledger_rows(api) == rows


@pytest.mark.parametrize(("raw", "content_type", "status"), [
    (b'{"subject": "x", "purpose": ', "application/json", 400),
    (b"\xff\xfe not utf-8", "application/json", 400),
    (b"[1, 2, 3]", "application/json", 422),
    (b"subject=x&purpose=y", "application/x-www-form-urlencoded", 422),
])
def test_malformed_bodies(api: TestClient, family: dict[str, str], raw: bytes,
                          content_type: str, status: int) -> None:
    rows = ledger_rows(api)
    r = api.post("/api/v1/consents", content=raw, headers={"Content-Type": content_type})
    assert_problem(r, status)
    assert ledger_rows(api) == rows


def test_oversized_body_is_refused_before_parsing(api: TestClient, family: dict[str, str]) -> None:
    rows = ledger_rows(api)
    body = _consent(family["adult"], evidence={"text_shown": "x" * 70_000})
    assert_problem(api.post("/api/v1/consents", json=body), 413, "larger than 65536")

    def chunks() -> Any:  # no Content-Length: the limit counts what arrives
        yield b'{"subject": "' + family["adult"].encode() + b'", "evidence": {"text_shown": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}}'

    r = api.post("/api/v1/consents", content=chunks(),
                 headers={"Content-Type": "application/json"})
    assert_problem(r, 413)
    assert ledger_rows(api) == rows


@pytest.mark.parametrize("authorization", [
    None, "Bearer", "Bearer pv_wrong_key_000000000000000000", "Basic a2FyaTpoZW1tZWxpZw==",
    "pv_no_scheme",
])
def test_missing_or_wrong_key(api: TestClient, family: dict[str, str],
                              authorization: str | None) -> None:
    rows = ledger_rows(api)
    headers = {"Authorization": authorization} if authorization else {}
    client_headers = dict(api.headers)
    api.headers.pop("Authorization")
    try:
        r = api.post("/api/v1/consents", json=_consent(family["parent"]), headers=headers)
    finally:
        api.headers.update(client_headers)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert ledger_rows(api) == rows


def test_revoked_key_stops_working_at_once(api: TestClient, family: dict[str, str]) -> None:
    from personvern.apikeys import revoke_key

    token = new_key(api, "to be revoked")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/api/v1/subjects/{family['adult']}", headers=headers).status_code == 200
    rt = runtime_of(api)
    with rt.transaction() as s:
        revoke_key(s, rt.clock, token[:12])
    rows = ledger_rows(api)
    r = api.post("/api/v1/consents", json=_consent(family["parent"]), headers=headers)
    assert_problem(r, 401, "revoked")
    assert_problem(api.get("/api/v1/decisions", headers=headers,
                           params={"subject": family["adult"], "purpose": "newsletter"}), 401)
    assert ledger_rows(api) == rows


def test_guardian_consents_for_their_child(api: TestClient, family: dict[str, str]) -> None:
    q = {"subject": family["child"], "purpose": "newsletter"}
    r = api.post("/api/v1/consents", json=_consent(family["child"], actor="guardian",
                                                    actor_subject_id=OLA))
    assert r.status_code == 201, r.text
    assert r.json()["actor_subject_id"] == family["parent"]
    decision = api.get("/api/v1/decisions", params=q).json()
    assert decision["allowed"] and "by a guardian" in decision["reason"]
    # The child may always withdraw.
    w = api.post("/api/v1/consents", json=_consent(family["child"], type="consent_withdrawn"))
    assert w.status_code == 201, w.text
    assert not api.get("/api/v1/decisions", params=q).json()["allowed"]


# ---- decisions and Global Privacy Control -------------------------------------------------

@pytest.mark.parametrize(("value", "honoured"), [
    ("1", True), ("0", False), ("true", False), ("yes", False), ("11", False), ("1, 1", False),
    ("", False), (None, False),
])
def test_sec_gpc_is_honoured_only_for_exactly_1(api: TestClient, value: str | None,
                                                honoured: bool) -> None:
    sid = subject(api)
    give(api, sid)
    give(api, sid, purpose="partners")
    headers = {} if value is None else {"Sec-GPC": value}
    for purpose in ("newsletter", "partners"):
        d = api.get("/api/v1/decisions", headers=headers,
                    params={"subject": sid, "purpose": purpose}).json()
        assert d["gpc"] is honoured
        assert d["allowed"] is not honoured, d
        assert (d["code"] == "gpc") is honoured
    # GPC is about marketing and sharing: the contract goes on.
    account = api.post("/api/v1/decisions", headers=headers,
                       json={"subject": sid, "purpose": "account"}).json()
    assert account["allowed"] is True


def test_decision_bad_input(api: TestClient) -> None:
    sid = subject(api)
    assert_problem(api.get("/api/v1/decisions", params={"subject": sid}), 422, "purpose")
    assert_problem(api.get("/api/v1/decisions", params={"subject": sid, "purpose": "nope"}),
                   404, "unknown purpose")
    assert_problem(api.get("/api/v1/decisions",
                           params={"subject": "nobody@example.no", "purpose": "newsletter"}),
                   404, "no subject")
    assert_problem(api.post("/api/v1/decisions", json={"subject": sid}), 422, "purpose")


def test_a_configured_evidence_key_lets_a_claimed_address_be_checked(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac

    from personvern.consent.ledger import evidence_of

    monkeypatch.setenv("PERSONVERN_EVIDENCE_KEY", "a long random secret from the vault")
    with open_client(make_app(tmp_path, sqlite_url, lambda: T0)) as client:
        client.headers["Authorization"] = f"Bearer {new_key(client)}"
        sid = subject(client)
        seq = give(client, sid, evidence={"ip": "2001:db8::7"}).json()["seq"]
        with runtime_of(client).transaction() as s:
            proof = evidence_of(s, seq)
    assert proof is not None
    salt = bytes.fromhex(proof["ip_hash"]["salt"])

    def digest(ip: str) -> str:
        return hmac.new(b"a long random secret from the vault", salt + ip.encode(),
                        hashlib.sha256).hexdigest()

    assert proof["ip_hash"]["digest"] == digest("2001:db8::7")
    assert proof["ip_hash"]["digest"] != digest("2001:db8::8")


@pytest.mark.parametrize(("call", "sent"), [
    (lambda api: api.get("/api/v1/subjects/Nobody.Here@Example.no"), "Nobody.Here@Example.no"),
    (lambda api: api.post("/api/v1/subjects", json={"email": "kari.nordmann@@example.no"}),
     "kari.nordmann@@example.no"),
    (lambda api: api.post("/api/v1/subjects", json={"phone": "+47 12"}), "+47 12"),
    (lambda api: api.get("/api/v1/requests", params={"subject": "ext:998877"}), "998877"),
    (lambda api: api.post("/api/v1/subjects", json={"email": KARI, "external_id": "u-77"}),
     None),
])
def test_an_error_never_repeats_what_was_sent(api: TestClient, call: Any,
                                              sent: str | None) -> None:
    """docs/api.md: inputs are never echoed back (they may be personal data)."""
    if sent is None:  # a conflict between two people names neither of their identities
        subject(api, KARI)
        subject(api, OLA, external_id="u-77")
        sent = KARI
    r = call(api)
    assert r.status_code >= 400, r.text
    for form in (sent, sent.casefold(), sent.replace(" ", "")):
        assert form not in r.text, r.text
    assert r.json()["detail"]


# ---- a well-formed write takes a short way past FastAPI's handler (api_v1._ConsentWriteRoute);
# everything else must be judged exactly as FastAPI judges it -------------------------------

@pytest.mark.parametrize(("content_type", "raw", "key", "status"), [
    ("application/json; charset=utf-8", b'{"subject": "%s", "purpose": "newsletter", '
     b'"type": "consent_given"}', True, 201),
    ("application/merge-patch+json", b'{"subject": "%s", "purpose": "newsletter", '
     b'"type": "consent_given"}', True, 201),
    (None, b'{"subject": "%s", "purpose": "newsletter", "type": "consent_given"}', True, 422),
    ("application/json", b"", True, 422),
    # The body is read before the key is checked: malformed JSON is a 400 without a key too.
    ("application/json", b'{"subject": "%s", ', False, 400),
    ("application/json", b'{"subject": "%s", "purpose": "newsletter", "type": "consent_given", '
     b'"unknown": 1}', False, 401),
    ("application/json", b'{"subject": "%s", "purpose": "newsletter", "type": "consent_given"}',
     False, 401),
])
def test_a_write_is_judged_alike_however_it_is_framed(
    api: TestClient, family: dict[str, str], content_type: str | None, raw: bytes, key: bool,
    status: int,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    token = api.headers.pop("Authorization")
    if key:
        headers["Authorization"] = token
    try:
        r = api.post("/api/v1/consents", content=raw.replace(b"%s", family["stranger"].encode()),
                     headers=headers)
    finally:
        api.headers["Authorization"] = token
    if status == 201:
        assert r.status_code == 201, r.text
        assert r.json()["subject_id"] == family["stranger"]
    else:
        assert_problem(r, status)


def test_the_short_way_checks_the_key_scope_and_header_as_the_route_declares(
    api: TestClient, family: dict[str, str]
) -> None:
    rows = ledger_rows(api)
    reader = new_key(api, "reader", scopes=("decisions:read",))
    body = _consent(family["stranger"])
    r = api.post("/api/v1/consents", json=body, headers={"Authorization": f"Bearer {reader}"})
    assert_problem(r, 403, "consent:write")
    for bad in ("", "x" * 201):
        assert_problem(api.post("/api/v1/consents", json=body,
                                headers={"Idempotency-Key": bad}), 422, "idempotency-key")
    assert ledger_rows(api) == rows
    first = api.post("/api/v1/consents", json=body, headers={"Idempotency-Key": "k" * 200})
    again = api.post("/api/v1/consents", json=body, headers={"Idempotency-Key": "k" * 200})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_evidence_with_a_number_json_has_not_is_a_422(api: TestClient, family: dict[str, str],
                                                      number: bytes) -> None:
    """Python's JSON decoder reads NaN and Infinity (and 1e400 as infinity); the ledger's
    canonical JSON has no such numbers: a 422, not a 500, and nothing appended."""
    rows = ledger_rows(api)
    raw = (b'{"subject": "%s", "purpose": "newsletter", "type": "consent_given", '
           b'"evidence": {"score": %s}}') % (family["stranger"].encode(), number)
    r = api.post("/api/v1/consents", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(r, 422, "finite numbers")
    assert ledger_rows(api) == rows
