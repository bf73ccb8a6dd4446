"""`personvern check --datasets`: the data map against the live database. Each test changes
the demo service the way a developer's migration would, and expects the finding a privacy
owner needs, at the manifest's line, with check's own ids and formats."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from stdnum.no import fodselsnummer

from cli_inprocess import run_personvern
from faults.support import copy_demo
from personvern.demo.init import init_demo

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("drift-demo")
    init_demo(directory, 40, now=NOW)
    return directory


@pytest.fixture
def demo(template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo, its manifest pointing at the copy's service.db."""
    return copy_demo(template, tmp_path)


def check(demo: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    done = run_personvern("check", str(demo / "personvern.yaml"), "--datasets",
                          "--format", "json", *extra)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, [f for f in json.loads(done.stdout)
                             if str(f["rule"]) >= "PV080" and str(f["rule"]) <= "PV085"]


def line_of(demo: Path, text: str) -> int:
    lines = (demo / "personvern.yaml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def service(demo: Path, *sql: str) -> None:
    with sqlite3.connect(demo / "service.db") as conn:
        for statement in sql:
            conn.execute(statement)


def test_the_demo_map_matches_its_database(demo: Path) -> None:
    code, found = check(demo)
    assert found == [] and code == 0


def test_plain_check_reads_no_database(demo: Path) -> None:
    (demo / "service.db").unlink()
    done = run_personvern("check", str(demo / "personvern.yaml"), "--format", "json")
    assert done.returncode == 0
    assert not [f for f in json.loads(done.stdout) if str(f["rule"]).startswith("PV08")]


def test_a_renamed_column_is_an_error_at_its_line_and_its_new_name_is_undeclared(
        demo: Path) -> None:
    service(demo, "ALTER TABLE users RENAME COLUMN phone TO mobile")
    code, found = check(demo)
    assert code == 1
    [missing] = [f for f in found if f["rule"] == "PV081"]
    assert missing["severity"] == "error"
    assert missing["line"] == line_of(demo, "{name: phone,")
    assert "app.users has no column 'phone'" in str(missing["message"])
    [undeclared] = [f for f in found if f["rule"] == "PV082"]
    assert "app.users.mobile holds personal data the map does not declare: phone number" \
        in str(undeclared["message"])


def test_a_dropped_table_is_an_error(demo: Path) -> None:
    service(demo, "ALTER TABLE marketing_list RENAME TO newsletter_signups")
    code, found = check(demo)
    assert code == 1
    [gone] = [f for f in found if f["rule"] == "PV080"]
    assert gone["line"] == line_of(demo, "- name: marketing_list")
    assert any(f["rule"] == "PV082" and "newsletter_signups.email" in str(f["message"])
               for f in found)


def test_national_identity_numbers_nobody_declared_are_an_error(demo: Path) -> None:
    numbers = []
    n = 0
    while len(numbers) < 30:
        n += 1
        base = f"{n % 28 + 1:02d}0{n % 9 + 1}90{100 + n:03d}"
        first = fodselsnummer.calc_check_digit1(base)
        candidate = base + first + fodselsnummer.calc_check_digit2(base + first)
        if len(candidate) == 11 and fodselsnummer.is_valid(candidate):
            numbers.append(candidate)
    service(demo, "CREATE TABLE kyc (id INTEGER PRIMARY KEY, ref TEXT)",
            *[f"INSERT INTO kyc (ref) VALUES ('{v}')" for v in numbers])
    code, found = check(demo)
    assert code == 1
    [hit] = [f for f in found if f["rule"] == "PV084"]
    assert "app.kyc.ref holds fødselsnummer or D-nummers" in str(hit["message"])
    assert "personopplysningsloven § 12" in str(hit["source"])


def test_a_declared_category_the_values_do_not_show_is_a_warning(demo: Path) -> None:
    manifest = demo / "personvern.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("{name: ip, categories: [user.device.ip_address]}",
                                     "{name: ip, categories: [user.contact.email]}"),
                        encoding="utf-8")
    code, found = check(demo)
    [hit] = [f for f in found if f["rule"] == "PV083"]
    assert hit["severity"] == "warning" and code == 0
    assert "app.login_events.ip is declared user.contact.email (e-mail address), but none " \
           "of the 50 sampled values tried is one; they match: IP address" in str(hit["message"])


def test_a_dataset_that_cannot_be_read_is_an_error_and_the_others_are_still_read(
        demo: Path) -> None:
    manifest = demo / "personvern.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("datasets:\n", "datasets:\n  - id: crm\n"
                                     "    url_env: CRM_DATABASE_URL\n", 1), encoding="utf-8")
    service(demo, "ALTER TABLE users RENAME COLUMN phone TO mobile")
    code, found = check(demo)
    assert code == 1
    [down] = [f for f in found if f["rule"] == "PV085"]
    assert "CRM_DATABASE_URL is not set" in str(down["message"])
    assert any(f["rule"] == "PV081" for f in found)  # the app dataset was still read


def test_the_text_format_reads_like_every_other_finding(demo: Path) -> None:
    service(demo, "ALTER TABLE users RENAME COLUMN phone TO mobile")
    done = run_personvern("check", str(demo / "personvern.yaml"), "--datasets")
    assert done.returncode == 1
    line = line_of(demo, "{name: phone,")
    assert f"personvern.yaml:{line}:" in done.stdout
    assert "error PV081 app.users has no column 'phone'" in done.stdout


def promise_no_card_data(demo: Path) -> None:
    """Seed 000's and 004's "vi lagrer ikke kortinformasjon", as the demo's commitment."""
    manifest = demo / "personvern.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text + "\ncommitments:\n  - kind: no_card_data\n", encoding="utf-8")


def card_findings(demo: Path) -> tuple[int, list[dict[str, object]]]:
    done = run_personvern("check", str(demo / "personvern.yaml"), "--datasets",
                          "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, [f for f in json.loads(done.stdout)
                             if f["rule"] in ("PV084", "PV088", "PV090")]


def card_numbers(count: int) -> list[str]:
    """Test card numbers: 16 digits with a Luhn check digit (ISO/IEC 7812-1), none issued."""
    from stdnum import luhn

    return [(body := f"400000{n:09d}") + luhn.calc_check_digit(body) for n in range(count)]


def test_card_numbers_despite_a_no_card_data_commitment_are_an_error(demo: Path) -> None:
    promise_no_card_data(demo)
    service(demo, "CREATE TABLE checkout_log (id INTEGER PRIMARY KEY, pan TEXT)",
            *[f"INSERT INTO checkout_log (pan) VALUES ('{v}')" for v in card_numbers(30)])
    code, found = card_findings(demo)
    assert code == 1
    [broken] = [f for f in found if f["rule"] == "PV090"]
    assert broken["severity"] == "error"
    assert "app.checkout_log.pan holds card numbers" in str(broken["message"])
    assert "commits to storing no card data" in str(broken["message"])
    # The commitment's own line: what Personvern checks of it, and what it cannot.
    [note] = [f for f in found if f["rule"] == "PV088"]
    assert note["line"] == line_of(demo, "- kind: no_card_data")
    assert "outside the mapped datasets" in str(note["message"])
    # Undeclared card numbers are PV084 with or without the promise.
    assert any(f["rule"] == "PV084" for f in found)


def test_a_declared_card_column_breaks_the_commitment_too(demo: Path) -> None:
    promise_no_card_data(demo)
    manifest = demo / "personvern.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("{name: ip, categories: [user.device.ip_address]}",
                                     "{name: ip, categories: [user.financial.credit_card]}"),
                        encoding="utf-8")
    code, found = card_findings(demo)
    [broken] = [f for f in found if f["rule"] == "PV090"]
    assert code == 1 and broken["line"] == line_of(demo, "{name: ip,")
    assert "app.login_events.ip is declared user.financial.credit_card" in str(
        broken["message"])


def test_no_card_data_kept_is_no_finding_but_the_note(demo: Path) -> None:
    promise_no_card_data(demo)
    code, found = card_findings(demo)
    assert [f["rule"] for f in found] == ["PV088"] and code == 0
    # Without the promise, card numbers are only the undeclared-identifier error.
    (demo / "personvern.yaml").write_text(
        (demo / "personvern.yaml").read_text(encoding="utf-8").replace(
            "\ncommitments:\n  - kind: no_card_data\n", ""), encoding="utf-8")
    service(demo, "CREATE TABLE checkout_log (id INTEGER PRIMARY KEY, pan TEXT)",
            *[f"INSERT INTO checkout_log (pan) VALUES ('{v}')" for v in card_numbers(30)])
    code, found = card_findings(demo)
    assert code == 1 and [f["rule"] for f in found] == ["PV084"]
