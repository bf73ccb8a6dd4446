"""Running the CLI against the ``env`` fixture's service, and changing its rows behind it."""

from __future__ import annotations

import subprocess

from sqlalchemy.orm import Session

from cli_inprocess import run_personvern
from personvern.storage.engine import create_engine_for


def pv(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``personvern ARGS`` in the test process, with the service's environment."""
    return run_personvern(*args, env=env)


def run_sql(env: dict[str, str], *statements: object) -> None:
    """Run ``statements`` on the service's database in one transaction, as a tamperer would."""
    engine = create_engine_for(env["PERSONVERN_DATABASE_URL"])
    with Session(engine) as s, s.begin():
        for statement in statements:
            s.execute(statement)  # type: ignore[call-overload]
    engine.dispose()
