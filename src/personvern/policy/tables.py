"""Published versions of the privacy policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import SHA256_HEX, Base


class PolicyVersion(Base):
    """A frozen version of the policy: its texts, what changed, and when it takes effect."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    content_sha256: Mapped[str] = mapped_column(String(SHA256_HEX))
    manifest_sha256: Mapped[str] = mapped_column(String(SHA256_HEX))
    published_at: Mapped[datetime]
    effective_from: Mapped[datetime] = mapped_column(index=True)
    material: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_days: Mapped[int] = mapped_column(Integer, default=0)
    # [{"kind": ..., "material": bool, "nb": "...", "en": "..."}]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # {"nb": {"md": ..., "html": ...}, "en": {...}}
    documents: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest_text: Mapped[str] = mapped_column(String)
