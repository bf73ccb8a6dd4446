"""What a signed-in portal page sends SQLite: its reads, and nothing that costs the next
page its prepared statements.

A page's reads run without a transaction. On SQLite they did so by switching the pooled
connection to autocommit; SQLAlchemy switches it back when the connection returns to the
pool with ``PRAGMA read_uncommitted``, after which SQLite re-prepares every statement the
connection has cached: each page parsed and planned all its queries again (a fifth of a
page's CPU). The driver already runs reads outside a transaction, so no switch is needed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from portal.support import KARI, Portal, sign_in

PAGES = ("/portal", "/portal/consents", "/portal/requests", "/portal/details")


def test_pages_send_no_begin_and_keep_sqlites_prepared_statements(lite: Portal) -> None:
    sign_in(lite.client, KARI)
    sent: list[str] = []

    def trace(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.set_trace_callback(sent.append)

    engine = lite.runtime.engine
    event.listen(engine, "checkout", trace)
    try:
        for _ in range(2):
            for path in PAGES:
                r = lite.client.get(path, follow_redirects=False)
                assert r.status_code == 200 and 'action="/portal/sign-out"' in r.text, path
    finally:
        event.remove(engine, "checkout", trace)
    assert any("FROM web_sessions" in s for s in sent)  # the trace saw the pages' reads
    assert [s for s in sent if s.upper().startswith(("BEGIN", "COMMIT", "PRAGMA"))] == []
