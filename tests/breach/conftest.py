"""The breach CLI tests' service: Min Mentor's manifest and a fresh SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from breach.support import EXAMPLES


@pytest.fixture
def opts(tmp_path: Path) -> list[str]:
    return ["--manifest", str(EXAMPLES / "minmentor.yaml"),
            "--db", f"sqlite:///{tmp_path / 'pv.db'}"]
