"""Sign-in limits: counted in the engine's database (shared by workers and hosts), keyed by
the normal form of an address, by the connecting address unless a proxy is trusted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from personvern.sessions.limits import Limit, RateLimited, clean, hit
from personvern.sessions.tables import RateLimitCount
from portal.support import KARI, Portal, csrf_of, new_subject
from web.support import T0, MovableClock, make_app

MINUTE = Limit("test", 3, timedelta(minutes=1))


def test_a_limit_refuses_over_it_says_how_long_and_forgives_later(db_session: Session) -> None:
    clock = MovableClock(T0)
    for _ in range(3):
        hit(db_session, clock, MINUTE, "a")
    with pytest.raises(RateLimited) as err:
        hit(db_session, clock, MINUTE, "a")
    assert err.value.status == 429 and 60 <= err.value.retry_after <= 64
    hit(db_session, clock, MINUTE, "b")  # another key is not affected
    clock.advance(seconds=30)
    with pytest.raises(RateLimited) as later:  # refused attempts are not counted
        hit(db_session, clock, MINUTE, "a")
    assert later.value.retry_after <= err.value.retry_after - 30
    clock.advance(seconds=later.value.retry_after)
    hit(db_session, clock, MINUTE, "a")
    # Only hashes are stored, never the key itself.
    assert "a" not in set(db_session.scalars(select(RateLimitCount.key_hash)))


def test_the_window_slides(db_session: Session) -> None:
    clock = MovableClock(T0)
    hit(db_session, clock, MINUTE, "a")
    clock.advance(seconds=40)
    hit(db_session, clock, MINUTE, "a")
    hit(db_session, clock, MINUTE, "a")
    clock.advance(seconds=28)  # the first attempt has left the window, the others not
    hit(db_session, clock, MINUTE, "a")
    with pytest.raises(RateLimited):
        hit(db_session, clock, MINUTE, "a")


def test_old_counts_are_cleaned(db_session: Session) -> None:
    clock = MovableClock(T0)
    for key in "abc":
        hit(db_session, clock, MINUTE, key)
    clock.advance(seconds=30)
    assert clean(db_session, clock) == 0
    clock.advance(seconds=40)
    assert clean(db_session, clock) == 3
    assert db_session.scalar(select(func.count()).select_from(RateLimitCount)) == 0


def test_racing_workers_cannot_both_take_the_last_place(db_url: str, tmp_path: Path) -> None:
    from personvern.storage.engine import create_engine_for
    from personvern.storage.migrate import upgrade
    from personvern.storage.session import make_sessionmaker, transaction

    upgrade(db_url)
    engine = create_engine_for(db_url)
    sessions = make_sessionmaker(engine)
    clock = MovableClock(T0)
    limit = Limit("race", 5, timedelta(minutes=15))
    allowed: list[bool] = []
    start = threading.Barrier(12)

    def attempt() -> None:
        start.wait()
        try:
            with transaction(sessions) as s:
                hit(s, clock, limit, "kari")
            allowed.append(True)
        except RateLimited:
            allowed.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert allowed.count(True) == 5 and len(allowed) == 12


def _ask(client: TestClient, email: str, **headers: str) -> int:
    page = client.get("/portal/sign-in")
    return client.post("/portal/sign-in", headers=headers,
                       data={"email": email, "csrf_token": csrf_of(page.text)}).status_code


def test_look_alike_addresses_count_against_one_limit(lite: Portal) -> None:
    look_alikes = ["kari.nordmann@example.no", "\u212aari.nordmann@example.no",
                   "\uff4b\uff41\uff52\uff49.nordmann@example.no", "KARI.NORDMANN@example.no",
                   "kari.nordmann@\uff45xample.no", "kari.nordmann@example.no"]
    assert [_ask(lite.client, e) for e in look_alikes] == [200] * 5 + [429]
    # The long s is one identity with s, so one count too.
    assert [_ask(lite.client, e) for e in ["ka\u017fi@example.no", "kasi@example.no"] * 3] \
        == [200] * 5 + [429]


@pytest.fixture
def shared(tmp_path: Path, db_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps (two workers, or two hosts) on one database."""
    clock = MovableClock(T0)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = make_app(tmp_path / "one", db_url, clock)
    two = make_app(tmp_path / "two", db_url, clock)
    with TestClient(one, base_url="http://127.0.0.1") as a, \
            TestClient(two, base_url="http://127.0.0.1") as b:
        yield a, b


def test_two_apps_on_one_database_share_the_limits(
        shared: tuple[TestClient, TestClient]) -> None:
    a, b = shared
    new_subject(a, KARI)
    codes = [_ask(client, KARI) for client in (a, b, a, b, a, b)]
    assert codes == [200] * 5 + [429]


def _app(tmp_path: Path, sqlite_url: str, proxies: str | None) -> TestClient:
    return TestClient(make_app(tmp_path, sqlite_url, MovableClock(T0),
                               forwarded_allow_ips=proxies),
                      base_url="http://127.0.0.1", client=("10.0.0.5", 40000))


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
        tmp_path: Path, sqlite_url: str) -> None:
    with _app(tmp_path, sqlite_url, None) as client:
        # Each request claims another client; all are counted under the peer's address.
        codes = [_ask(client, f"person{i}@example.no", **{"X-Forwarded-For": f"192.0.2.{i}"})
                 for i in range(21)]
    assert codes == [200] * 20 + [429]


def test_x_forwarded_for_from_a_configured_proxy_is_used(
        tmp_path: Path, sqlite_url: str) -> None:
    with _app(tmp_path, sqlite_url, "10.0.0.0/24") as client:
        many = [_ask(client, f"person{i}@example.no", **{"X-Forwarded-For": f"192.0.2.{i}"})
                for i in range(21)]
        one = [_ask(client, f"other{i}@example.no", **{"X-Forwarded-For": "198.51.100.7"})
               for i in range(21)]
    assert many == [200] * 21  # 21 clients behind the proxy, one request each
    assert one == [200] * 20 + [429]  # one client behind it, counted as itself


def test_the_429_page_says_when_to_retry(lite: Portal) -> None:
    for _ in range(5):
        _ask(lite.client, KARI)
    page = lite.client.get("/portal/sign-in")
    r = lite.client.post("/portal/sign-in", data={"email": KARI, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 429
    seconds = int(r.headers["Retry-After"])
    assert 1 <= seconds <= 16 * 60 and f"{seconds} sekunder" in r.text
