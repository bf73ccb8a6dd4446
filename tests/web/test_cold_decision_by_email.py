"""A cold decision by e-mail (the person's cached decisions just dropped, as after a
consent write) is one statement: the person found by the address and read at once. The
same answer, byte for byte, and the same errors as the lookup then the load."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from web.support import KARI, assert_problem, give, runtime_of, subject
from web.test_decisions_by_reference import ASK, _statements


def _cold(api: TestClient, params: dict[str, str]) -> tuple[Any, int]:
    """The decision for ``params`` with every cached decision dropped first, and how many
    statements it sent."""
    runtime_of(api).consent.cache.clear()
    return _statements(api, lambda: api.get("/api/v1/decisions", params=params))


def test_a_cold_decision_by_email_is_one_statement_and_the_same_answer(any_api: TestClient
                                                                       ) -> None:
    rt = runtime_of(any_api)
    # Neither the key's nor the decisions' own time bound runs out meanwhile.
    rt.keys.ttl = rt.consent.cache.max_staleness = 3600.0
    sid = subject(any_api, external_id="user-1")
    assert give(any_api, sid).status_code == 201
    by_id, _ = _cold(any_api, {**ASK, "subject": sid})
    for ref in (KARI, "ext:user-1"):
        cold, sent = _cold(any_api, {**ASK, "subject": ref})
        assert sent == 1  # it was two: the lookup, then the load
        assert cold.status_code == 200 and cold.content == by_id.content
        # Linked: the next decision by the address needs no statement, the same answer.
        again, sent = _statements(any_api, lambda ref=ref: any_api.get(
            "/api/v1/decisions", params={**ASK, "subject": ref}))
        assert sent == 0 and again.content == by_id.content
    # Cached by id first: found by the address in one statement, then from memory.
    runtime_of(any_api).consent.cache.clear()
    assert any_api.get("/api/v1/decisions", params={**ASK, "subject": sid}).content == (
        by_id.content)
    for expected in (1, 0):
        answer, sent = _statements(any_api, lambda: any_api.get("/api/v1/decisions",
                                                                params=ASK))
        assert (sent, answer.content) == (expected, by_id.content)


def test_a_cold_decision_by_email_gives_the_same_errors(any_api: TestClient) -> None:
    rt = runtime_of(any_api)
    rt.keys.ttl = rt.consent.cache.max_staleness = 3600.0
    sid = subject(any_api)
    assert give(any_api, sid).status_code == 201
    # The cache's first look at the ledger (one statement) made before.
    assert any_api.get("/api/v1/decisions", params={**ASK, "subject": sid}).status_code == 200
    nobody, sent = _cold(any_api, {**ASK, "subject": "ingen@example.no"})
    assert_problem(nobody, 404, "no subject")
    assert sent == 1
    bad, _ = _cold(any_api, {**ASK, "subject": "kari@"})
    assert_problem(bad, 422)
    # The reference is judged before the purpose, as before.
    assert_problem(_cold(any_api, {"subject": "ingen@example.no", "purpose": "nope"})[0],
                   404, "no subject")
    assert_problem(_cold(any_api, {**ASK, "purpose": "nope"})[0], 404, "unknown purpose")
    erased = any_api.post("/api/v1/requests/batch/erasures", json={
        "subjects": [KARI], "verified_by": "called back on file", "reason": "asked by phone"})
    assert erased.status_code == 200 and len(erased.json()["completed"]) == 1, erased.text
    gone, _ = _cold(any_api, ASK)
    assert_problem(gone, 404, "no subject")
    assert gone.json() == nobody.json()  # as if never known
