"""Seed 001 (Vekstly): gardening courses with participants, enrolments that may be kept
until the next course, Stripe payments, receipts, a newsletter list and cookie records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

from personvern.demo.templates import (
    Generated,
    Label,
    People,
    Person,
    Progress,
    Template,
    example_manifest,
    insert,
)

metadata = MetaData()
participants = Table(
    "participants", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(20)),
    Column("name", String(200), nullable=False),
    Column("address", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
courses = Table(
    "courses", metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("price_nok", Integer, nullable=False),
)
enrolments = Table(
    "enrolments", metadata,
    Column("id", Integer, primary_key=True),
    Column("participant_id", ForeignKey("participants.id"), nullable=False, index=True),
    Column("course_id", ForeignKey("courses.id"), nullable=False, index=True),
    Column("level", String(40), nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("course_ends_on", Date, nullable=False),
    # "med mindre du ønsker at vi beholder dem til neste gang du vil på kurs"
    Column("keep_until_next_course", Boolean, nullable=False),
)
payments = Table(
    "payments", metadata,
    Column("id", Integer, primary_key=True),
    Column("participant_id", ForeignKey("participants.id"), nullable=False, index=True),
    Column("stripe_payment_intent", String(40), nullable=False),
    Column("amount_nok", Integer, nullable=False),
    Column("card_last4", String(4)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
)
receipts = Table(
    "receipts", metadata,
    Column("id", Integer, primary_key=True),
    Column("participant_id", ForeignKey("participants.id"), nullable=False, index=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("issued_on", Date, nullable=False),
    Column("amount_nok", Integer, nullable=False),
    Column("billed_name", String(200), nullable=False),
)
newsletter = Table(
    "newsletter", metadata,
    Column("id", Integer, primary_key=True),
    # No foreign key: anyone may join the list from the website.
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200)),
    Column("subscribed_at", DateTime(timezone=True), nullable=False),
    Column("unsubscribed_at", DateTime(timezone=True)),
)
cookie_records = Table(
    "cookie_records", metadata,
    Column("id", Integer, primary_key=True),
    Column("participant_id", ForeignKey("participants.id"), index=True),
    Column("cookie_id", String(36), nullable=False),
    Column("ip", String(45), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
)

LABELS: dict[tuple[str, str], Label] = {
    ("participants", "id"): Label(identity="user_id"),
    ("participants", "email"): Label(("user.contact.email",), "email"),
    ("participants", "phone"): Label(("user.contact.phone_number",), "phone"),
    ("participants", "name"): Label(("user.name",)),
    ("participants", "address"): Label(("user.contact.address",)),
    ("enrolments", "level"): Label(("user.account.settings",)),
    ("payments", "card_last4"): Label(("user.financial",)),
    ("receipts", "billed_name"): Label(("user.name",)),
    ("newsletter", "email"): Label(("user.contact.email",), "email"),
    ("newsletter", "name"): Label(("user.name",)),
    ("cookie_records", "cookie_id"): Label(("user.device.cookie_id",)),
    ("cookie_records", "ip"): Label(("user.device.ip_address",)),
}
TITLES = ("Kjøkkenhage for nybegynnere", "Beskjæring av frukttrær", "Urter på balkongen",
          "Kompost og jordhelse", "Tomater i drivhus", "Staudebed gjennom året")
LEVELS = ("nybegynner", "viderekommen", "erfaren")


def generate(engine: Engine, subjects: int, *, now: datetime, seed: int,
             progress: Progress | None = None) -> Generated:
    """``subjects`` participants, the courses they take, what they paid, the list."""
    pool = People(seed)
    rng = pool.rng
    metadata.create_all(engine)
    counts: dict[str, int] = {}
    people: list[Person] = []
    course_count = max(2, subjects // 15)
    today = now.date()
    course_rows: list[dict[str, Any]] = []
    for cid in range(1, course_count + 1):
        # Half the courses are over, half still to run: the course_end rule has both.
        starts = today + timedelta(days=rng.randint(-200, -60) if cid % 2 else
                                   rng.randint(-20, 120))
        course_rows.append({"id": cid, "title": TITLES[cid % len(TITLES)],
                            "starts_on": starts, "ends_on": starts + timedelta(weeks=6),
                            "price_nok": rng.choice((1490, 2490, 3900))})

    def participant_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            given, family = pool.name()
            email = pool.email(given, family, uid)
            people.append(Person(uid, email, pool.phone(uid), "participants", customer=True))
            yield {"id": uid, "email": email, "phone": pool.phone(uid),
                   "name": f"{given} {family}", "address": pool.address(),
                   "created_at": now - timedelta(days=rng.randint(1, 900))}

    def enrolment_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            for course in rng.sample(course_rows, k=min(len(course_rows), rng.randint(1, 2))):
                yield {"participant_id": uid, "course_id": course["id"],
                       "level": rng.choice(LEVELS), "course_ends_on": course["ends_on"],
                       "enrolled_at": now - timedelta(days=rng.randint(1, 60))
                       if course["starts_on"] > today else
                       datetime.combine(course["starts_on"], now.timetz()) - timedelta(days=7),
                       "keep_until_next_course": rng.random() < 0.25}

    def payment_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            created = now - timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 23))
            yield {"participant_id": uid, "amount_nok": rng.choice((1490, 2490, 3900)),
                   "stripe_payment_intent": f"pi_{rng.getrandbits(96):024x}",
                   "card_last4": f"{rng.randint(0, 9999):04d}", "created_at": created,
                   # A few still pending: kept until they go through.
                   "settled_at": None if rng.random() < 0.1 else created + timedelta(minutes=2)}

    def receipt_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            yield {"participant_id": uid, "number": f"K{uid:08d}",
                   "issued_on": (now - timedelta(days=rng.randint(0, 2200))).date(),
                   "amount_nok": rng.choice((1490, 2490, 3900)),
                   "billed_name": f"{pool.name()[0]} {pool.name()[1]}"}

    def newsletter_rows() -> Iterator[dict[str, Any]]:
        # Some participants, and people from the website who never took a course.
        for n in range(1, max(2, subjects // 2) + 1):
            given, family = pool.name()
            left = rng.random() < 0.15
            subscribed = now - timedelta(days=rng.randint(10, 700))
            yield {"email": pool.email(given, family, n, "nyhetsbrev."),
                   "name": f"{given} {family}", "subscribed_at": subscribed,
                   "unsubscribed_at": subscribed + timedelta(days=5) if left else None}

    def cookie_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, subjects * 2 + 1):
            octets = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
            yield {"participant_id": n if n <= subjects else None,
                   "cookie_id": f"{rng.getrandbits(128):032x}",
                   "ip": "10.{}.{}.{}".format(*octets),
                   "first_seen": now - timedelta(minutes=rng.randint(0, 10**6))}

    with engine.begin() as conn:
        insert(conn, participants, participant_rows(), counts, progress)
        insert(conn, courses, course_rows, counts)
        insert(conn, enrolments, enrolment_rows(), counts, progress)
        insert(conn, payments, payment_rows(), counts, progress)
        insert(conn, receipts, receipt_rows(), counts, progress)
        insert(conn, newsletter, newsletter_rows(), counts, progress)
        insert(conn, cookie_records, cookie_rows(), counts, progress)
    return Generated(counts, people)


TEMPLATE = Template(
    name="vekstly", manifest=example_manifest("vekstly"), url_env="VEKSTLY_DATABASE_URL",
    metadata=metadata, generate=generate, labels=LABELS, min_subjects=2,
    who="two participants (a course with more than one)",
)
