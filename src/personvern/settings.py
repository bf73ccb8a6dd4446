"""Settings, built by a factory from the environment and CLI options; never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///personvern.db"


class Settings(BaseSettings):
    """Where the manifest and the engine's database are, and limits."""

    model_config = SettingsConfigDict(env_prefix="PERSONVERN_", extra="ignore", frozen=True)

    manifest: Path = Field(Path("personvern.yaml"), description="the manifest file")
    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the engine's DB")
    max_manifest_bytes: int = Field(2 * 1024 * 1024, ge=1024)


def get_settings(**overrides: object) -> Settings:
    """Settings from ``PERSONVERN_*`` variables, with non-None ``overrides`` on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)  # type: ignore[arg-type]
