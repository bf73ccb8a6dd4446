"""The Python client against the real app served by uvicorn on a loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from personvern.client import (
    Decision,
    ForbiddenError,
    InvalidInputError,
    MissingScopeError,
    PersonvernClient,
    UnauthorizedError,
    UnknownSubjectError,
)
from personvern.clock import Clock
from web.support import KARI, OLA, UvicornThread, ledger_count, make_app, new_key, runtime_of


@pytest.fixture
def pv(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[PersonvernClient]:
    """A client of the app served on a free port, once on SQLite and once on PostgreSQL."""
    app = make_app(tmp_path, db_url, clock)
    with UvicornThread(app) as server, PersonvernClient(server.url, new_key(app)) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def test_a_day_in_the_life_of_an_app(pv: PersonvernClient) -> None:
    kari = pv.ensure_subject(email=KARI, phone="912 34 567")
    assert kari.created and ("phone", "+4791234567") in kari.identities
    assert pv.ensure_subject(email=KARI.upper()).id == kari.id
    assert not pv.ensure_subject(email=KARI).created

    assert not pv.decide(kari.id, "newsletter")
    given = pv.record_consent(kari.id, "newsletter", text_shown="Vil du ha nyhetsbrev?",
                              ip="203.0.113.7", user_agent="Mozilla/5.0", idempotency_key="k1")
    assert given.type == "consent_given" and not given.replayed
    replay = pv.record_consent(kari.id, "newsletter", idempotency_key="k1")
    assert replay.replayed and replay.id == given.id

    decision = pv.decide(KARI, "newsletter")
    assert isinstance(decision, Decision) and decision
    assert decision.basis == "consent" and decision.code == "consent_given"
    gpc = pv.decide(kari.id, "newsletter", gpc=True)
    assert not gpc and gpc.code == "gpc"

    pv.withdraw(kari.id, "newsletter", channel="portal")
    after = pv.decide(kari.id, "newsletter")
    assert not after and "withdrawn 2027-03-01 via portal" in after.reason

    assert pv.record_activity(kari.id).isoformat() == "2027-03-01T11:00:00+00:00"
    consents = pv.consents(KARI)
    assert consents.subject_id == kari.id and not consents["newsletter"].allowed
    assert [e.type for e in consents["newsletter"].events] == ["consent_given",
                                                                "consent_withdrawn"]
    with pytest.raises(KeyError):
        consents["lottery"]
    assert pv.subject(kari.id).last_activity is not None


def test_errors_carry_the_problem(pv: PersonvernClient) -> None:
    app = pv.app  # type: ignore[attr-defined]
    before = ledger_count(app)
    with pytest.raises(UnknownSubjectError) as caught:
        pv.record_consent("nobody@example.no", "newsletter")
    err = caught.value
    assert isinstance(err, UnknownSubjectError) and (err.status, err.title) == (
        404, "Unknown subject")
    assert "no subject" in err.detail and err.problem["instance"] == "/api/v1/consents"

    child = pv.ensure_subject(email="barn@example.no", birth_date=date(2017, 5, 1))
    with pytest.raises(InvalidInputError, match="guardian must give") as caught:
        pv.record_consent(child.id, "newsletter")
    assert caught.value.status == 422
    with pytest.raises(InvalidInputError, match="no consent to withdraw"):
        pv.withdraw(child.id, "newsletter")
    parent = pv.ensure_subject(email=OLA)
    with pytest.raises(ForbiddenError) as caught:
        pv.record_consent(child.id, "newsletter", actor="guardian", actor_subject_id=parent.id)
    assert caught.value.status == 403 and not isinstance(caught.value, MissingScopeError)
    pv.link_guardian(child.id, parent.id, verified_by="BankID")
    given = pv.record_consent(child.id, "newsletter", actor="guardian",
                              actor_subject_id=parent.id)
    assert pv.decide(child.id, "newsletter") and ledger_count(app) == before + 1
    assert pv.subject(child.id).raw["guardians"] == [parent.id] and given.seq > 0
    before += 1
    assert ledger_count(app) == before


def test_wrong_key_and_no_server(tmp_path: Path, sqlite_url: str, clock: Clock) -> None:
    app = make_app(tmp_path, sqlite_url, clock)
    with UvicornThread(app) as server, PersonvernClient(server.url, "pv_wrong") as bad:
        with pytest.raises(UnauthorizedError) as caught:
            bad.decide(KARI, "newsletter")
        assert caught.value.status == 401 and caught.value.title == "Unauthorized"


def test_32_concurrent_writers_on_one_subject(pv: PersonvernClient) -> None:
    from personvern.consent.ledger import subject_events, verify_ledger

    app = pv.app  # type: ignore[attr-defined]
    sid = pv.ensure_subject(email=KARI).id

    def write(i: int) -> str:
        kind = "consent_given" if i % 2 == 0 else "consent_refused"
        return pv.record_consent(sid, "newsletter", type=kind, text_shown=f"skjema {i}").id

    with ThreadPoolExecutor(max_workers=32) as pool:
        acknowledged = list(pool.map(write, range(64)))
    rt = runtime_of(app)
    with rt.transaction() as s:
        events = subject_events(s, sid)
        assert verify_ledger(s) is None
    assert sorted(e.id for e in events) == sorted(acknowledged)
    last = events[-1].type
    decision = pv.decide(sid, "newsletter")
    assert decision.allowed is (last == "consent_given")
    assert ledger_count(app) == 64
