"""A ledger no one can shorten: signed checkpoints anchor the chain's head outside the table.

Each test tampers as someone with write access to the database (but not the master key)
would, and expects verification to say what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from consent.support import newsletter_context
from personvern.audit import GENESIS_HASH, check_audit_chain
from personvern.consent.events import EventType
from personvern.consent.ledger import (
    CHAIN,
    check_ledger,
    event_hash,
    sign_ledger,
    verify_ledger,
)
from personvern.consent.service import ConsentContext, record_event
from personvern.consent.subjects import create_subject
from personvern.consent.tables import LedgerEvent, LedgerEvidence
from personvern.crypto.checkpoints import parse_checkpoint, sign, stored_checkpoint
from personvern.crypto.keyring import Keyring, default_keyring
from personvern.crypto.master import MasterKey
from personvern.crypto.tables import ChainCheckpoint
from personvern.errors import Conflict, InvalidInput

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx() -> ConsentContext:
    return newsletter_context()


def append(engine: Engine, ctx: ConsentContext, days: range, *, evidence: bool = True) -> None:
    """Give and withdraw in turn, one transaction per event (as the API does)."""
    for day in days:
        with Session(engine) as s, s.begin():
            sid = create_subject(s, lambda: T0, {"email": "ola@example.no"})[0].id
            kind = EventType.CONSENT_GIVEN if day % 2 == 0 else EventType.CONSENT_WITHDRAWN
            record_event(s, ctx, T0 + timedelta(days=day), sid, kind, purpose_id="newsletter",
                         evidence={"text_shown": f"day {day}"} if evidence else None)


def tamper(engine: Engine, *statements: object) -> None:
    with Session(engine) as s, s.begin():
        for statement in statements:
            s.execute(statement)  # type: ignore[call-overload]


def problem(engine: Engine, **kw: object) -> str | None:
    with Session(engine) as s:
        broken = check_ledger(s, **kw).broken  # type: ignore[arg-type]
        return None if broken is None else str(broken)


def rehash_from(engine: Engine, seq: int) -> None:
    """Recompute every link and hash from ``seq`` on, as anyone can: the hash is unkeyed."""
    with Session(engine) as s, s.begin():
        prev = s.scalar(select(LedgerEvent.hash).where(LedgerEvent.seq == seq - 1)) \
            or GENESIS_HASH
        for event in s.scalars(select(LedgerEvent).where(LedgerEvent.seq >= seq)
                               .order_by(LedgerEvent.seq)):
            event.prev_hash = prev
            event.hash = prev = event_hash(event)


def test_an_intact_ledger_verifies_up_to_its_signed_head(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(4))
    with Session(db_engine) as s:
        check = check_ledger(s)
        head = s.scalars(select(LedgerEvent).order_by(LedgerEvent.seq.desc())).first()
    assert check.broken is None and check.events == 4
    assert head is not None and check.checkpoint is not None
    assert (check.checkpoint.seq, check.checkpoint.hash) == (4, head.hash)
    assert check.checkpoint.at == T0 + timedelta(days=3)  # the append's time, not the clock's


def test_one_checkpoint_per_transaction_and_none_on_rollback(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(2))
    with Session(db_engine) as s:
        sid = s.scalars(select(LedgerEvent.subject_id)).first()
        assert sid is not None
        record_event(s, ctx, T0 + timedelta(days=5), sid, EventType.CONSENT_GIVEN,
                     purpose_id="newsletter")
        assert verify_ledger(s) is None  # its own, not yet signed, append is not foreign
        s.rollback()
    with Session(db_engine) as s:
        assert verify_ledger(s) is None
        assert s.scalars(select(ChainCheckpoint)).one().seq == 2


def test_deleted_newest_events_are_seen(db_engine: Engine, ctx: ConsentContext) -> None:
    """Issue 14: `delete from ledger_events where seq > N` used to verify as intact."""
    append(db_engine, ctx, range(5))
    tamper(db_engine, delete(LedgerEvidence).where(LedgerEvidence.event_seq > 3),
           delete(LedgerEvent).where(LedgerEvent.seq > 3))
    assert problem(db_engine) == (
        "the ledger ends at event 3, but the stored checkpoint signed event 5 "
        "(2027-03-05 12:00 UTC): events 4-5 were deleted")


def test_an_emptied_ledger_is_seen(db_engine: Engine, ctx: ConsentContext) -> None:
    append(db_engine, ctx, range(3))
    tamper(db_engine, delete(LedgerEvidence), delete(LedgerEvent))
    found = problem(db_engine)
    assert found is not None and found.startswith("the ledger is empty, but the stored "
                                                  "checkpoint signed event 3")
    assert found.endswith("every event was deleted")


def test_a_reordered_chain_with_fresh_hashes_is_seen(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    """Swapping the newest give and withdrawal, links recomputed: only the signature sees it."""
    append(db_engine, ctx, range(4), evidence=False)
    tamper(db_engine, update(LedgerEvent).where(LedgerEvent.seq == 3).values(seq=1000),
           update(LedgerEvent).where(LedgerEvent.seq == 4).values(seq=3),
           update(LedgerEvent).where(LedgerEvent.seq == 1000).values(seq=4))
    rehash_from(db_engine, 3)
    found = problem(db_engine)
    assert found is not None and found.startswith("event 4 (")
    assert "is not the event the stored checkpoint signed" in found and "rewritten" in found


def test_a_forged_stored_checkpoint_is_seen(db_engine: Engine, ctx: ConsentContext) -> None:
    append(db_engine, ctx, range(4))
    # Cut the tail and move the checkpoint back to match: the signature no longer does.
    tamper(db_engine, delete(LedgerEvidence).where(LedgerEvidence.event_seq == 4),
           delete(LedgerEvent).where(LedgerEvent.seq == 4))
    with Session(db_engine) as s, s.begin():
        third = s.scalars(select(LedgerEvent).where(LedgerEvent.seq == 3)).one()
        s.execute(update(ChainCheckpoint).values(seq=3, hash=third.hash))
    found = problem(db_engine)
    assert found is not None and found.startswith("the stored checkpoint (event 3 ")
    assert found.endswith("has a signature that does not match: it was forged or altered")


def test_a_checkpoint_signed_with_another_key_is_seen(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(2))
    with Session(db_engine) as s:
        stored = stored_checkpoint(s.connection(), CHAIN)
    assert stored is not None
    other = sign(MasterKey.generate(), CHAIN, stored.seq, stored.hash, stored.at)
    found = problem(db_engine, against=other, source="other.json")
    assert found is not None and found.startswith(
        f"checkpoint other.json is signed by master key {other.key_id}, which this engine "
        "does not hold")


def test_tampered_evidence_is_seen(db_engine: Engine, ctx: ConsentContext) -> None:
    """Evidence moved from one event to another no longer matches the chained digest."""
    append(db_engine, ctx, range(3))
    with Session(db_engine) as s, s.begin():
        data = s.execute(select(LedgerEvidence.__table__.c.data)
                         .where(LedgerEvidence.event_seq == 1)).scalar_one()
        s.execute(update(LedgerEvidence.__table__).where(LedgerEvidence.event_seq == 2)
                  .values(data=data))
    found = problem(db_engine)
    assert found is not None and found.startswith("event 2 (")
    assert found.endswith("its evidence does not match the digest the chain holds "
                          "(the evidence was altered, swapped or added)")


def test_erased_evidence_still_verifies(db_engine: Engine, ctx: ConsentContext) -> None:
    append(db_engine, ctx, range(3))
    tamper(db_engine, delete(LedgerEvidence))
    assert problem(db_engine) is None


def test_events_added_behind_personverns_back_are_seen(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    """A consent forged at the tail, correctly linked: no checkpoint covers it."""
    append(db_engine, ctx, range(2), evidence=False)
    with Session(db_engine) as s, s.begin():
        last = s.scalars(select(LedgerEvent).where(LedgerEvent.seq == 2)).one()
        forged = LedgerEvent(**{c.name: getattr(last, c.name)
                                for c in LedgerEvent.__table__.columns})
        forged.seq, forged.id, forged.prev_hash = 3, "f" * 32, last.hash
        forged.type = "consent_given"
        forged.hash = event_hash(forged)
        s.execute(insert(LedgerEvent.__table__).values(
            {c.name: getattr(forged, c.name) for c in LedgerEvent.__table__.columns}))
    assert problem(db_engine) == (
        "events 3-3 come after the last signed checkpoint (event 2 (2027-03-02 12:00 UTC)): "
        "they were not appended by Personvern")


def test_a_deleted_checkpoint_is_seen(db_engine: Engine, ctx: ConsentContext) -> None:
    append(db_engine, ctx, range(2))
    tamper(db_engine, delete(ChainCheckpoint))
    found = problem(db_engine)
    assert found is not None and found.startswith(
        "no signed checkpoint is stored, though the ledger has 2 events")


def test_an_exported_checkpoint_from_before_further_appends_verifies(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(3))
    with Session(db_engine) as s, s.begin():
        exported, adopted = sign_ledger(s, T0 + timedelta(days=10))
    assert not adopted and exported.seq == 3
    kept = parse_checkpoint(json.dumps(exported.as_json()), "kept.json")
    append(db_engine, ctx, range(3, 6))
    assert problem(db_engine, against=kept, source="kept.json") is None
    # Deleting the newest events and the stored checkpoint: the kept file still tells.
    tamper(db_engine, delete(ChainCheckpoint), delete(LedgerEvidence), delete(LedgerEvent))
    assert problem(db_engine, against=kept, source="kept.json") == (
        "the ledger is empty, but checkpoint kept.json signed event 3 (2027-03-11 12:00 UTC): "
        "every event was deleted")
    forged = replace(kept, seq=1)
    assert problem(db_engine, against=forged, source="kept.json") == (
        "checkpoint kept.json has a signature that does not match: it was forged or altered")


def test_signing_refuses_a_broken_or_empty_ledger(db_engine: Engine, ctx: ConsentContext) -> None:
    with Session(db_engine) as s, pytest.raises(Conflict, match="no events yet"):
        sign_ledger(s, T0)
    append(db_engine, ctx, range(3))
    tamper(db_engine, delete(LedgerEvidence).where(LedgerEvidence.event_seq == 3),
           delete(LedgerEvent).where(LedgerEvent.seq == 3))
    with Session(db_engine) as s, pytest.raises(Conflict, match="event 3 was deleted; nothing"):
        sign_ledger(s, T0)


def test_signing_adopts_a_ledger_from_before_checkpoints(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(2))
    tamper(db_engine, delete(ChainCheckpoint))
    with Session(db_engine) as s, s.begin():
        signed, adopted = sign_ledger(s, T0)
    assert adopted and signed.seq == 2
    assert problem(db_engine) is None


@pytest.mark.parametrize(("text", "message"), [
    ("{", "is not a checkpoint: Expecting"),
    ('{"format": "something-else"}', "is not a checkpoint: not a personvern-checkpoint file"),
    ('{"format": "personvern-checkpoint", "v": 1, "chain": "ledger_events"}', "has no 'seq'"),
    ('{"format": "personvern-checkpoint", "v": 1, "chain": "ledger_events", "seq": "3", '
     '"hash": "", "at": "2027-01-01T00:00:00+00:00", "key_id": "", "signature": ""}',
     "seq is not a whole number"),
])
def test_a_malformed_checkpoint_file_is_bad_input(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_checkpoint(text, "cp.json")


def test_a_rotated_key_re_signs_the_stored_checkpoint(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    from personvern.clock import fixed_clock
    from personvern.keys.rotate import rotate
    from personvern.storage.session import make_sessionmaker

    append(db_engine, ctx, range(2))
    old = default_keyring()
    new = MasterKey.generate()
    rotate(make_sessionmaker(db_engine), fixed_clock(T0), old, new)
    with Session(db_engine, info={"personvern.keyring": Keyring(new)}) as s:
        check = check_ledger(s)
        # The rotation's own audit events end the trail: their head too is signed by the
        # new key, or the trail reads as forged the moment the rotation is done.
        trail = check_audit_chain(s)
    assert check.broken is None and check.checkpoint is not None
    assert check.checkpoint.key_id == new.key_id
    assert trail.problem is None, trail.verdict()
    assert trail.checkpoint is not None and trail.checkpoint.key_id == new.key_id
    assert trail.checkpoint.seq == trail.events


def test_an_append_rolled_back_with_its_savepoint_is_not_signed(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(2))
    with Session(db_engine) as s, s.begin():
        sid = s.scalars(select(LedgerEvent.subject_id)).first()
        assert sid is not None
        record_event(s, ctx, T0 + timedelta(days=5), sid, EventType.CONSENT_GIVEN,
                     purpose_id="newsletter")
        with s.begin_nested() as savepoint:
            record_event(s, ctx, T0 + timedelta(days=6), sid, EventType.CONSENT_WITHDRAWN,
                         purpose_id="newsletter")
            savepoint.rollback()
    with Session(db_engine) as s:
        check = check_ledger(s)
    assert check.broken is None and check.checkpoint is not None
    assert (check.events, check.checkpoint.seq) == (3, 3)


def test_a_session_closed_without_commit_signs_nothing_later(
    db_engine: Engine, ctx: ConsentContext
) -> None:
    append(db_engine, ctx, range(2))
    s = Session(db_engine)
    sid = s.scalars(select(LedgerEvent.subject_id)).first()
    assert sid is not None
    record_event(s, ctx, T0 + timedelta(days=5), sid, EventType.CONSENT_GIVEN,
                 purpose_id="newsletter")
    s.close()  # no commit, no rollback event
    with s.begin():  # the same session object, a new transaction that appends nothing
        s.execute(select(1))
    s.close()
    assert problem(db_engine) is None


# ---- a cut or rewrite stays seen after the next write ----------------------------------------

@pytest.mark.parametrize("path", ["one transaction", "group commit"])
@pytest.mark.parametrize("cut", ["tail", "emptied", "rewritten", "tail and checkpoint"])
def test_a_tampered_ledger_stays_broken_after_the_next_write(
        db_engine: Engine, ctx: ConsentContext, cut: str, path: str) -> None:
    """The next consent written, by a request's own transaction or by the API's group
    commit (PostgreSQL: the head read in its pipeline), must not sign the tampered head
    as the ledger's checkpoint: the ledger stays broken, never "intact" again (GDPR
    Art. 7(1): the controller must be able to show the consent was given)."""
    from personvern.consent.group import GroupCommit
    from personvern.storage.session import make_sessionmaker

    append(db_engine, ctx, range(5))
    if cut.startswith("tail"):
        tamper(db_engine, delete(LedgerEvidence).where(LedgerEvidence.event_seq > 3),
               delete(LedgerEvent).where(LedgerEvent.seq > 3))
        if cut == "tail and checkpoint":  # the checkpoint that would show the cut, deleted too
            tamper(db_engine, delete(ChainCheckpoint))
    elif cut == "emptied":
        tamper(db_engine, delete(LedgerEvidence), delete(LedgerEvent))
    else:
        tamper(db_engine, update(LedgerEvent).where(LedgerEvent.seq == 5)
               .values(type=EventType.CONSENT_WITHDRAWN.value))
        rehash_from(db_engine, 5)
    assert problem(db_engine) is not None
    with Session(db_engine) as s, s.begin():
        sid = create_subject(s, lambda: T0, {"email": "kari@example.no"})[0].id

    def write(s: Session) -> int:
        row, _ = record_event(s, ctx, T0 + timedelta(days=9), sid, EventType.CONSENT_GIVEN,
                              purpose_id="newsletter")
        return row.seq

    for _ in range(2):  # later writes do not wash it out either
        if path == "group commit":
            GroupCommit(make_sessionmaker(db_engine)).run(write)
        else:
            with Session(db_engine) as s, s.begin():
                write(s)
        assert problem(db_engine) is not None
