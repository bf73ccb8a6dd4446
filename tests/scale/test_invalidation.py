"""Caches of two ``serve`` hosts on one PostgreSQL follow each other by NOTIFY: a consent
written on host a is decided on host b within a second (the cache's own look at the ledger
runs only every five seconds meanwhile), and a key revoked anywhere stops working on b
as fast (its cache's own bound is five seconds)."""

from __future__ import annotations

import time

import httpx
import pytest

from cli_inprocess import run_personvern
from client.serving_support import create_key
from scale.support import Cluster, client_on, until

pytestmark = pytest.mark.postgres
APP_SCOPES = ("subjects:write", "consent:write", "decisions:read")
# The bound the notices keep; the caches' fallbacks (5 s) are well beyond it.
BOUND_S = 1.0


def decided_on(client: httpx.Client, subject: str, purpose: str) -> bool:
    """Host's answer to "may ``purpose`` be carried out for ``subject``?"."""
    answer = client.get("/api/v1/decisions", params={"subject": subject, "purpose": purpose})
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["allowed"])


def test_a_consent_given_on_one_host_is_decided_on_the_other_within_a_second(
        hosts: Cluster) -> None:
    """GDPR Art. 7(1) and 7(3): host b answers by the consent host a just recorded, and by
    its withdrawal, within the bound, though b had the person's earlier answer cached."""
    key = create_key(hosts.manifest, hosts.db_url, "the web app", APP_SCOPES)
    with client_on(hosts, "a", key) as a, client_on(hosts, "b", key) as b:
        subject = a.post("/api/v1/subjects", json={"email": "siri.berg@example.no"})
        sid = subject.json()["id"]
        for _ in range(3):  # b loads the person's (empty) ledger and keeps it
            assert decided_on(b, sid, "newsletter") is False
        lags = []
        for type_, allowed in (("consent_given", True), ("consent_withdrawn", False)):
            written = a.post("/api/v1/consents", json={
                "subject": sid, "purpose": "newsletter", "type": type_})
            assert written.status_code == 201, written.text
            at = time.monotonic()
            until(lambda allowed=allowed: decided_on(b, sid, "newsletter") is allowed,
                  5, f"host b decides by {type_}")
            lags.append(time.monotonic() - at)
        assert max(lags) < BOUND_S, lags


def test_a_key_revoked_is_refused_on_every_host_within_a_second(hosts: Cluster) -> None:
    key = create_key(hosts.manifest, hosts.db_url, "a key about to leak", APP_SCOPES)
    with client_on(hosts, "b", key) as b:
        subject = b.post("/api/v1/subjects", json={"email": "jonas.lie@example.no"})
        sid = subject.json()["id"]
        assert decided_on(b, sid, "account") is True  # b now holds the key as verified
        done = run_personvern("keys", "revoke", key[:12], "--manifest", str(hosts.manifest),
                              "--db", hosts.db_url)
        assert done.returncode == 0, done.stderr
        at = time.monotonic()
        until(lambda: b.get("/api/v1/decisions", params={
            "subject": sid, "purpose": "account"}).status_code == 401, 6,
              "host b refuses the revoked key")
        assert time.monotonic() - at < BOUND_S
