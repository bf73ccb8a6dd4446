"""Access packages do not pile up: each is removed once downloaded, or after its lifetime
(``PERSONVERN_EXPORT_LIFETIME_MINUTES``, an hour by default), and all at shutdown."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from personvern.errors import ConfigurationError
from personvern.settings import Settings, get_settings
from personvern.web import exports
from portal.support import KARI, OLA, Portal, csrf_of, sign_in, start_portal


def _export(portal: Portal, email: str) -> str:
    """Sign in as ``email`` and make an access package; the request's page path."""
    client = portal.client
    sign_in(client, email)
    page = client.get("/portal")
    r = client.post("/portal/export", data={"csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    location: str = r.headers["location"]
    return location


def _packages(portal: Portal) -> list[str]:
    out: Path = portal.client.app.state.export_dir  # type: ignore[attr-defined]
    return sorted(p.name for p in out.iterdir())


def test_a_package_is_removed_once_downloaded(portal: Portal) -> None:
    page_path = _export(portal, KARI)
    page = portal.client.get(page_path).text
    assert "kan lastes ned én gang, innen 60 minutter" in page
    assert len(_packages(portal)) == 1
    r = portal.client.get(page_path + "/export.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "data.json" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert _packages(portal) == []  # gone from the server once sent
    again = portal.client.get(page_path + "/export.zip")
    assert again.status_code == 410 and "Eksporten er slettet" in again.text
    page = portal.client.get(page_path).text
    assert 'id="export-removed"' in page and 'id="download"' not in page


def test_a_package_not_downloaded_goes_after_an_hour(portal: Portal) -> None:
    page_path = _export(portal, KARI)
    portal.clock.advance(minutes=59)
    sign_in(portal.client, KARI)  # the portal's session has ended by now
    assert 'id="download"' in portal.client.get(page_path).text
    portal.clock.advance(minutes=1)  # an hour after it was made: past its lifetime
    assert 'id="export-removed"' in portal.client.get(page_path).text
    r = portal.client.get(page_path + "/export.zip")
    assert r.status_code == 410 and "innen 60 minutter" in r.text
    assert _packages(portal) == []


def test_the_background_sweep_removes_expired_packages(portal: Portal) -> None:
    _export(portal, KARI)
    portal.clock.advance(minutes=30)
    _export(portal, OLA)
    portal.clock.advance(minutes=31)  # Kari's is 61 minutes old, Ola's 31
    out: Path = portal.client.app.state.export_dir  # type: ignore[attr-defined]
    before = _packages(portal)
    assert len(before) == 2

    async def one_round() -> None:
        with anyio.move_on_after(2.5):  # the loop sweeps every second at this lifetime
            await exports.sweep_periodically(portal.runtime, out, timedelta(minutes=60) / 3600)

    anyio.run(one_round)
    # A lifetime of one second: both are past it now.
    assert _packages(portal) == []


def test_remove_expired_keeps_what_is_within_its_lifetime(portal: Portal) -> None:
    _export(portal, KARI)
    portal.clock.advance(minutes=30)
    _export(portal, OLA)
    portal.clock.advance(minutes=31)
    out: Path = portal.client.app.state.export_dir  # type: ignore[attr-defined]
    first = _packages(portal)
    assert exports.remove_expired(portal.runtime, out, timedelta(hours=1)) == 1
    left = _packages(portal)
    assert len(left) == 1 and left[0] in first
    (out / "access-0123abcd.zip").write_bytes(b"no request made this")  # of no request
    assert exports.remove_expired(portal.runtime, out, timedelta(hours=1)) == 1
    assert _packages(portal) == left


def test_a_part_left_by_a_killed_run_is_removed_unless_its_request_is_running(
        portal: Portal) -> None:
    """A SIGKILL mid-write leaves .access-<id>.zip.part (tests/faults): it holds the
    person's data, so the sweeper removes it once no run can still complete it."""
    from personvern.requests.engine import Context, Requester, open_request

    rt = portal.runtime
    out: Path = portal.client.app.state.export_dir  # type: ignore[attr-defined]
    with rt.transaction() as s:
        req = open_request(s, Context(rt.consent, rt.clock), "access", subject=portal.kari,
                           by=Requester("owner", verified_by="known"), channel="phone").request
        req.state = "in_progress"  # as a run that is writing its package right now
        rid = req.id
    part = out / f".access-{rid}.zip.part"
    part.write_bytes(b"half a zip")
    orphan = out / ".access-0123abcd.zip.part"
    orphan.write_bytes(b"of no request")
    assert exports.remove_expired(portal.runtime, out, timedelta(hours=1)) == 1
    assert part.exists() and not orphan.exists()
    with rt.transaction() as s:
        s.execute(text("UPDATE requests SET state = 'waiting' WHERE id = :id"), {"id": rid})
    assert exports.remove_expired(portal.runtime, out, timedelta(hours=1)) == 1
    assert not part.exists()


@pytest.fixture
def short(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[Portal]:
    monkeypatch.setenv("PERSONVERN_EXPORT_LIFETIME_MINUTES", "5")
    yield from start_portal(tmp_path, sqlite_url)


def test_the_lifetime_is_configurable(short: Portal) -> None:
    page_path = _export(short, KARI)
    assert "innen 5 minutter" in short.client.get(page_path).text
    short.clock.advance(minutes=5)
    sign_in(short.client, KARI)
    assert short.client.get(page_path + "/export.zip").status_code == 410


@pytest.mark.parametrize("value", ["0", "20000", "en time"])
def test_a_bad_lifetime_is_a_clear_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONVERN_EXPORT_LIFETIME_MINUTES", value)
    with pytest.raises(ConfigurationError, match="PERSONVERN_EXPORT_LIFETIME_MINUTES"):
        get_settings()
    assert Settings().export_lifetime_minutes == 60


def test_packages_are_removed_when_the_server_stops(tmp_path: Path, sqlite_url: str) -> None:
    started = start_portal(tmp_path, sqlite_url)
    portal = next(started)
    _export(portal, KARI)
    out: Path = portal.client.app.state.export_dir  # type: ignore[attr-defined]
    assert any(out.iterdir())
    with pytest.raises(StopIteration):
        next(started)  # leaves the app's lifespan
    assert not out.exists()
