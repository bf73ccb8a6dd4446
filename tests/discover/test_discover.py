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
    # The one the map declares and the values cannot show: invoices.billed_name holds the
    # generator's placeholder ("Kunde 3"), not a person's name; it is reported, not proposed.
    assert recall >= 0.9, sorted(want_columns - got_columns)
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
    fragment = as_yaml([found], ["odd"])
    assert "# not proposed: email: " in fragment
    assert "suggests e-mail address: none of the 40" in fragment


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
