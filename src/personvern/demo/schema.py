"""The demo service's own database: a mentoring app like seed 000 (SnapMentor).

This is the *service's* data, not Personvern's: parents pay for pupils' sessions
with mentors; invoices are bookkeeping; messages, notes and logins are personal
data the data map must cover. Its own metadata, never mixed with the engine's.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(20), index=True),  # an identity column: looked up per request
    Column("name", String(200), nullable=False),
    Column("birth_date", Date),
    Column("address", String(300)),
    Column("role", String(10), nullable=False),  # parent | pupil | mentor
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)
guardians = Table(
    "guardians", metadata,
    Column("id", Integer, primary_key=True),
    Column("guardian_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("child_id", ForeignKey("users.id"), nullable=False, index=True),
)
sessions = Table(
    "sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("pupil_id", ForeignKey("users.id"), nullable=False, index=True),
    # Null once the mentor is erased: the session stays the pupil's (owner: false in the map).
    Column("mentor_id", ForeignKey("users.id"), nullable=True, index=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(100), nullable=False),
    Column("notes", Text),
)
purchases = Table(
    "purchases", metadata,
    Column("id", Integer, primary_key=True),
    Column("payer_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("pupil_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("sessions_bought", Integer, nullable=False),
    Column("amount_nok", Integer, nullable=False),
    Column("purchased_at", DateTime(timezone=True), nullable=False),
    Column("payment_ref", String(40), nullable=False),
)
invoices = Table(
    "invoices", metadata,
    Column("id", Integer, primary_key=True),
    Column("purchase_id", ForeignKey("purchases.id"), nullable=False, index=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("issued_on", Date, nullable=False),
    Column("amount_nok", Integer, nullable=False),
    Column("billed_name", String(200), nullable=False),
    Column("billed_address", String(300)),
)
messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", ForeignKey("users.id"), nullable=False, index=True),
    # Null once the recipient is erased: the message stays its sender's.
    Column("recipient_id", ForeignKey("users.id"), nullable=True, index=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
)
logins = Table(
    "login_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ip", String(45), nullable=False),
)
marketing_list = Table(
    "marketing_list", metadata,
    Column("id", Integer, primary_key=True),
    # No foreign key: sign-ups from the website need no account.
    Column("email", String(320), nullable=False, unique=True),
    Column("subscribed_at", DateTime(timezone=True), nullable=False),
    Column("confirmed", Boolean, nullable=False),
)
