"""`personvern discover`: the data map proposed for a database nobody mapped, measured against
the demo service's own hand-written map, and what bad databases and odd columns get."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from stdnum.no import fodselsnummer

from cli_inprocess import run_personvern
from personvern.demo.init import init_demo
from personvern.discover.report import as_yaml
from personvern.discover.scan import Discovery, discover
from personvern.manifest.loader import parse_manifest

NOW = datetime(2027, 1, 4, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("discover-demo")
    init_demo(directory, 60, now=NOW)
    return directory


def mapped(manifest: dict[str, object]) -> tuple[set[tuple[str, str, str]], set[tuple[str, str]],
                                                 set[tuple[str, str, str]]]:
    """(table, column, category), (table, column) with an identity, (table, column, to)."""
    [dataset] = manifest["datasets"]  # type: ignore[index]
    columns, identities, references = set(), set(), set()
    for table in dataset["tables"]:
        for column in table.get("columns", []):
            for category in column.get("categories", []):
                columns.add((table["name"], column["name"], category))
            if column.get("identity"):
                identities.add((table["name"], column["name"]))
        for ref in table.get("references", []):
            references.add((table["name"], ref["column"], ref["to"]))
    return columns, identities, references


def test_the_proposed_map_finds_what_the_demo_map_declares(demo: Path) -> None:
    truth = yaml.safe_load((demo / "personvern.yaml").read_text(encoding="utf-8"))
    found = discover(f"sqlite:///{demo / 'service.db'}", sample=200)
    proposal = yaml.safe_load(as_yaml([found], ["app"]))
    want_columns, want_ids, want_refs = mapped(truth)
    got_columns, got_ids, got_refs = mapped(proposal)
    hits = want_columns & got_columns
    recall, precision = len(hits) / len(want_columns), len(hits) / len(got_columns)
    # invoices.billed_name holds "Kunde 3" where no name was given: a pseudonym for the payer,
    # found by its shape and its column's name like any other name.
    assert recall == 1.0, sorted(want_columns - got_columns)
    assert precision >= 0.9, sorted(got_columns - want_columns)
    assert want_refs <= got_refs, sorted(want_refs - got_refs)
    assert want_ids <= got_ids, sorted(want_ids - got_ids)
    assert "last_login_at" in {d for t in found.tables if t.name == "users" for d in t.dates}


def test_the_fragment_is_a_valid_manifest_datasets_section(demo: Path) -> None:
    found = discover(f"sqlite:///{demo / 'service.db'}", sample=50)
    manifest = yaml.safe_load((demo / "personvern.yaml").read_text(encoding="utf-8"))
    manifest["datasets"] = yaml.safe_load(as_yaml([found], ["app"]))["datasets"]
    # Purposes refer to the demo's own dataset tables nowhere: the fragment stands alone.
    loaded = parse_manifest(yaml.safe_dump(manifest, allow_unicode=True))
    assert [d.id for d in loaded.manifest.datasets] == ["app"]


def test_evidence_is_masked_and_no_value_is_printed(demo: Path) -> None:
    with sqlite3.connect(demo / "service.db") as conn:
        emails = [r[0] for r in conn.execute("SELECT email FROM users")]
        phones = [r[0] for r in conn.execute("SELECT phone FROM users WHERE phone IS NOT NULL")]
    done = run_personvern("discover", f"sqlite:///{demo / 'service.db'}", "--sample", "100")
    assert done.returncode == 0, done.stderr
    assert "identity: email" in done.stdout
    assert not [v for v in emails + phones if v in done.stdout]
    as_json = run_personvern("discover", f"sqlite:///{demo / 'service.db'}", "--json")
    assert as_json.returncode == 0 and not [v for v in emails if v in as_json.stdout]


def test_discovery_changes_nothing_in_the_database(demo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "service.db"
    copy.write_bytes((demo / "service.db").read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    before = copy.read_bytes()
    discover(f"sqlite:///{copy}")
    assert copy.read_bytes() == before
    assert not (tmp_path / "service.db-wal").exists()


def odd_database(path: Path) -> str:
    """Columns that must not fool discovery: binary, mostly NULL, misnamed, bad checksums."""
    valid: list[str] = []
    n = 0
    while len(valid) < 40:  # some birth dates and numbers have no valid check digit: skip
        n += 1
        born, individual = f"{n % 28 + 1:02d}0{n % 9 + 1}85", f"{100 + n:03d}"
        first = fodselsnummer.calc_check_digit1(born + individual)
        candidate = born + individual + first
        candidate += fodselsnummer.calc_check_digit2(candidate)
        if len(candidate) == 11 and fodselsnummer.is_valid(candidate):
            valid.append(candidate)
    # The same numbers with the last check digit changed: not fødselsnummer at all.
    wrong = [v[:-1] + str((int(v[-1]) + 1) % 10) for v in valid]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, fnr TEXT, "
                     "backup_phone TEXT, photo BLOB, contact TEXT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, NULL, ?, ?)",
            [(i, f"Kunde nummer {i}",  # a column named email without one e-mail in it
              valid[i] if i < 20 else wrong[i], bytes([i]) * 64,
              f"p{i}@example.no" if i % 10 == 0 else None)  # nine in ten NULL
             for i in range(40)])
    return f"sqlite:///{path}"


def column(found: Discovery, table: str, name: str):  # type: ignore[no-untyped-def]
    return next(c for t in found.tables if t.name == table for c in t.columns if c.name == name)


def test_odd_columns_are_said_for_what_they_are(tmp_path: Path) -> None:
    found = discover(odd_database(tmp_path / "odd.db"))
    email = column(found, "people", "email")
    assert not email.proposed and email.confidence < 0.6
    assert "suggests e-mail address: none of the 40 sampled values tried is one" in email.note
    fnr = column(found, "people", "fnr")
    assert fnr.kind == "fødselsnummer or D-nummer" and fnr.matched == 20  # wrong ones not
    assert fnr.confidence == 0.55 and not fnr.proposed  # half: said, not proposed
    empty = column(found, "people", "backup_phone")
    assert not empty.proposed and "no value to check" in empty.note
    photo = column(found, "people", "photo")
    assert photo.kind is None and photo.note == "binary: not classified by value"
    sparse = column(found, "people", "contact")
    assert sparse.proposed and sparse.kind == "e-mail address" and sparse.non_null == 4
    # The table finds a person (contact), yet none of its odd columns is lifted to personal
    # data by Art. 4(1) alone: each keeps what its own values and name said.
    assert not [c.name for c in found.tables[0].columns
                if c.kind == "about the person (Art. 4(1))"]
    fragment = as_yaml([found], ["odd"])
    assert "# not proposed: email: " in fragment
    assert "suggests e-mail address: none of the 40" in fragment


def pseudonym_database(path: Path) -> str:
    """A role and a number where a name would be: in a billed name, and in columns whose
    names say something else."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER "
                     "REFERENCES customers(id), billed_name TEXT, label TEXT, email TEXT)")
        conn.executemany("INSERT INTO customers VALUES (?, ?)",
                         [(i, f"k{i}@example.no") for i in range(1, 41)])
        conn.executemany("INSERT INTO invoices VALUES (?, ?, ?, ?, ?)",
                         [(i, i, ("Kunde", "Customer #", "Kunde nr.")[i % 3] + f" {i}",
                           f"Kunde {i}", f"Kunde nummer {i}") for i in range(1, 41)])
    return f"sqlite:///{path}"


def test_a_role_and_a_number_in_a_name_column_is_a_name(tmp_path: Path) -> None:
    found = discover(pseudonym_database(tmp_path / "pseudonyms.db"))
    billed = column(found, "invoices", "billed_name")
    # "Kunde 12" stands in for a person: a pseudonym, still personal data (GDPR Art. 4(5)).
    assert billed.proposed and billed.category == "user.name" and billed.confidence == 0.9
    assert "40 of them a role and a number in a person's place" in billed.note
    assert "Kunde 12" not in as_yaml([found], ["p"])  # evidence masked as ever
    # The shape alone, in a column not named for a name, is said, not proposed.
    label = column(found, "invoices", "label")
    assert not label.proposed and label.confidence < 0.6
    # A column named email with no e-mail address in it stays low whatever else it holds.
    email = column(found, "invoices", "email")
    assert not email.proposed and email.confidence < 0.6
    assert "suggests e-mail address: none of the 40 sampled values tried is one" in email.note


def relating_database(path: Path) -> str:
    """People, rows that belong to them, and a catalogue that belongs to nobody."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT, seats INTEGER)")
        conn.execute("CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT, role TEXT, "
                     "created_at TEXT, active BOOLEAN, photo BLOB, nickname TEXT)")
        conn.execute("CREATE TABLE bookings (id INTEGER PRIMARY KEY, member_id INTEGER "
                     "REFERENCES members(id), course_id INTEGER REFERENCES courses(id), "
                     "level TEXT, amount_nok INTEGER, paid TEXT, booked_at TEXT, "
                     "payment_ref TEXT)")
        conn.execute("CREATE TABLE receipts (id INTEGER PRIMARY KEY, booking_id INTEGER "
                     "REFERENCES bookings(id), total INTEGER)")
        conn.executemany("INSERT INTO courses VALUES (?, ?, ?)",
                         [(i, f"Kurs i emne {i}", 12) for i in range(1, 6)])
        conn.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, NULL)",
                         [(i, f"m{i}@example.no", ("pupil", "parent")[i % 2],
                           f"2026-01-{i % 28 + 1:02d}T10:00:00", i % 2, bytes([i]) * 8)
                          for i in range(1, 41)])
        conn.executemany("INSERT INTO bookings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [(i, i, i % 5 + 1, ("nybegynner", "erfaren")[i % 2], 100 * i,
                           ("ja", "nei")[i % 2], f"2026-02-{i % 28 + 1:02d}", f"pay_{i:08d}")
                          for i in range(1, 41)])
        conn.executemany("INSERT INTO receipts VALUES (?, ?, ?)",
                         [(i, i, 100 * i) for i in range(1, 41)])
    return f"sqlite:///{path}"


def test_what_a_persons_row_holds_is_said_to_be_personal_data(tmp_path: Path) -> None:
    found = discover(relating_database(tmp_path / "relating.db"))
    said = {(t.name, c.name) for t in found.tables for c in t.columns
            if c.kind == "about the person (Art. 4(1))"}
    # Art. 4(1): information relating to an identified person is personal data even where
    # no pattern or common name says which kind — a member's role, a booking's level and
    # amount, the course booked, and a receipt's total through the booking it belongs to.
    assert said == {("members", "role"), ("bookings", "level"), ("bookings", "amount_nok"),
                    ("bookings", "course_id"), ("receipts", "total")}
    level = column(found, "bookings", "level")
    assert level.category == "user" and level.confidence == 0.5 and not level.proposed
    assert level.note.startswith("describes the person this row belongs to (Art. 4(1)): "
                                 "bookings refers to members through member_id")
    assert "which courses row this person's row points at" in column(
        found, "bookings", "course_id").note
    assert "receipts refers to bookings through booking_id, which refers to members" in column(
        found, "receipts", "total").note
    # Left out: keys, the references that tie the rows to the person, timestamps, yes/no
    # flags, technical ids, binary and all-NULL columns, and a catalogue nobody owns.
    for table, name in (("members", "id"), ("bookings", "member_id"), ("members", "created_at"),
                        ("bookings", "booked_at"), ("members", "active"), ("bookings", "paid"),
                        ("bookings", "payment_ref"), ("members", "photo"),
                        ("members", "nickname"), ("courses", "title"), ("courses", "seats")):
        assert column(found, table, name).kind != "about the person (Art. 4(1))", (table, name)
    # Said below the threshold: a comment in the fragment, not a line of the map.
    fragment = as_yaml([found], ["rel"])
    assert "# not proposed: level: about the person (Art. 4(1))? 0.50: describes" in fragment
    assert 'name: "level"' not in fragment


def named_database(path: Path) -> str:
    """Columns whose names say what they hold and whose values no pattern can check."""
    from faker import Faker

    fake = Faker("no_NO")
    fake.seed_instance(7)
    titles = ["Daglig leder", "Regnskapsfører", "Sykepleier", "Lærer", "Snekker",
              "Utvikler", "Konsulent", "Rådgiver"]
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE ansatte (id INTEGER PRIMARY KEY, epost TEXT, stilling TEXT, "
                 "skills TEXT, stripe_customer_id TEXT)")
    conn.execute("CREATE TABLE leaderboard (id INTEGER PRIMARY KEY, team TEXT, score INTEGER)")
    for n in range(1, 41):
        conn.execute("INSERT INTO ansatte VALUES (?, ?, ?, ?, ?)",
                     (n, fake.unique.email(), titles[n % len(titles)], str(n * 7),
                      f"cus_{fake.unique.pystr(min_chars=14, max_chars=14)}"))
        conn.execute("INSERT INTO leaderboard VALUES (?, ?, ?)", (n, f"Lag {n}", n * 3))
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_what_a_column_is_named_is_weaker_evidence_than_what_it_holds(tmp_path: Path) -> None:
    found = discover(named_database(tmp_path / "named.db"))
    email = column(found, "ansatte", "epost")
    stilling = column(found, "ansatte", "stilling")
    # Job titles have no pattern to check: proposed by the name, said to be by name only,
    # and less sure than the e-mail addresses that the values themselves show.
    assert stilling.proposed and stilling.name_only
    assert stilling.category == "user.professional_information.job_title"
    assert stilling.note.startswith("name only: the name 'stilling' says job title")
    assert 0.6 <= stilling.confidence < email.confidence
    # A processor's customer id singles a person out there (GDPR recital 26): by name too.
    stripe = column(found, "ansatte", "stripe_customer_id")
    assert stripe.proposed and stripe.category == "user.unique_id" and stripe.name_only
    # A column named skills holding numbers is not skills: said, not proposed.
    skills = column(found, "ansatte", "skills")
    assert not skills.proposed and skills.confidence < 0.6
    assert "suggests skills, but only 0 of 40 sampled values are text with letters" \
        in skills.note
    # A score in a table that neither finds a person nor points at one is not about people.
    score = column(found, "leaderboard", "score")
    assert not score.proposed and "no column of this table finds a person" in score.note
    fragment = as_yaml([found], ["named"])
    assert ('{name: "stilling", categories: [user.professional_information.job_title]}  '
            "# 0.65: name only:") in fragment
    assert "# not proposed: skills: skills? 0.30:" in fragment


def test_a_database_that_cannot_be_read_is_said_and_the_others_are_still_read(
        demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.yaml"
    done = run_personvern("discover", f"sqlite:///{tmp_path / 'missing.db'}",
                          "postgresql://nobody@127.0.0.1:1/none",
                          f"sqlite:///{demo / 'service.db'}", "--out", str(out))
    assert done.returncode == 1
    assert f"no SQLite database at {tmp_path / 'missing.db'}" in done.stderr
    assert "127.0.0.1:1/none" in done.stderr and "connection failed" in done.stderr
    assert not (tmp_path / "missing.db").exists()  # nothing created where nothing was
    assert [d["id"] for d in yaml.safe_load(out.read_text())["datasets"]] == ["service"]


def test_bad_options_are_clear(demo: Path) -> None:
    url = f"sqlite:///{demo / 'service.db'}"
    assert "--sample must be at least 1" in run_personvern("discover", url, "--sample",
                                                           "0").stderr
    mismatch = run_personvern("discover", url, url, "--id", "one")
    assert mismatch.returncode == 2 and "--id was given 1 times for 2 URLs" in mismatch.stderr


@pytest.mark.postgres
def test_on_postgresql_sampling_reads_a_bounded_number_of_rows(postgres_url: str) -> None:
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE members (id integer PRIMARY KEY, email text, "
                          "phone text, joined date)"))
        conn.execute(text("INSERT INTO members SELECT i, 'm' || i || '@example.no', "
                          "'+479' || lpad(i::text, 7, '0'), DATE '2020-01-01' + (i % 900) "
                          "FROM generate_series(1, 200000) AS i"))
        conn.execute(text("CREATE TABLE visits (id integer PRIMARY KEY, member_id integer, "
                          "at timestamptz)"))
        conn.execute(text("INSERT INTO visits SELECT i, i * 7, now() FROM "
                          "generate_series(1, 1000) AS i"))
    found = discover(postgres_url, sample=100)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
        read = conn.execute(text(
            "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables "
            "WHERE relname = 'members'")).scalar_one()
    engine.dispose()
    assert read <= 1000, f"{read} rows of 200,000 read: sampling did not bound the scan"
    members = next(t for t in found.tables if t.name == "members")
    assert members.sampled == 100
    assert {c.name: c.identity for c in members.columns if c.proposed} == {
        "id": "user_id", "email": "email", "phone": "phone"}
    visits = next(t for t in found.tables if t.name == "visits")
    assert [(r.column, r.to, r.how) for r in visits.references] == [
        ("member_id", "members.id", "name and values")]
    assert visits.dates == ["at"] and members.dates == ["joined"]


def declared_database(path: Path) -> str:
    """Representatives with signing authority, and the school each belongs to."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schools (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, prokura TEXT, "
                     "school_id INTEGER REFERENCES schools(id), hobby TEXT)")
        conn.executemany("INSERT INTO schools VALUES (?, ?)",
                         [(i, f"Skole {i}") for i in range(1, 5)])
        conn.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)",
                         [(i, f"p{i}@example.no", ("ja", "nei")[i % 2], i % 4 + 1,
                           ("sjakk", "fotball")[i % 2]) for i in range(1, 41)])
    return f"sqlite:///{path}"


def test_a_manifests_own_categories_name_what_is_found(tmp_path: Path) -> None:
    url = declared_database(tmp_path / "declared.db")
    manifest = yaml.safe_load((Path(__file__).parents[2] / "src/personvern/demo/manifest.yaml")
                              .read_text(encoding="utf-8"))
    manifest["categories"] = [
        {"id": "user.professional_information.signing_rights",
         "name": {"nb": "Signaturrett", "en": "Signing authority"}},
        {"id": "user.school", "name": {"nb": "Skole", "en": "School"}},
        {"id": "user.hobbies", "name": {"nb": "Fritid", "en": "Hobbies"}}]
    path = tmp_path / "personvern.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")

    plain = yaml.safe_load(run_personvern("discover", url).stdout)
    done = run_personvern("discover", url, "--categories-from", str(path))
    assert done.returncode == 0, done.stderr
    refined = yaml.safe_load(done.stdout)
    # Without the manifest: the built-in parent, and the school said, not proposed.
    assert ("people", "prokura", "user.professional_information") in mapped(plain)[0]
    assert not [c for c in mapped(plain)[0] if c[1] == "school_id"]
    # With it: the manifest's own key where it is the kind found (by its name "Signing
    # authority"), and the school a person's row points at, proposed at a name's 0.65.
    got = mapped(refined)[0]
    assert ("people", "prokura", "user.professional_information.signing_rights") in got
    assert ("people", "school_id", "user.school") in got
    school = next(line for line in done.stdout.splitlines() if '"school_id", categ' in line)
    assert "# 0.65: the manifest declares user.school (" in school
    assert "'School'" in school and "and this person's row points at schools; which " in school
    # A declared key that is not the kind found names nothing: hobby stays said, unnamed.
    assert not [c for c in got if c[1] == "hobby"]
    assert "# not proposed: hobby: about the person (Art. 4(1))? 0.50" in done.stdout


def test_two_declared_keys_that_both_fit_name_nothing(tmp_path: Path) -> None:
    from personvern.discover.refine import refine

    found = discover(declared_database(tmp_path / "declared.db"))
    refine(found, {"user.professional_information.signing_rights": ["Signing authority"],
                   "user.professional_information.prokura": []})
    assert column(found, "people", "prokura").category == "user.professional_information"


def test_categories_from_a_manifest_that_is_not_one_is_said(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories: [1, 2\n", encoding="utf-8")
    done = run_personvern("discover", declared_database(tmp_path / "d.db"),
                          "--categories-from", str(bad))
    assert done.returncode != 0 and "bad.yaml" in done.stderr
