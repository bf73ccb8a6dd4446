"""The decision cache: read-your-writes in one process, bounded staleness across processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from personvern.consent.cache import DecisionCache
from personvern.consent.events import EventType
from personvern.consent.service import ConsentContext, decide_for, record_event
from personvern.consent.subjects import create_subject
from personvern.manifest.loader import parse_manifest
from personvern.runtime import EngineSources
from personvern.storage.session import make_sessionmaker, transaction

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: newsletter, name: Nyhetsbrev, legal_basis: consent, categories: [user.contact.email]}
"""


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_writer_reads_its_write_and_others_catch_up(db_engine: Engine) -> None:
    manifest = parse_manifest(MANIFEST).manifest
    ticks = Ticks()
    here = ConsentContext.of(manifest, "v" * 64, EngineSources())
    other = ConsentContext.of(manifest, "v" * 64, EngineSources())
    other_cache = DecisionCache(max_staleness=1.0, monotonic=ticks)
    other = ConsentContext(other.manifest, other.jurisdiction, other.policy_version,
                            EngineSources(), other_cache)
    sessions = make_sessionmaker(db_engine)
    later = T0 + timedelta(minutes=1)
    with transaction(sessions) as s:
        sid = create_subject(s, lambda: T0, {"email": "a@example.no"})[0].id
    with transaction(sessions) as s:
        assert not decide_for(s, other, sid, "newsletter", later).allowed  # cached: no consent
        record_event(s, here, T0, sid, EventType.CONSENT_GIVEN, purpose_id="newsletter")
    with transaction(sessions) as s:
        assert decide_for(s, here, sid, "newsletter", later).allowed  # read-your-writes
        assert not decide_for(s, other, sid, "newsletter", later).allowed  # still stale
        ticks.now += 1.0
        assert decide_for(s, other, sid, "newsletter", later).allowed  # synced
    assert other_cache.hits >= 1 and other_cache.misses >= 2
