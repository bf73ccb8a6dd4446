"""A part of a person's row (``part: true``: the user row points at its postal address in
a table of its own) goes with that row when a retention rule ends it (GDPR Art. 5(1)(e)):
the plan and the run say how many, an address another row that stays still points at
stays, and nobody else's is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from demo_support import demo_cli, fresh_demo, with_addresses
from personvern.storage.engine import create_engine_for

# Pupil 31 signed in last on 15 December 2025 and 32 on 1 December 2026 (set below): two
# years on (the rule "inactive"), 31 is due on this day and 32 is not.
BETWEEN = "2028-06-01T12:00:00+02:00"


def service(demo: Path, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    made = fresh_demo(tmp_path, 40)
    with_addresses(made)
    service(made, "UPDATE users SET last_login_at = '2025-12-15 12:00:00.000000' WHERE id = 31")
    service(made, "UPDATE users SET last_login_at = '2026-12-01 12:00:00.000000' WHERE id = 32")
    return made


def test_the_address_goes_with_the_user_row_the_rule_ends(demo: Path) -> None:
    plan = demo_cli(demo, "retention", "plan", now=BETWEEN)
    assert plan.returncode == 0, plan.stderr
    users = next(x for x in plan.stdout.splitlines() if x.startswith("  app.users:"))
    assert "1 part row in app.postal_addresses erased with them" in users
    # Held by the rule that ends the user row: not reported as undated for it.
    assert "app.postal_addresses under rule inactive" not in plan.stdout
    assert service(demo, "SELECT street FROM postal_addresses ORDER BY id") == [
        ("Strandgaten 31",), ("Strandgaten 32",)]  # a plan changes nothing

    run = demo_cli(demo, "retention", "run", "--reason", "the daily sweep", now=BETWEEN)
    assert run.returncode == 0, run.stderr
    [(masked,), (kept,)] = service(demo, "SELECT street FROM postal_addresses ORDER BY id")
    assert "Strandgaten" not in str(masked) and kept == "Strandgaten 32"
    assert str(service(demo, "SELECT email FROM users WHERE id = 31")[0][0]).startswith(
        "slettet-")


def test_an_address_a_row_that_stays_points_at_stays(demo: Path) -> None:
    # 32 (not due) lives at 31's address too: it is 32's as well, and stays.
    service(demo, "UPDATE users SET address_id = 3100 WHERE id = 32")
    run = demo_cli(demo, "retention", "run", "--reason", "the daily sweep", now=BETWEEN)
    assert run.returncode == 0, run.stderr
    assert "part row" not in run.stdout
    assert service(demo, "SELECT street FROM postal_addresses WHERE id = 3100") == [
        ("Strandgaten 31",)]
