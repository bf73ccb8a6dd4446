"""Manifest versions: every distinct manifest text the engine has loaded, by its SHA-256."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.storage.models import ManifestVersion, as_utc


def manifest_sha256(text: str) -> str:
    """SHA-256 (hex) of the manifest text as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_manifest(session: Session, clock: Clock, service: str, text: str) -> ManifestVersion:
    """The stored version of ``text``; added at ``clock()`` the first time it is seen."""
    digest = manifest_sha256(text)
    existing = session.scalars(
        select(ManifestVersion).where(ManifestVersion.sha256 == digest)
    ).first()
    if existing is not None:
        return existing
    version = ManifestVersion(
        sha256=digest, service=service, loaded_at=as_utc(clock()), text=text
    )
    session.add(version)
    session.flush()
    return version


def latest_manifest(session: Session) -> ManifestVersion | None:
    """The most recently loaded manifest version, if any."""
    return session.scalars(
        select(ManifestVersion).order_by(ManifestVersion.id.desc()).limit(1)
    ).first()
