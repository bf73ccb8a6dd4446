"""32 concurrent writers on one subject and purpose, on SQLite and PostgreSQL.

Every acknowledged event is in the ledger exactly once, the chain verifies, and the
decision matches the last event in ledger order.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from personvern.consent.events import EventType
from personvern.consent.ledger import subject_events, verify_ledger
from personvern.consent.service import ConsentContext, decide_for, record_event
from personvern.consent.subjects import create_subject
from personvern.consent.tables import LedgerEvent
from personvern.errors import InvalidInput
from personvern.manifest.loader import parse_manifest
from personvern.runtime import EngineSources
from personvern.storage.session import make_sessionmaker, transaction

WRITERS = 32
PER_WRITER = 4
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: newsletter, name: Nyhetsbrev, legal_basis: consent, categories: [user.contact.email]}
"""


def test_concurrent_writers_keep_one_consistent_chain(db_engine: Engine) -> None:
    ctx = ConsentContext.of(parse_manifest(MANIFEST).manifest, "v" * 64, EngineSources())
    sessions = make_sessionmaker(db_engine)
    with transaction(sessions) as s:
        sid = create_subject(s, lambda: T0, {"email": "ola@example.no"})[0].id
    acknowledged: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        start.wait()
        for i in range(PER_WRITER):
            # Half give, half withdraw: withdrawals without a consent are refused.
            kind = EventType.CONSENT_GIVEN if (n + i) % 2 else EventType.CONSENT_WITHDRAWN
            try:
                with transaction(sessions) as s:
                    event, _ = record_event(s, ctx, T0, sid, kind,
                                            purpose_id="newsletter",
                                            idempotency_key=f"w{n}-{i}")
                    event_id = event.id
            except InvalidInput:
                with lock:
                    refused.append(f"w{n}-{i}")
                continue
            except BaseException as exc:  # reported below
                with lock:
                    errors.append(exc)
                continue
            with lock:
                acknowledged.append(event_id)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert len(acknowledged) + len(refused) == WRITERS * PER_WRITER

    with Session(db_engine) as s:
        ids = list(s.scalars(select(LedgerEvent.id)))
        assert sorted(ids) == sorted(acknowledged)  # each exactly once, nothing else
        assert s.scalar(select(func.count(func.distinct(LedgerEvent.id)))) == len(ids)
        assert verify_ledger(s) is None
        events = subject_events(s, sid)
        # No withdrawal ever follows another withdrawal or starts the ledger.
        previous = EventType.CONSENT_WITHDRAWN
        for e in events:
            assert not (e.type == previous == EventType.CONSENT_WITHDRAWN)
            previous = EventType(e.type)
        last = events[-1]
        decision = decide_for(s, ctx, sid, "newsletter", T0 + timedelta(hours=1))
        assert decision.allowed is (last.type == EventType.CONSENT_GIVEN)
