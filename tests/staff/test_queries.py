"""The dashboard's core queries on both databases: the queue, its counts, consent per
month, and what is kept only for bookkeeping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from factories import small_manifest_dict, write_manifest
from personvern.clock import Clock, fixed_clock
from personvern.consent.events import EventType
from personvern.consent.service import ConsentContext, record_event
from personvern.consent.subjects import create_subject
from personvern.manifest.loader import load_manifest
from personvern.requests.bookkeeping import bookkeeping_rules, hide_bookkeeping
from personvern.requests.engine import Context, Requester, open_request
from personvern.runtime import EngineSources
from personvern.staff import queries

OWNER = Requester(kind="owner", verified_by="ID card seen")


def context(tmp_path: Path, clock: Clock) -> Context:
    loaded = load_manifest(write_manifest(tmp_path, small_manifest_dict()))
    return Context(ConsentContext.of(loaded.manifest, "a" * 64, EngineSources()), clock)


def test_queue_order_marks_and_counts(db_session: Session, tmp_path: Path,
                                      clock: Clock) -> None:
    ctx = context(tmp_path, clock)  # today: 2027-03-01
    ids = {}
    for n, received in enumerate(["2027-02-27", "2027-01-10", "2027-01-31"]):
        subject, _ = create_subject(db_session, clock, {"email": f"p{n}@example.no"})
        at = fixed_clock(datetime.fromisoformat(f"{received}T10:00:00+01:00"))
        ids[received] = open_request(db_session, Context(ctx.consent, at), "access",
                                     subject=subject.id, by=OWNER, channel="post").request.id
    db_session.commit()
    items = queries.queue(db_session, ctx)
    assert [i.id for i in items] == [ids["2027-01-10"], ids["2027-01-31"], ids["2027-02-27"]]
    assert [i.mark for i in items] == ["overdue", "due_soon", None]
    # One month, moved to the next working day: 28 Feb 2027 is a Sunday; 29 March is
    # Easter Monday (the requests engine's deadlines, GDPR Art. 12(3)).
    assert [i.due_on for i in items] == [date(2027, 2, 10), date(2027, 3, 1), date(2027, 3, 30)]
    assert [i.days_left for i in items] == [-19, 0, 29]
    assert queries.queue_counts(db_session, ctx) == queries.counts_of(items) == \
        {"open": 3, "overdue": 1, "due_soon": 1}
    assert queries.mark_of("completed", date(2027, 1, 1), date(2027, 3, 1)) is None


def test_consent_statistics_per_month(db_session: Session, tmp_path: Path,
                                      clock: Clock) -> None:
    ctx = context(tmp_path, clock)
    people = [create_subject(db_session, clock, {"email": f"p{n}@example.no"})[0].id
              for n in range(3)]
    for sid, at in zip(people, ["2027-01-31T23:30:00+00:00", "2027-02-01T00:30:00+00:00",
                                "2026-02-15T12:00:00+00:00"], strict=True):
        record_event(db_session, ctx.consent, datetime.fromisoformat(at), sid,
                     EventType.CONSENT_GIVEN, purpose_id="newsletter",
                     evidence={"text": "Nyhetsbrev?"})
    record_event(db_session, ctx.consent, datetime(2027, 3, 1, 8, tzinfo=UTC), people[0],
                 EventType.CONSENT_WITHDRAWN, purpose_id="newsletter")
    db_session.commit()
    stats = queries.consent_statistics(db_session, ["newsletter"], clock(), months=3)
    assert [(m.month, m.given, m.withdrawn) for m in stats["newsletter"]] == [
        (date(2027, 1, 1), 1, 0), (date(2027, 2, 1), 1, 0), (date(2027, 3, 1), 0, 1)]
    # The event of February 2026 is outside the last 12 months' window at 13 months back.
    year = queries.consent_statistics(db_session, ["newsletter"], clock(), months=12)
    assert sum(m.given for m in year["newsletter"]) == 2
    assert queries.month_starts(datetime(2027, 1, 15, tzinfo=UTC), 2) == [
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)]


def test_bookkeeping_holds_and_hiding() -> None:
    from personvern.demo import init as demo_init

    manifest = load_manifest(Path(demo_init.__file__).with_name("manifest.yaml")).manifest
    assert bookkeeping_rules(manifest) == {"books"}
    held = {(h["table"], h["column"]) for h in queries.bookkeeping_holds(manifest)}
    assert ("purchases", None) in held
    outcome = {"kept": [{"table": "purchases", "rule": "books", "keys": [1, 2], "rows": 2},
                        {"table": "logins", "rule": "logs", "keys": [9], "rows": 1}]}
    shown = hide_bookkeeping(outcome, {"books"})
    assert shown is not None
    assert shown["kept"][0]["keys"] is None and "finance" in shown["kept"][0]["hidden"]
    assert shown["kept"][1]["keys"] == [9]
    assert outcome["kept"][0]["keys"] == [1, 2]  # the stored outcome is not changed
