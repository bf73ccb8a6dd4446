"""Seed 004 (Teoritentamen): learner drivers practising for the theory test: pupils with
birth dates (some under 13, with a guardian, and one without), driving schools, progress,
purchases and marketing preferences."""

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
driving_schools = Table(
    "driving_schools", metadata,
    Column("id", Integer, primary_key=True),
    Column("school_name", String(200), nullable=False),
    Column("city", String(100), nullable=False),
)
pupils = Table(
    "pupils", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(20)),
    Column("name", String(200), nullable=False),
    Column("birth_date", Date),
    Column("address", String(300)),
    Column("driving_school_id", ForeignKey("driving_schools.id"), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)
guardians = Table(
    "guardians", metadata,
    Column("id", Integer, primary_key=True),
    Column("pupil_id", ForeignKey("pupils.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("phone", String(20)),
    Column("consented_at", DateTime(timezone=True), nullable=False),
)
test_progress = Table(
    "progress", metadata,
    Column("id", Integer, primary_key=True),
    Column("pupil_id", ForeignKey("pupils.id"), nullable=False, index=True),
    Column("topic", String(100), nullable=False),
    Column("score", Integer, nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
)
purchases = Table(
    "purchases", metadata,
    Column("id", Integer, primary_key=True),
    Column("pupil_id", ForeignKey("pupils.id"), nullable=False, index=True),
    Column("product", String(100), nullable=False),
    Column("amount_nok", Integer, nullable=False),
    Column("purchased_on", Date, nullable=False),
    Column("nets_transaction_id", String(40), nullable=False),
)
marketing_preferences = Table(
    "marketing_preferences", metadata,
    Column("id", Integer, primary_key=True),
    Column("pupil_id", ForeignKey("pupils.id"), nullable=False, unique=True),
    Column("email_ok", Boolean, nullable=False),
    Column("sms_ok", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

LABELS: dict[tuple[str, str], Label] = {
    ("pupils", "id"): Label(identity="user_id"),
    ("pupils", "email"): Label(("user.contact.email",), "email"),
    ("pupils", "phone"): Label(("user.contact.phone_number",), "phone"),
    ("pupils", "name"): Label(("user.name",)),
    ("pupils", "birth_date"): Label(("user.demographic.date_of_birth",)),
    ("pupils", "address"): Label(("user.contact.address",)),
    ("pupils", "driving_school_id"): Label(("user.driving_school",)),
    ("pupils", "last_login_at"): Label(("user.behavior",)),
    ("guardians", "name"): Label(("user.name",)),
    ("guardians", "email"): Label(("user.contact.email",), "email"),
    ("guardians", "phone"): Label(("user.contact.phone_number",), "phone"),
    ("progress", "score"): Label(("user.behavior.progress",)),
    ("purchases", "product"): Label(("user.behavior.purchase_history",)),
    ("marketing_preferences", "email_ok"): Label(("user.privacy_preferences",)),
    ("marketing_preferences", "sms_ok"): Label(("user.privacy_preferences",)),
}
TOPICS = ("Vikeplikt", "Skilt", "Fart og avstand", "Miljø", "Kjøretøyet", "Førstehjelp")
PRODUCTS = ("Teoripakke 7 dager", "Teoripakke 30 dager", "Teoripakke 90 dager")
CITIES = ("Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Kristiansand")


def generate(engine: Engine, subjects: int, *, now: datetime, seed: int,
             progress: Progress | None = None) -> Generated:
    """``subjects`` people: pupils, a guardian for each pupil under 13 but one, who signed
    up alone (from 3 people on)."""
    pool = People(seed)
    rng = pool.rng
    metadata.create_all(engine)
    counts: dict[str, int] = {}
    people: list[Person] = []
    links: list[tuple[str, str]] = []
    # Every fifth pupil is a child whose guardian signs up too: the rest of the people.
    pupil_count = subjects - max(1, subjects // 6)
    guardian_count = subjects - pupil_count
    children = set(range(1, pupil_count + 1, max(1, pupil_count // guardian_count)))
    children = set(sorted(children)[:guardian_count])
    # One more child signed up alone, with no guardian's consent: the case seed 004's
    # section 3 foresees ("Dersom det viser seg at vi har behandlet slike
    # personopplysninger"), for `personvern children check` to find.
    alone = next((uid for uid in range(2, pupil_count + 1) if uid not in children), None)
    emails: dict[int, str] = {}

    def pupil_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, pupil_count + 1):
            given, family = pool.name()
            emails[uid] = email = pool.email(given, family, uid)
            # Children under 13 practise with a guardian's consent; most are 15 to 25.
            age = rng.randint(10, 12) if uid in children else rng.randint(15, 25)
            if uid == alone:  # from the draw already made, so no later value shifts
                age = 10 + age % 3
            born = (now - timedelta(days=age * 365 + rng.randint(0, 364))).date()
            people.append(Person(uid, email, pool.phone(uid), "customers", born, True))
            created = now - timedelta(days=rng.randint(1, 700))
            yield {"id": uid, "email": email, "phone": pool.phone(uid), "name": f"{given} {family}",
                   "birth_date": born, "address": pool.address(),
                   "driving_school_id": rng.randint(1, len(CITIES)) if rng.random() < 0.7 else None,
                   "created_at": created,
                   "last_login_at": min(created + timedelta(days=rng.randint(0, 700)), now)}

    def guardian_rows() -> Iterator[dict[str, Any]]:
        for n, child in enumerate(sorted(children), start=1):
            given, family = pool.name()
            email = pool.email(given, family, n, "foresatt.")
            people.append(Person(None, email, pool.phone(n, "9"), "guardians"))
            links.append((email, emails[child]))
            yield {"pupil_id": child, "name": f"{given} {family}", "email": email,
                   "phone": pool.phone(n, "9"),
                   "consented_at": now - timedelta(days=rng.randint(1, 300))}

    def progress_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, pupil_count + 1):
            for topic in rng.sample(TOPICS, k=rng.randint(1, 4)):
                yield {"pupil_id": uid, "topic": topic, "score": rng.randint(10, 45),
                       "answered_at": now - timedelta(minutes=rng.randint(0, 10**6))}

    def purchase_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, pupil_count + 1):
            yield {"pupil_id": uid, "product": rng.choice(PRODUCTS),
                   "amount_nok": rng.choice((149, 299, 499)),
                   "purchased_on": (now - timedelta(days=rng.randint(0, 2200))).date(),
                   "nets_transaction_id": f"{rng.getrandbits(128):032x}"}

    def preference_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, pupil_count + 1):
            yield {"pupil_id": uid, "email_ok": rng.random() < 0.5, "sms_ok": rng.random() < 0.3,
                   "updated_at": now - timedelta(days=rng.randint(0, 500))}

    schools = [{"id": n, "school_name": f"{city} Trafikkskole AS", "city": city}
               for n, city in enumerate(CITIES, start=1)]
    with engine.begin() as conn:
        insert(conn, driving_schools, schools, counts)
        insert(conn, pupils, pupil_rows(), counts, progress)
        insert(conn, guardians, guardian_rows(), counts, progress)
        insert(conn, test_progress, progress_rows(), counts, progress)
        insert(conn, purchases, purchase_rows(), counts, progress)
        insert(conn, marketing_preferences, preference_rows(), counts, progress)
    return Generated(counts, people, links)


TEMPLATE = Template(
    name="teoritentamen", manifest=example_manifest("teoritentamen"),
    url_env="TEORITENTAMEN_DATABASE_URL", metadata=metadata, generate=generate, labels=LABELS,
    min_subjects=2, who="a pupil under 13 and the guardian who consents for them",
)
