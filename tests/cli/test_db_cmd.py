"""``personvern db upgrade`` and ``personvern db current`` on both databases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from personvern.cli.main import app
from personvern.storage.migrate import head_revision
from pgcluster import free_port

runner = CliRunner()


HEAD = head_revision()


def personvern(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script the way a user does."""
    script = Path(sys.executable).with_name("personvern")
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "from personvern.cli.main import run; run()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60,
                          check=False, env=env)


def test_upgrade_then_current_report_the_head(db_url: str) -> None:
    first = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert first.exit_code == 0, first.output
    assert f"migrated from empty to revision {HEAD}" in first.output

    again = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert again.exit_code == 0, again.output
    assert f"already at revision {HEAD}" in again.output

    current = runner.invoke(app, ["db", "current", "--db", db_url, "--json"])
    assert current.exit_code == 0, current.output
    report = json.loads(current.output)
    assert report["current"] == report["head"] == HEAD
    assert report["up_to_date"] is True


def test_upgrade_json(db_url: str) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["previous"], report["current"], report["head"]) == (None, HEAD, HEAD)


def test_current_on_a_new_database_says_so(sqlite_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "current", "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "not created yet" in result.output
    assert not (tmp_path / "personvern.db").exists()


def test_database_url_comes_from_the_environment(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONVERN_DATABASE_URL", sqlite_url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "personvern.db").exists()


def test_the_password_is_not_echoed(postgres_url: str) -> None:
    url = postgres_url.replace("postgres@", "postgres:hunter2@")  # trust auth ignores it
    result = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output


def _assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_unreachable_postgres_fails_cleanly() -> None:
    result = personvern("db", "upgrade", "--db",
                        f"postgresql://pv:secret@127.0.0.1:{free_port()}/pv")
    assert result.returncode == 1
    line = _assert_one_line_error(result)
    assert "refused" in line.lower()
    assert "secret" not in line


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_a_garbage_url_fails_cleanly(command: str) -> None:
    result = personvern("db", command, "--db", "definitely not a url")
    assert result.returncode == 2
    assert "not a database URL" in _assert_one_line_error(result)


def test_sqlite_in_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = personvern("db", "upgrade", "--db", f"sqlite:///{missing}/pv.db")
    assert result.returncode == 1
    assert f"directory {missing} does not exist" in _assert_one_line_error(result)


def test_help_lists_the_commands_without_loading_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "from personvern.cli.main import app\n"
        "try:\n"
        "    app(['db', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
        "assert 'alembic' not in sys.modules, 'alembic imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "upgrade" in result.stdout
    assert "current" in result.stdout
    assert "Create the database, or migrate it" in result.stdout
