"""The engine's own database: engines, sessions, the shared models and migrations.

Importing this package loads SQLAlchemy; the CLI imports it inside commands only, so
``personvern --help`` stays fast. Nothing here connects until a function is called.
"""

from __future__ import annotations

from personvern.storage.engine import create_engine_for, parse_url, safe_url, storage_errors
from personvern.storage.manifests import latest_manifest, record_manifest
from personvern.storage.migrate import Revision, current_revision, head_revision, status, upgrade
from personvern.storage.models import AuditEvent, Base, ManifestVersion
from personvern.storage.session import make_sessionmaker, transaction

__all__ = [
    "AuditEvent",
    "Base",
    "ManifestVersion",
    "Revision",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "latest_manifest",
    "make_sessionmaker",
    "parse_url",
    "record_manifest",
    "safe_url",
    "status",
    "storage_errors",
    "transaction",
    "upgrade",
]
