"""``personvern users`` as the privacy owner types it, through the real entry point."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factories import small_manifest_dict, write_manifest
from personvern.cli import main

GOOD = "fjord lantern pebble 42"
Pv = Callable[..., tuple[int, str, str]]


@pytest.fixture
def pv(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str],
       monkeypatch: pytest.MonkeyPatch) -> Pv:
    monkeypatch.setenv("PERSONVERN_MANIFEST", str(write_manifest(tmp_path, small_manifest_dict())))
    monkeypatch.setenv("PERSONVERN_DATABASE_URL", db_url)

    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["personvern", "users", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            main.run()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def test_add_list_disable(pv: Pv) -> None:
    code, out, err = pv("add", "kari@example.no", "--role", "owner", "--name", "Kari Nordmann",
                        "--password-stdin", stdin=GOOD + "\n")
    assert code == 0, err
    assert "added kari@example.no (Kari Nordmann) as owner" in out
    code, out, err = pv("add", "ola@example.no", "--role", "finance", "--password-stdin",
                        "--json", "--now", "2027-03-01T12:00:00+01:00", stdin=GOOD)
    assert code == 0, err
    added = json.loads(out)
    assert added["role"] == "finance" and datetime.fromisoformat(added["created_at"]) == \
        datetime(2027, 3, 1, 11, tzinfo=UTC)
    assert "password" not in out and "argon2" not in out
    code, out, _ = pv("list")
    assert out.splitlines() == ["kari@example.no  owner  Kari Nordmann",
                                "ola@example.no  finance  ola"]
    code, out, err = pv("disable", "ola@example.no", "--reason", "moved to another team")
    assert code == 0, err
    assert "disabled ola@example.no; 0 open sessions ended" in out
    code, out, _ = pv("list", "--json")
    assert [u["disabled"] for u in json.loads(out)] == [False, True]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["add", "kari@example.no", "--role", "admin"], GOOD,
     "error: unknown role 'admin'; use one of owner, privacy_officer, support, finance"),
    (["add", "kari@example.no", "--role", "owner"], "hunter2",
     "error: the password is too short: use at least 12 characters"),
    (["add", "not-an-address", "--role", "owner"], GOOD,
     "error: 'not-an-address' is not an e-mail address"),
    (["add", "kari@example.no", "--role", "owner", "--now", "tomorrow"], GOOD,
     "error: --now 'tomorrow' is not an ISO 8601 time"),
])
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    pv: Pv, args: list[str], stdin: str, message: str
) -> None:
    code, _, err = pv(*args, "--password-stdin", stdin=stdin)
    assert code == 2
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err
    assert pv("list", "--json")[1].strip() == "[]"


def test_conflicts_and_unknown_users(pv: Pv) -> None:
    assert pv("add", "kari@example.no", "--role", "owner", "--password-stdin", stdin=GOOD)[0] == 0
    code, _, err = pv("add", "kari@example.no", "--role", "support", "--password-stdin",
                      stdin=GOOD)
    assert code == 1 and err.strip() == "error: there is already a staff user kari@example.no"
    code, _, err = pv("disable", "kari@example.no", "--reason", "leaving")
    assert code == 1 and "only active owner" in err
    code, _, err = pv("disable", "nobody@example.no", "--reason", "x")
    assert code == 1 and err.strip() == "error: no staff user 'nobody@example.no'"
