"""``personvern keys revoke`` of a key revoked before says so, with when, and changes
nothing (exit 0, as the CLI's other no-ops); it never says "revoked" a second time as if
it had just stopped the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factories import write_manifest
from personvern.errors import NotFound
from web.support import api_manifest_dict
from web.test_cli_keys_serve import keys

NOW = "2027-03-01T12:00:00+01:00"
LATER = "2027-03-02T09:30:00+01:00"


def test_revoking_a_revoked_key_says_when_and_changes_nothing(tmp_path: Path,
                                                              db_url: str) -> None:
    manifest = str(write_manifest(tmp_path, api_manifest_dict()))
    where = ["--manifest", manifest, "--db", db_url]
    code, out = keys("create", "nettbutikk", "--scope", "admin", *where, "--now", NOW, "--json")
    assert code == 0, out
    prefix = json.loads(out)["prefix"]
    code, out = keys("revoke", prefix, *where, "--now", NOW)
    assert (code, out) == (0, f"revoked {prefix} (nettbutikk)\n")
    code, out = keys("revoke", prefix, *where, "--now", LATER)
    assert code == 0, out
    assert out == f"{prefix} (nettbutikk) was already revoked on 2027-03-01T11:00:00+00:00; " \
        "nothing changed\n"
    code, out = keys("revoke", prefix, *where, "--now", LATER, "--json")
    assert json.loads(out) == {"prefix": prefix, "name": "nettbutikk",
                               "revoked_at": "2027-03-01T11:00:00+00:00",
                               "already_revoked": True}
    listed = json.loads(keys("list", *where, "--json")[1])
    assert [k["revoked_at"] for k in listed] == ["2027-03-01T11:00:00+00:00"]
    with pytest.raises(NotFound, match="no API key 'pv_nonexistent'"):
        keys("revoke", "pv_nonexistent", *where)
