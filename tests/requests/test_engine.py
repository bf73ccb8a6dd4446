"""The request engine: opening, verifying, the audited state machine, deadlines, extension,
refusal — and bad input that must change nothing stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from demo_support import DEMO_NOW, MovingClock
from personvern.audit import verify_audit_chain
from personvern.consent.subjects import add_member, create_organisation, create_subject, get_subject
from personvern.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.mail.tables import OutboxMessage
from personvern.requests import verification
from personvern.requests.engine import (
    Context,
    Requester,
    Requests,
    extend,
    get_request,
    list_requests,
    open_request,
    recording_in_bulk,
    refuse,
    view,
)
from personvern.requests.tables import RequestEvent, VerificationCode
from personvern.runtime import Runtime, open_runtime
from personvern.schema import Base
from personvern.settings import Settings
from personvern.storage.models import AuditEvent

NOW = DEMO_NOW  # a Monday


@pytest.fixture
def ctx(rt: Runtime, clock: MovingClock) -> Context:
    return Context(rt.consent, clock)


@pytest.fixture
def service(rt: Runtime, ctx: Context) -> Iterator[Requests]:
    svc = Requests(rt.sessions, ctx)
    yield svc
    svc.close()


def all_counts(session: Session) -> dict[str, int]:
    """Rows in every table of the engine's database."""
    import personvern.schema  # noqa: F401 - every table in the metadata, whatever ran before

    return {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables}


def outbox_code(session: Session, to: str | None = None) -> str:
    """The code in the newest verification e-mail."""
    query = select(OutboxMessage).where(OutboxMessage.kind == "request_verification")
    if to:
        query = query.where(OutboxMessage.to_address == to)
    msg = session.scalars(query.order_by(OutboxMessage.id.desc())).first()
    assert msg is not None
    found = re.search(r"code: (\w{4}-\w{4})", msg.body_text)
    assert found
    return found.group(1)


def email_of(rt: Runtime, ext: int) -> str:
    from personvern.consent.subjects import identities_of

    with rt.transaction() as s:
        subject = get_subject(s, f"ext:{ext}")
        return next(i.value for i in identities_of(s, subject.id) if i.kind == "email")


def unchanged(rt: Runtime, action: Any, error: type[Exception], match: str) -> None:
    """``action(session)`` fails with ``error`` and leaves every table as it was."""
    with rt.transaction() as s:
        before = all_counts(s)
    with pytest.raises(error, match=match), rt.transaction() as s:
        action(s)
    with rt.transaction() as s:
        assert all_counts(s) == before


# ---- opening and verifying -----------------------------------------------------------------

def test_subject_opens_verifies_by_code_and_every_step_is_audited(
        rt: Runtime, ctx: Context, service: Requests) -> None:
    with rt.transaction() as s:
        opened = open_request(s, ctx, "access", email=email_of(rt, 40))
        rid = opened.request.id
        assert opened.request.state == "verifying"
        assert opened.code_sent_to and "***@" in opened.code_sent_to
        code = outbox_code(s, email_of(rt, 40))
        assert opened.issued is not None and code == opened.issued.code
        # Only hashes are stored.
        stored = s.scalars(select(VerificationCode.code_hash)).all()
        assert len(stored) == 2 and code not in stored and opened.issued.token not in stored
    service.verify(rid, code.lower().replace("-", " "))  # typed sloppily: still the code
    with rt.transaction() as s:
        req = get_request(s, rid[:8])
        assert req.state == "verified"
        states = [(e.from_state, e.to_state) for e in s.scalars(
            select(RequestEvent).where(RequestEvent.request_id == rid).order_by(RequestEvent.id))]
        assert states == [(None, "received"), ("received", "verifying"),
                          ("verifying", "verified")]
        audits = s.scalars(select(AuditEvent.action).where(
            AuditEvent.target == f"request:{rid}").order_by(AuditEvent.id)).all()
        assert audits == ["request.received", "request.verifying", "request.verified"]
        assert verify_audit_chain(s) is None


def test_wrong_expired_and_reused_codes(rt: Runtime, ctx: Context, service: Requests,
                                        clock: MovingClock) -> None:
    with rt.transaction() as s:
        rid = open_request(s, ctx, "access", subject="ext:41").request.id
        code = outbox_code(s)
    # A wrong code is refused and counted, nothing else changes.
    with pytest.raises(InvalidInput, match="not right"):
        service.verify(rid, "AAAA-AAAA")
    with rt.transaction() as s:
        assert {c.attempts for c in s.scalars(select(VerificationCode))} == {1}
        before = all_counts(s)
    # Expired: 15 minutes and one second later.
    clock.at = NOW + timedelta(minutes=15, seconds=1)
    with pytest.raises(InvalidInput, match="expired"):
        service.verify(rid, code)
    with rt.transaction() as s:
        assert all_counts(s) == before and get_request(s, rid).state == "verifying"
    # A fresh code works once; the old one and the used one do not.
    with rt.transaction() as s:
        issued = verification.issue(s, clock, rid, "x@example.no")
    service.verify(rid, issued.code)
    with rt.transaction() as s:
        assert verification.check(s, clock, rid, issued.code) is verification.Outcome.USED
        assert verification.check(s, clock, rid, issued.token) is verification.Outcome.USED
        before = all_counts(s)
    with pytest.raises(Conflict, match="not waiting for a code"):
        service.verify(rid, issued.code)
    with rt.transaction() as s:
        assert all_counts(s) == before


def test_too_many_wrong_codes_lock_the_request(rt: Runtime, ctx: Context,
                                               service: Requests) -> None:
    with rt.transaction() as s:
        rid = open_request(s, ctx, "erasure", subject="ext:42").request.id
        code = outbox_code(s)
    for _ in range(verification.MAX_ATTEMPTS - 1):
        with pytest.raises(InvalidInput, match="not right"):
            service.verify(rid, "0000-0000")
    with pytest.raises(InvalidInput, match="too many"):
        service.verify(rid, "0000-0000")
    with pytest.raises(InvalidInput, match="too many"):
        service.verify(rid, code)  # even the right one, until a new code is sent


def test_guardian_opens_for_their_child_and_gets_the_code(rt: Runtime, ctx: Context) -> None:
    with rt.transaction() as s:
        opened = open_request(s, ctx, "access", subject="ext:31",
                              by=Requester("guardian", "ext:8"))
        assert opened.request.opened_by == "guardian"
        assert opened.request.opened_by_subject_id == get_subject(s, "ext:8").id
        assert outbox_code(s, email_of(rt, 8))


def test_owner_opens_on_behalf_of_someone_recording_how_identity_was_checked(
        rt: Runtime, ctx: Context) -> None:
    with rt.transaction() as s:
        opened = open_request(s, ctx, "erasure", subject="ext:12", by=Requester(
            "owner", verified_by="letter with ID copy, checked 2027-01-04"), channel="post")
        assert opened.request.state == "verified" and opened.issued is None
        assert "letter with ID copy" in (opened.request.verified_by or "")


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"subject": "ext:9999"}, NotFound, "no subject 'ext:9999'"),
    ({"email": "nobody@example.no"}, NotFound, "no subject with the e-mail"),
    ({"email": "not-an-address"}, InvalidInput, "not an e-mail address"),
    ({}, InvalidInput, "give --subject or --email"),
    ({"subject": "ext:9", "by": Requester("owner")}, InvalidInput, "--verified-by"),
    ({"subject": "ext:9", "type": "telepathy"}, InvalidInput, "unknown request type"),
    ({"subject": "ext:9", "channel": "pigeon"}, InvalidInput, "unknown channel"),
    ({"subject": "ext:9", "details": {"changes": {}}}, InvalidInput, "takes no changes"),
    ({"subject": "ext:9", "type": "objection", "details": {"purpose": "account"}},
     InvalidInput, "right to object"),
    ({"subject": "ext:9", "type": "withdrawal"}, InvalidInput, "no consent to withdraw"),
])
def test_bad_openings_store_nothing(rt: Runtime, ctx: Context, kwargs: dict[str, Any],
                                    error: type[Exception], match: str) -> None:
    kind = kwargs.pop("type", "access")
    unchanged(rt, lambda s: open_request(s, ctx, kind, **kwargs), error, match)


def test_an_identity_that_does_not_match_the_subject(rt: Runtime, ctx: Context) -> None:
    other = email_of(rt, 10)
    unchanged(rt, lambda s: open_request(s, ctx, "access", subject="ext:9", email=other),
              InvalidInput, "does not belong to subject")


def test_a_guardian_who_is_not_the_guardian(rt: Runtime, ctx: Context) -> None:
    # ext:9 is a parent, but not of pupil 31 (whose parent is 8).
    unchanged(rt, lambda s: open_request(s, ctx, "access", subject="ext:31",
                                         by=Requester("guardian", "ext:9")),
              Forbidden, "is not a guardian of")


def test_an_admin_of_another_organisation(rt: Runtime, ctx: Context) -> None:
    with rt.transaction() as s:
        a = create_organisation(s, ctx.clock, "Bedrift A AS")
        b = create_organisation(s, ctx.clock, "Bedrift B AS")
        add_member(s, ctx.clock, a, get_subject(s, "ext:2"), "admin")
        add_member(s, ctx.clock, a, get_subject(s, "ext:3"))
        add_member(s, ctx.clock, b, get_subject(s, "ext:4"))
    unchanged(rt, lambda s: open_request(s, ctx, "access", subject="ext:4",
                                         by=Requester("admin", "ext:2")),
              Forbidden, "is not an admin of an organisation")
    with rt.transaction() as s:  # their own member: allowed
        opened = open_request(s, ctx, "access", subject="ext:3", by=Requester("admin", "ext:2"))
        assert opened.request.opened_by == "admin"


@pytest.mark.parametrize(("changes", "match"), [
    ({"users.email": "ikke-en-adresse"}, "users.email: 'ikke-en-adresse' is not an e-mail"),
    ({"users.phone": "12ab"}, "users.phone: '12ab' is not a phone number"),
    ({"users.phone": "+47 123"}, "not a phone number"),
    ({"users.birth_date": "31.02.2010"}, "is not a date"),
    ({"users.name": "  "}, "give 1 to"),
    ({"users.id": "5"}, "no validate_as"),
    ({"users.shoe_size": "44"}, "not a column of the data map"),
    ({"users": "x"}, "name a column as"),
])
def test_rectification_with_invalid_values_stores_nothing(
        rt: Runtime, ctx: Context, changes: dict[str, str], match: str) -> None:
    unchanged(rt, lambda s: open_request(
        s, ctx, "rectification", subject="ext:9", details={"changes": changes},
        by=Requester("owner", verified_by="test")), InvalidInput, match)


def test_rectified_identity_that_belongs_to_someone_else(rt: Runtime, ctx: Context) -> None:
    taken = email_of(rt, 10)
    unchanged(rt, lambda s: open_request(
        s, ctx, "rectification", subject="ext:9", details={"changes": {"users.email": taken}},
        by=Requester("owner", verified_by="test")), Conflict, "belongs to another subject")


# ---- deadlines, lists, extension, refusal --------------------------------------------------

def test_deadline_lists_extension_and_refusal(rt: Runtime, ctx: Context,
                                              clock: MovingClock) -> None:
    owner = Requester("owner", verified_by="test")
    with rt.transaction() as s:
        first = open_request(s, ctx, "access", subject="ext:9", by=owner).request
        assert (first.due_on, first.legal_due_on) == (date(2027, 2, 4), date(2027, 2, 4))
        second = open_request(s, ctx, "erasure", subject="ext:10", by=owner).request
    clock.at = datetime(2027, 1, 30, 12, tzinfo=UTC)
    with rt.transaction() as s:
        assert [r.id for r in list_requests(s, ctx, due_within=5)] == [first.id, second.id]
        assert list_requests(s, ctx, due_within=3) == []
        assert list_requests(s, ctx, overdue=True) == []
        extended = extend(s, ctx, first.id, "Mange datasett må gjennomgås")
        # Three months after 4 January is Sunday 4 April: the next working day counts.
        assert extended.extended_to == extended.due_on == date(2027, 4, 5)
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "request_extended"))
        assert "Mange datasett" in next(iter(mail)).body_text
        # Art. 12(3): a letter queued is not yet the person told; the history says which.
        [note] = s.scalars(select(RequestEvent.note).where(
            RequestEvent.request_id == first.id, RequestEvent.note.startswith("extended to")))
        assert "the person was told" not in note
        assert note.endswith("; a letter telling the person is queued (k***@example.no); "
                             "they are told once it is sent")
        with pytest.raises(Conflict, match="already extended"):
            extend(s, ctx, first.id, "igjen")
    clock.at = datetime(2027, 2, 5, 12, tzinfo=UTC)
    with rt.transaction() as s:
        assert [r.id for r in list_requests(s, ctx, overdue=True)] == [second.id]
        shown = view(s, ctx, get_request(s, second.id))
        assert shown["overdue"] is True and shown["due_on"] == "2027-02-04"
    unchanged(rt, lambda s: extend(s, ctx, second.id, "for sent"), InvalidInput,
              "one-month deadline .2027-02-04. has passed")
    unchanged(rt, lambda s: refuse(s, ctx, second.id, "  "), InvalidInput, "say why you refuse")
    unchanged(rt, lambda s: extend(s, ctx, second.id, "x" * 2001), InvalidInput, "too long")
    with rt.transaction() as s:
        refused = refuse(s, ctx, second.id, "Åpenbart grunnløs")
        assert refused.state == "refused" and refused.reason == "Åpenbart grunnløs"
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "request_refused"))
        assert "Datatilsynet" in next(iter(mail)).body_text
    unchanged(rt, lambda s: refuse(s, ctx, second.id, "igjen"), Conflict, "cannot become")
    unchanged(rt, lambda s: get_request(s, "ffffff"), NotFound, "no request")


def test_run_needs_a_verified_request(rt: Runtime, ctx: Context, service: Requests) -> None:
    with rt.transaction() as s:
        rid = open_request(s, ctx, "access", subject="ext:9").request.id
    with rt.transaction() as s:  # counted once committed (the chains' heads are signed then)
        before = all_counts(s)
    with pytest.raises(Conflict, match="not verified yet"):
        service.run(rid, reason="identity checked")
    with rt.transaction() as s:
        assert all_counts(s) == before


@pytest.mark.parametrize(("reason", "match"), [
    ("", "say why you run the request now"), ("   ", "say why"), ("x" * 2001, "too long")])
def test_a_run_without_a_good_reason_changes_nothing(
        rt: Runtime, ctx: Context, service: Requests, reason: str, match: str) -> None:
    """The reason is a rule of the core, so the CLI, the API and the dashboard all obey it."""
    with rt.transaction() as s:
        rid = open_request(s, ctx, "restriction", subject="ext:12", by=Requester(
            "owner", verified_by="called back on the number we hold")).request.id
    with rt.transaction() as s:  # counted once committed (the chains' heads are signed then)
        before = all_counts(s)
    with pytest.raises(InvalidInput, match=match):
        service.run(rid, reason=reason, actor="staff:kari")
    with rt.transaction() as s:
        assert all_counts(s) == before
        assert get_request(s, rid).state == "verified"


def test_a_run_is_audited_with_its_reason_before_the_work(
        rt: Runtime, ctx: Context, service: Requests) -> None:
    with rt.transaction() as s:
        rid = open_request(s, ctx, "restriction", subject="ext:12", by=Requester(
            "owner", verified_by="called back on the number we hold")).request.id
    assert service.run(rid, reason="  the person called again  ",
                       actor="staff:kari").state == "completed"
    with rt.transaction() as s:
        events = s.scalars(select(AuditEvent).where(
            AuditEvent.target == f"request:{rid}").order_by(AuditEvent.id)).all()
        actions = [e.action for e in events]
        assert actions.index("request.run") < actions.index("request.in_progress")
        [run] = [e for e in events if e.action == "request.run"]
        assert run.actor == "staff:kari" and run.details == {"reason": "the person called again"}
        assert verify_audit_chain(s) is None


# ---- the same engine on PostgreSQL -------------------------------------------------------

def test_engine_core_on_both_databases(db_url: str, demo_template: Path,
                                       clock: MovingClock) -> None:
    runtime = open_runtime(Settings(manifest=demo_template / "personvern.yaml",
                                    database_url=db_url),
                           clock)
    try:
        ctx = Context(runtime.consent, clock)
        with runtime.transaction() as s:
            parent, _ = create_subject(s, clock, {"email": "forelder@example.no"},
                                       kind="parent")
            child, _ = create_subject(s, clock, {"external_id": "barn-1"},
                                      birth_date=date(2016, 5, 1), kind="pupil")
            from personvern.consent.subjects import link_guardian

            link_guardian(s, clock, parent, child, "test", runtime.consent.jurisdiction)
            opened = open_request(s, ctx, "access", subject="ext:barn-1",
                                  by=Requester("guardian", "forelder@example.no"))
            code = outbox_code(s, "forelder@example.no")
        service = Requests(runtime.sessions, ctx)
        with pytest.raises(InvalidInput, match="not right"):
            service.verify(opened.request.id, "ZZZZ-ZZZZ")
        service.verify(opened.request.id, code)
        with runtime.transaction() as s:
            extend(s, ctx, opened.request.id, "komplisert")
            assert list_requests(s, ctx, due_within=91)[0].due_on == date(2027, 4, 5)
            refuse(s, ctx, opened.request.id, "trukket av forelderen")
            assert get_request(s, opened.request.id).state == "refused"
            assert verify_audit_chain(s) is None
            assert s.execute(text("SELECT count(*) FROM request_events")).scalar() == 5
    finally:
        runtime.close()


def test_a_commit_inside_a_bulk_recording_loses_no_history(rt: Runtime, ctx: Context) -> None:
    """A batch holds its history lines and audit events for the end of the block; a commit
    made before that end writes them first, so a step failing after it leaves the
    request's history and the trail whole (what `personvern audit verify` and `request
    show` read)."""
    session = rt.sessions()
    try:
        with pytest.raises(Conflict), recording_in_bulk(session):
            rid = open_request(session, ctx, "access", email=email_of(rt, 41)).request.id
            session.commit()
            raise Conflict("a later step of the batch fails")  # the block's end never runs
        session.rollback()
    finally:
        session.close()
    with rt.transaction() as s:
        states = [(e.from_state, e.to_state) for e in s.scalars(
            select(RequestEvent).where(RequestEvent.request_id == rid).order_by(RequestEvent.id))]
        assert states == [(None, "received"), ("received", "verifying")]
        audits = s.scalars(select(AuditEvent.action).where(
            AuditEvent.target == f"request:{rid}").order_by(AuditEvent.id)).all()
        assert audits == ["request.received", "request.verifying"]
        assert verify_audit_chain(s) is None
