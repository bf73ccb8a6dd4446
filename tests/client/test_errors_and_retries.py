"""What a developer sees when a call goes wrong, against a real ``personvern serve``."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client.serving_support import Served, create_key
from personvern.client import (
    ERRORS,
    MissingScopeError,
    NotFoundError,
    PersonvernAPIError,
    PersonvernClient,
    RouteNotFoundError,
    ServerUnavailable,
    StorageUnavailableError,
    UnauthorizedError,
    UnknownPurposeError,
    UnknownSubjectError,
)
from personvern.errors import PersonvernError
from personvern.web.problems import TYPES


def test_every_problem_type_has_its_own_exception_class() -> None:
    assert set(ERRORS) == set(TYPES)
    assert len(set(ERRORS.values())) == len(ERRORS)
    for slug, kind in ERRORS.items():
        assert kind.slug == slug and issubclass(kind, PersonvernError)


def test_a_decision_for_an_unknown_purpose_is_a_typed_error_not_false(server: Served) -> None:
    with PersonvernClient(server.url, server.key) as pv:
        kari = pv.ensure_subject(email="kari@example.no")
        for _ in range(2):  # the second answer comes from the server's decision cache
            with pytest.raises(UnknownPurposeError) as caught:
                pv.decide(kari.id, "newsleter")
            err = caught.value
            assert isinstance(err, NotFoundError) and err.status == 404
            assert err.type == "urn:personvern:problem:unknown-purpose"
            assert "the manifest declares: account, newsletter" in err.detail
        with pytest.raises(UnknownSubjectError):
            pv.decide("ext:does-not-exist", "newsletter")
        assert pv.decide(kari.id, "newsletter").allowed is False


def test_a_key_without_the_scope_and_a_wrong_key(server: Served) -> None:
    reader = create_key(server.manifest, server.db_url, "reads only", ("decisions:read",))
    with PersonvernClient(server.url, reader) as pv, pytest.raises(MissingScopeError) as caught:
        pv.ensure_subject(email="ola@example.no")
    assert "lacks the scope 'subjects:write'" in caught.value.detail
    with PersonvernClient(server.url, "pv_wrong") as pv, pytest.raises(UnauthorizedError):
        pv.decide("ext:1", "newsletter")
    with PersonvernClient(server.url + "/v0", server.key, retries=0) as pv, \
            pytest.raises(RouteNotFoundError):
        pv.decide("ext:1", "newsletter")


def test_a_server_that_is_down_is_a_clear_error_after_bounded_retries() -> None:
    with socket.socket() as s:  # nothing listens on a port just freed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with PersonvernClient(url, "pv_x", retries=2, backoff=0.1) as pv, \
            pytest.raises(ServerUnavailable) as caught:
        pv.decide("ext:1", "newsletter")
    took = time.monotonic() - started
    assert 0.3 <= took < 3  # waited 0.1 + 0.2 s between three attempts, no more
    err = caught.value
    assert isinstance(err, PersonvernAPIError) and err.status == 0
    assert f"no answer from {url} after 3 attempts" in str(err)
    assert "ConnectError" in str(err) and "personvern serve" in str(err)


def test_a_server_that_accepts_but_never_answers_does_not_hang() -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody reads them
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with PersonvernClient(url, "pv_x", timeout=0.3, retries=1, backoff=0.05) as pv, \
                pytest.raises(ServerUnavailable, match=r"after 2 attempts .*ReadTimeout"):
            pv.decide("ext:1", "newsletter")
        assert time.monotonic() - started < 3


class Flaky:
    """A server on loopback whose database is away: 503 problems, then a decision."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen = 0
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                flaky.seen += 1
                if flaky.seen <= flaky.failures:
                    status, kind = 503, "application/problem+json"
                    body = {"type": "urn:personvern:problem:storage-unavailable",
                            "title": "Storage unavailable", "status": 503,
                            "detail": "the database cannot be reached", "instance": self.path}
                else:
                    status, kind = 200, "application/json"
                    body = {"allowed": True, "purpose": "newsletter", "basis": "consent",
                            "reason": "consent given", "code": "consent_given",
                            "at": "2027-03-01T11:00:00Z", "subject_id": "s", "gpc": False}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> Flaky:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_database_away_for_a_moment_is_retried_then_named() -> None:
    with Flaky(failures=2) as flaky, PersonvernClient(flaky.url, "pv_x", backoff=0.01) as pv:
        assert pv.decide("ext:1", "newsletter").allowed and flaky.seen == 3
    with Flaky(failures=5) as flaky, PersonvernClient(flaky.url, "pv_x", retries=1,
                                                      backoff=0.01) as pv:
        with pytest.raises(StorageUnavailableError, match="database cannot be reached"):
            pv.decide("ext:1", "newsletter")
        assert flaky.seen == 2
