"""The staff users table: who may sign in to the dashboard, with which role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from personvern.storage.models import Base


class StaffUser(Base):
    """A member of staff: e-mail, name, role and an argon2 hash of the password."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # owner | privacy_officer | support | finance (see personvern.staff.roles)
    role: Mapped[str] = mapped_column(String(32))
    # The argon2id encoded hash: algorithm, parameters, salt and digest in one string.
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
