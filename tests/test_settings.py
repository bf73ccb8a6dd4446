"""Settings come from the factory: environment first, CLI options on top, bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from personvern.errors import ConfigurationError
from personvern.settings import DEFAULT_DATABASE_URL, get_settings


def test_defaults_environment_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MANIFEST", "DATABASE_URL", "MAX_MANIFEST_BYTES", "COOKIE_CHOICE_MONTHS"):
        monkeypatch.delenv(f"PERSONVERN_{name}", raising=False)
    assert get_settings().database_url == DEFAULT_DATABASE_URL
    monkeypatch.setenv("PERSONVERN_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("PERSONVERN_MANIFEST", "env.yaml")
    monkeypatch.setenv("PERSONVERN_COOKIE_CHOICE_MONTHS", "12")
    s = get_settings(database_url=None)
    assert (s.database_url, s.manifest, s.cookie_choice_months) == (
        "sqlite:///from-env.db", Path("env.yaml"), 12)
    assert get_settings(database_url="sqlite:///cli.db").database_url == "sqlite:///cli.db"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MAX_MANIFEST_BYTES", "lots", "is not a whole number"),
    ("MAX_MANIFEST_BYTES", "10", "at least 1024"),
    ("COOKIE_CHOICE_MONTHS", "0", "between 1 and 24"),
])
def test_bad_environment_values_are_clear(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"PERSONVERN_{name}", value)
    with pytest.raises(ConfigurationError, match=message):
        get_settings()
