"""`personvern discover` never passes off a partial reading as a whole one: a table it could
not read is said on stderr and the exit code is 1, as for a database it could not read."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from cli_inprocess import run_personvern


@pytest.mark.postgres
def test_a_table_the_reader_may_not_read_is_said_and_exits_1(postgres_url: str,
                                                             tmp_path: Path) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE members (id integer PRIMARY KEY, email text)"))
        conn.execute(text("INSERT INTO members VALUES (1, 'kari@example.no')"))
        conn.execute(text("CREATE TABLE payroll (id integer PRIMARY KEY, email text, "
                          "fodselsnummer text)"))
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT SELECT ON members TO {role}"))
    host = postgres_url.split("@", 1)[1]
    try:
        out = tmp_path / "map.yaml"
        done = run_personvern("discover", f"postgresql://{role}@{host}", "--out", str(out))
        assert done.returncode == 1, done.stderr
        assert "table payroll not read" in done.stderr, done.stderr
        assert "1 of 2 tables read" in done.stderr, done.stderr
        # What could be read is still proposed.
        [dataset] = yaml.safe_load(out.read_text(encoding="utf-8"))["datasets"]
        assert [t["name"] for t in dataset["tables"]] == ["members", "payroll"]
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        engine.dispose()


@pytest.mark.postgres
def test_tables_in_another_schema_are_said_to_be_unread(postgres_url: str,
                                                       tmp_path: Path) -> None:
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE members (id integer PRIMARY KEY, email text)"))
        conn.execute(text("CREATE SCHEMA crm"))
        conn.execute(text("CREATE TABLE crm.contacts (id integer PRIMARY KEY, email text)"))
        conn.execute(text("CREATE TABLE crm.calls (id integer PRIMARY KEY, phone text)"))
    engine.dispose()
    out = tmp_path / "map.yaml"
    done = run_personvern("discover", postgres_url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "schema crm (2 tables) not read: only the default schema is read" in done.stderr
    text_out = out.read_text(encoding="utf-8")
    assert "# not read: schema crm (2 tables): only the default schema is read" in text_out
    [dataset] = yaml.safe_load(text_out)["datasets"]
    assert [t["name"] for t in dataset["tables"]] == ["members"]
