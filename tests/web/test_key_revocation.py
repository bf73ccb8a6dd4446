"""A revoked API key never writes, even on a host that holds it as verified and has not
heard of the revocation: two apps (two runtimes, as two hosts) on one database.

A consent write trusts the host's cache of verified keys for who is calling and with
which scopes, and reads the key's row again in its own transaction before it writes
(web/deps.py: still_live); these tests fail if that read is dropped.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from personvern.clock import Clock
from personvern.consent.tables import ApiKey
from web.support import (
    assert_problem,
    give,
    ledger_rows,
    make_app,
    new_key,
    open_client,
    runtime_of,
    subject,
)

APP_SCOPES = ("subjects:write", "consent:write", "decisions:read")


def test_a_key_revoked_on_another_host_never_writes(tmp_path: Path, db_url: str,
                                                    clock: Clock) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with open_client(make_app(tmp_path / "a", db_url, clock)) as a, \
            open_client(make_app(tmp_path / "b", db_url, clock)) as b:
        token = new_key(b, "a key about to leak", APP_SCOPES)
        a.headers["Authorization"] = f"Bearer {token}"
        runtime_of(a).keys.ttl = 3600.0  # host a trusts its cache for the whole test
        sid = subject(a)
        assert give(a, sid).status_code == 201  # host a now holds the key as verified
        rows = ledger_rows(a)
        # Revoked on host b in the database alone, sending no notice: as when host a's
        # listening connection dropped, or on SQLite, where no notice is ever sent.
        rt_b = runtime_of(b)
        with rt_b.transaction() as session:
            session.execute(update(ApiKey).where(ApiKey.prefix == token[:12])
                            .values(revoked_at=rt_b.clock()))
        assert runtime_of(a).keys.peek(token) is not None  # a has not heard of it

        assert_problem(give(a, sid, "partners"), 401, "revoked")
        assert ledger_rows(a) == rows
        # The refusal drops the key from a's cache: its reads are refused from now on too.
        assert runtime_of(a).keys.peek(token) is None
        assert_problem(a.get("/api/v1/decisions",
                             params={"subject": sid, "purpose": "newsletter"}), 401, "revoked")


def test_a_deleted_key_never_writes_from_the_cache(tmp_path: Path, db_url: str,
                                                   clock: Clock) -> None:
    with open_client(make_app(tmp_path, db_url, clock)) as api:
        token = new_key(api, "a key removed by hand", APP_SCOPES)
        api.headers["Authorization"] = f"Bearer {token}"
        runtime_of(api).keys.ttl = 3600.0
        sid = subject(api)
        assert give(api, sid).status_code == 201
        rows = ledger_rows(api)
        with runtime_of(api).transaction() as session:
            session.query(ApiKey).filter(ApiKey.prefix == token[:12]).delete()
        assert_problem(give(api, sid, "partners"), 401, "not valid")
        assert ledger_rows(api) == rows
