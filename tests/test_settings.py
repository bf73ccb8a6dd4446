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


@pytest.mark.parametrize(("value", "message"), [
    ("personvern.example.no", "must start with http:// or https://"),
    ("ftp://personvern.example.no", "must start with http:// or https://"),
    ("https://", "has no host"),
    ("https://personvern.example.no/?next=x", "must not have a query"),
    ("https://personvern.example.no/#top", "must not have a fragment"),
    ("https://user:pw@personvern.example.no", "must not contain a user name"),
    ("https://personvern.example.no:port", "is not a URL"),
])
def test_a_bad_public_url_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("PERSONVERN_PUBLIC_URL", value)
    with pytest.raises(ConfigurationError, match=message) as err:
        get_settings()
    assert "\n" not in str(err.value) and "PERSONVERN_PUBLIC_URL" in str(err.value)


def test_the_public_url_is_kept_without_a_trailing_slash() -> None:
    assert get_settings(public_url="https://pv.example.no/").public_url == "https://pv.example.no"
    assert get_settings(public_url="https://example.no/pv/").public_url == "https://example.no/pv"


def test_trusted_proxies_are_none_by_default_and_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONVERN_FORWARDED_ALLOW_IPS", raising=False)
    assert get_settings().trusted_proxies() == []
    monkeypatch.setenv("PERSONVERN_FORWARDED_ALLOW_IPS", "10.0.0.5, 10.1.0.0/16,::1")
    assert get_settings().trusted_proxies() == ["10.0.0.5", "10.1.0.0/16", "::1"]
    monkeypatch.setenv("PERSONVERN_FORWARDED_ALLOW_IPS", "10.0.0.5,proxy.local")
    with pytest.raises(ConfigurationError, match=r"'proxy\.local' is not an IP address"):
        get_settings()


def test_background_work_runs_in_serve_unless_workers_on_postgresql_are_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert get_settings().jobs == "serve"
    url = "postgresql://personvern@db.internal/personvern"
    assert get_settings(jobs="worker", database_url=url).jobs == "worker"
    with pytest.raises(ConfigurationError, match="must be serve or worker, not 'celery'"):
        get_settings(jobs="celery")
    monkeypatch.setenv("PERSONVERN_JOBS", "worker")
    with pytest.raises(ConfigurationError, match="needs PostgreSQL") as err:
        get_settings(database_url="sqlite:///personvern.db")
    assert "\n" not in str(err.value) and "leave PERSONVERN_JOBS unset" in str(err.value)
