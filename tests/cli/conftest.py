"""The CLI tests' service: a teoritentamen manifest on SQLite, run as a person would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_inprocess import run_personvern


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    manifest = tmp_path / "personvern.yaml"
    assert run_personvern("init", "-t", "teoritentamen", str(manifest)).returncode == 0
    return {"PATH": "/usr/bin:/bin", "PERSONVERN_MANIFEST": str(manifest),
            "PERSONVERN_DATABASE_URL": f"sqlite:///{tmp_path / 'pv.db'}",
            "PERSONVERN_MASTER_KEY": os.environ["PERSONVERN_MASTER_KEY"],
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
