"""What a developer sees when a call goes wrong, against a real ``personvern serve``."""

from __future__ import annotations

import socket
import time

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
