"""Every identity in a mapped dataset is a person with rights, registered or not.

The demo's newsletter list holds addresses of people who never made an account. Their
data rests on consent (GDPR Art. 6(1)(a)); the controller must be able to show it
(Art. 7(1)), and they have the rights of Art. 15 and 17 like anyone (Art. 4(1): a data
subject is whoever the data is about). So: a sweep says loudly that it cannot reach them
while the engine does not know them; a request from such an address finds it; ``subject
sync`` registers them; and a consent that has run out ends their rows.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from demo_support import demo_cli, fresh_demo

LATER = "2046-12-01T12:00:00+01:00"  # twenty years on: every newsletter consent has lapsed


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    return fresh_demo(tmp_path, 30)


def pv(demo: Path, *args: str, now: str = "2026-12-02T10:00:00+01:00") -> tuple[int, str]:
    done = demo_cli(demo, *args, now=now)
    return done.returncode, done.stdout + done.stderr


def service_rows(demo: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(demo / "service.db") as conn:
        return conn.execute(sql).fetchall()


def list_addresses(demo: Path) -> list[str]:
    return [r[0] for r in service_rows(demo, "SELECT email FROM marketing_list ORDER BY id")]


def test_a_sweep_says_it_cannot_reach_people_the_engine_does_not_know(demo: Path) -> None:
    addresses = list_addresses(demo)
    assert addresses, "the demo's newsletter list is empty"
    code, out = pv(demo, "retention", "plan", now=LATER)
    assert code == 0, out
    [line] = [x for x in out.splitlines() if x.startswith("not enforced: app.marketing_list")]
    assert f": {len(addresses)} rows hold an identity (email) of nobody the engine knows" \
        in line
    assert "under rule unsubscribed" in line and "personvern subject sync" in line
    code, out = pv(demo, "retention", "plan", "--json", now=LATER)
    [found] = json.loads(out)["strangers"]
    assert (found["table"], found["rows"]) == ("marketing_list", len(addresses))
    assert all(isinstance(k, int) for k in found["examples"])  # keys, never the addresses
    # The run keeps them and says the same: nothing it cannot date is deleted.
    code, out = pv(demo, "retention", "run", "--reason", "yearly sweep", now=LATER)
    assert code == 0, out
    assert list_addresses(demo) == addresses
    assert "not enforced: app.marketing_list" in out


def test_a_request_from_an_address_only_the_list_holds_reaches_its_row(demo: Path) -> None:
    address = list_addresses(demo)[0]
    code, out = pv(demo, "request", "open", "access", "--email", address,
                   "--verified-by", "answered from the address", "--json")
    assert code == 0, out
    request = json.loads(out)["id"]
    code, out = pv(demo, "request", "run", request, "--reason", "access asked by e-mail",
                   now="2026-12-02T10:05:00+01:00")
    assert code == 0, out
    with zipfile.ZipFile(demo / f"access-{request}.zip") as package:
        text = "\n".join(package.read(n).decode("utf-8", "replace") for n in package.namelist())
    assert address in text and "marketing_list" in text
    # Where the person was found is audited, never their address.
    with sqlite3.connect(demo / "personvern.db") as conn:
        [(details,)] = conn.execute("SELECT details FROM audit_events "
                                    "WHERE action = 'subject.found_in_dataset'").fetchall()
    assert "app.marketing_list.email" in details and address not in details
    # An erasure request from another list address removes its row, and only that one.
    other = list_addresses(demo)[1]
    code, out = pv(demo, "request", "open", "erasure", "--subject", other,
                   "--verified-by", "answered from the address", "--json")
    assert code == 0, out
    code, out = pv(demo, "request", "run", json.loads(out)["id"], "--reason", "erasure asked",
                   now="2026-12-02T10:06:00+01:00")
    assert code == 0, out
    assert other not in list_addresses(demo) and address in list_addresses(demo)


def test_an_address_nobody_holds_is_refused_in_plain_words(demo: Path) -> None:
    before = service_rows(demo, "SELECT count(*) FROM marketing_list")
    code, out = pv(demo, "request", "open", "access", "--email", "ingen.her@example.no",
                   "--verified-by", "phone call")
    assert code != 0
    assert "no subject with the e-mail address 'ingen.her@example.no', and no mapped " \
        "dataset holds it" in out
    assert service_rows(demo, "SELECT count(*) FROM marketing_list") == before
    with sqlite3.connect(demo / "personvern.db") as conn:
        assert conn.execute("SELECT count(*) FROM requests").fetchone() == (0,)


def test_sync_registers_them_and_a_lapsed_consent_ends_their_rows(demo: Path) -> None:
    addresses = list_addresses(demo)
    code, out = pv(demo, "subject", "sync", "--dry-run")
    assert code == 0, out
    assert f"would register {len(addresses)} rows" in out
    with sqlite3.connect(demo / "personvern.db") as conn:
        before = conn.execute("SELECT count(*) FROM subjects").fetchone()[0]
    code, out = pv(demo, "subject", "sync")
    assert code == 0, out
    assert f"registered {len(addresses)} people the engine did not know" in out
    with sqlite3.connect(demo / "personvern.db") as conn:
        assert conn.execute("SELECT count(*) FROM subjects").fetchone()[0] \
            == before + len(addresses)
    # Run again: nobody new.
    assert "registered 0 people" in pv(demo, "subject", "sync")[1]
    # Known now, but with no consent on record for the newsletter: said, not swept.
    code, out = pv(demo, "retention", "plan", now=LATER)
    assert f"{len(addresses)} people with no consent on record for purpose newsletter " \
        "(GDPR Art. 7(1))" in out
    assert "of nobody the engine knows" not in out
    # One gives consent; the newsletter's consent runs out after two years
    # (expires_after), so twenty years on the rule unsubscribed ends that row.
    code, out = pv(demo, "consent", "give", addresses[0], "newsletter", "--channel", "import",
                   now="2026-12-03T10:00:00+01:00")
    assert code == 0, out
    code, out = pv(demo, "retention", "plan", "--json", now="2028-12-01T12:00:00+01:00")
    assert not [r for r in json.loads(out)["rules"] if r["rule"] == "unsubscribed"], \
        "a consent still in force ended a row"
    code, out = pv(demo, "retention", "run", "--reason", "yearly sweep", now=LATER)
    assert code == 0, out
    assert addresses[0] not in list_addresses(demo)
    assert list_addresses(demo) == addresses[1:]
    assert f"{len(addresses) - 1} people with no consent on record" in out


def test_a_table_naming_an_unknown_purpose_is_refused_with_its_place(demo: Path) -> None:
    path = demo / "personvern.yaml"
    text = path.read_text(encoding="utf-8").replace("purposes: [newsletter]",
                                                    "purposes: [newsleter]")
    path.write_text(text, encoding="utf-8")
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "[newsleter]" in x)
    code, out = pv(demo, "retention", "plan")
    assert code == 2, out
    assert f"personvern.yaml:{line}:" in out and "newsleter" in out and "newsletter" in out


def test_sync_with_a_dataset_that_cannot_be_reached_says_so_and_registers_nobody(
        demo: Path) -> None:
    path = demo / "personvern.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        str(demo / "service.db"), str(demo / "gone" / "service.db")), encoding="utf-8")
    with sqlite3.connect(demo / "personvern.db") as conn:
        before = conn.execute("SELECT count(*) FROM subjects").fetchone()
    code, out = pv(demo, "subject", "sync")
    assert code != 0
    assert f"{demo / 'gone'} does not exist" in out, out
    assert "Traceback" not in out
    with sqlite3.connect(demo / "personvern.db") as conn:
        assert conn.execute("SELECT count(*) FROM subjects").fetchone() == before
