"""A batch's start reads its people's subjects and identities as columns (issue 15, a
batch's CPU): each job must be the one :func:`snapshot` reads one request at a time
through the mapped classes, sealed, plain (written before encryption) and erased values
alike."""

from __future__ import annotations

from sqlalchemy import text

from personvern.crypto.keyring import keyring_for
from personvern.errors import NotFound
from personvern.requests.batch import open_erasures
from personvern.requests.engine import Requests, get_request
from personvern.requests.jobs import snapshot, snapshot_many
from personvern.runtime import Runtime

PEOPLE = [f"ext:{n}" for n in (3, 5, 8, 12, 17, 31)]


def test_a_batch_reads_each_job_as_its_own_snapshot(rt: Runtime, service: Requests) -> None:
    ids, refused = open_erasures(service, PEOPLE, verified_by="called back on file")
    assert refused == []
    with rt.transaction() as s:
        subjects = [get_request(s, rid).subject_id for rid in ids]
        conn = s.connection()
        # One person's e-mail written before encryption (the plain value in the lookup
        # column); another's key destroyed with their identities still there.
        conn.execute(text("UPDATE subject_identities SET sealed = NULL, value = :v "
                          "WHERE subject_id = :s AND kind = 'email'"),
                     {"v": "legacy@example.no", "s": subjects[1]})
        conn.execute(text("UPDATE subject_keys SET wrapped = NULL WHERE subject_id = :s"),
                     {"s": subjects[2]})
        # The last one's subject erased already: refused as snapshot refuses it.
        conn.execute(text("UPDATE subjects SET erased_at = '2026-01-01 00:00:00' "
                          "WHERE id = :s"), {"s": subjects[-1]})
    keyring_for(None).clear_cache()
    with rt.transaction() as s:
        together = snapshot_many(s, [get_request(s, rid) for rid in ids])
    keyring_for(None).clear_cache()
    alone: dict[str, object] = {}
    for rid in ids:
        with rt.transaction() as s:
            try:
                alone[rid] = snapshot(s, get_request(s, rid))
            except NotFound as exc:
                alone[rid] = exc
    assert list(together) == ids
    for rid in ids[:-1]:
        assert together[rid] == alone[rid]
        assert list(together[rid].identities.items()) == \
            list(alone[rid].identities.items())  # type: ignore[attr-defined]
    assert str(together[ids[-1]]) == str(alone[ids[-1]])
    assert isinstance(together[ids[-1]], NotFound)
    # The cases were there to compare: a plain value, an erased one, sealed ones.
    values = [v for rid in ids[:-1] for vs in together[rid].identities.values()  # type: ignore[union-attr]
              for v in vs]
    assert "legacy@example.no" in values and "[erased]" in values
    assert len(set(values)) > 6
