"""The limit for HTTP benchmarks: a bare FastAPI app, a constant or the hand-written SQL.

``/constant`` and ``/page`` compute from nothing. The ``/peer/...`` routes (benchmarks/
peer.py) do the work of an access request, an erasure, a consent write and a decision as
a bare app would: the SQL below, on the database named by ``BENCH_BARE_DATABASE_URL``,
no checks, no audit, no ledger.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, create_engine, make_url, text

# The hand-written SQL, shared with benchmarks/peer.py so both limits do the same work.
ACCESS_SQL = (
    "SELECT * FROM customer WHERE email = :email",
    "SELECT o.* FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = :email",
)
ERASE_SQL = (
    "DELETE FROM orders WHERE customer_id IN (SELECT id FROM customer WHERE email = :email)",
    "DELETE FROM customer WHERE email = :email",
)
CONSENT_TABLE = (
    "CREATE TABLE bare_consents (id bigserial PRIMARY KEY, subject text NOT NULL, "
    "purpose text NOT NULL, type text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX bare_consents_subject ON bare_consents (subject, purpose, id)",
)
CONSENT_WRITE_SQL = ("INSERT INTO bare_consents (subject, purpose, type) "
                     "VALUES (:subject, :purpose, :type) RETURNING id")
DECISION_SQL = ("SELECT type FROM bare_consents WHERE subject = :subject AND purpose = :purpose "
                "ORDER BY id DESC LIMIT 1")

app = FastAPI()
_URL = os.environ.get("BENCH_BARE_DATABASE_URL")
# The pool as large as the benchmark's clients (32), so no request waits for a connection.
# The driver the engine uses too (psycopg 3), whatever the URL names.
_engine: Engine | None = (create_engine(make_url(_URL).set(drivername="postgresql+psycopg"),
                                        pool_size=32, max_overflow=0) if _URL else None)


def _db() -> Engine:
    if _engine is None:
        raise HTTPException(503, "BENCH_BARE_DATABASE_URL is not set")
    return _engine


@app.get("/constant")
def constant() -> dict[str, bool]:
    """The same shape of answer as a decision, computed from nothing."""
    return {"allowed": True}


PAGE = ("<!DOCTYPE html>\n<html lang=\"nb\"><head><meta charset=\"utf-8\"><title>Side</title>"
        "</head><body><main><h1>Side</h1><p>En fast side, laget av ingenting.</p></main>"
        "</body></html>\n")


@app.get("/page", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """A constant HTML page: the limit for the web benchmark's pages."""
    return HTMLResponse(PAGE)


@app.get("/peer/access")
def access(email: str) -> dict[str, list[dict[str, Any]]]:
    """The customer's row and orders, as JSON."""
    with _db().connect() as conn:
        customer, orders = (conn.execute(text(q), {"email": email}).mappings().all()
                            for q in ACCESS_SQL)
    return {"customer": [dict(r) for r in customer], "orders": [dict(r) for r in orders]}


@app.post("/peer/erase")
def erase(email: str) -> dict[str, int]:
    """The customer's orders and row deleted in one transaction."""
    with _db().begin() as conn:
        counts = [conn.execute(text(q), {"email": email}).rowcount for q in ERASE_SQL]
    return {"orders": counts[0], "customer": counts[1]}


@app.post("/peer/consents", status_code=201)
def consent(body: dict[str, str]) -> dict[str, int]:
    """One consent event appended and committed."""
    with _db().begin() as conn:
        seq = conn.execute(text(CONSENT_WRITE_SQL), {
            "subject": body["subject"], "purpose": body["purpose"], "type": body["type"],
        }).scalar_one()
    return {"seq": seq}


@app.get("/peer/decisions")
def decision(subject: str, purpose: str) -> dict[str, bool]:
    """Allowed when the subject's last event for the purpose gave consent."""
    with _db().connect() as conn:
        last = conn.execute(text(DECISION_SQL), {"subject": subject, "purpose": purpose}
                            ).scalar_one_or_none()
    return {"allowed": last == "consent_given"}
