"""Fill the demo service's database with synthetic Norwegian people (Faker, no_NO).

Deterministic for a seed; any size; referential integrity by construction. Faker's
bokmål locale is called ``no_NO``. Names come from Faker; numbers and dates from a
seeded random generator; nothing here is a real person's data.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table

from personvern.demo import schema
from personvern.errors import ConfigurationError

BATCH = 20_000
TOPICS = ("Matematikk", "Norsk", "Engelsk", "Naturfag", "Fysikk", "Kjemi", "Historie",
          "Samfunnsfag", "Programmering", "Eksamensforberedelse")
NOTES = (
    "Gikk gjennom brøk og prosent. Trenger mer øving på tekstoppgaver.",
    "Jobbet med argumenterende tekst; struktur er på plass.",
    "Repeterte likninger med to ukjente. God fremgang.",
    "Forberedte muntlig presentasjon om klimaendringer.",
    "Øvde på uregelmessige verb. Lekse: kapittel 4.",
    "Snakket om studieteknikk og planlegging før eksamen.",
)
MESSAGES = (
    "Hei! Passer det å flytte timen til torsdag?",
    "Takk for i dag, vi ses neste uke.",
    "Jeg har lastet opp oppgavene vi snakket om.",
    "Kan vi ta en ekstra time før prøven på fredag?",
    "Husk å ta med læreboka neste gang.",
)


@dataclass(frozen=True)
class Counts:
    """How many rows of each table were written."""

    users: int = 0
    guardians: int = 0
    sessions: int = 0
    purchases: int = 0
    invoices: int = 0
    messages: int = 0
    login_events: int = 0
    marketing_list: int = 0


def _ascii(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "aa")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum() or ch == ".")


def _pools(seed: int) -> tuple[list[str], list[str], list[str]]:
    # Faker is the optional extra ``personvern[demo]``: only the demo invents people.
    try:
        from faker import Faker
    except ImportError:
        raise ConfigurationError(
            "the demo invents its people with Faker, which is not installed: "
            "pip install 'personvern[demo]' (make demo installs it)") from None

    fake = Faker("no_NO")
    fake.seed_instance(seed)
    first = [fake.first_name() for _ in range(600)]
    last = [fake.last_name() for _ in range(600)]
    addresses = [f"{fake.street_address()}, {fake.postcode()} {fake.city()}" for _ in range(3000)]
    return first, last, addresses


def generate(
    engine: Engine, subjects: int, *, now: datetime, seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> Counts:
    """Create the tables and write ``subjects`` users and everything around them."""
    if subjects < 3:
        raise ValueError("the demo needs at least 3 subjects (a parent, a pupil, a mentor)")
    rng = random.Random(seed)
    first, last, addresses = _pools(seed)
    schema.metadata.create_all(engine)
    mentors = max(1, subjects // 8)
    parents = max(1, (subjects - mentors) * 4 // 9)
    pupils = subjects - mentors - parents
    roles = ["mentor"] * mentors + ["parent"] * parents + ["pupil"] * pupils
    counts: dict[str, int] = dict.fromkeys(Counts.__dataclass_fields__, 0)
    domains = ("example.no", "eksempel.no", "test.example.com")

    def user_rows() -> Iterator[dict[str, Any]]:
        for uid, role in enumerate(roles, start=1):
            given, family = rng.choice(first), rng.choice(last)
            age = rng.randint(10, 17) if role == "pupil" else rng.randint(25, 60)
            born = (now - timedelta(days=age * 365 + rng.randint(0, 364))).date()
            created = now - timedelta(days=rng.randint(1, 1500))
            yield {
                "id": uid, "name": f"{given} {family}", "role": role,
                "email": f"{_ascii(given)}.{_ascii(family)}.{uid}@{domains[uid % 3]}",
                # Unique by construction: the phone number is an identity.
                "phone": f"+47{rng.choice('49')}{uid:07d}",
                "birth_date": born, "address": rng.choice(addresses),
                "created_at": created,
                # Never later than the demo's "now": nobody signs in in the future.
                "last_login_at": min(created + timedelta(days=rng.randint(0, 1400)), now),
            }

    with engine.begin() as conn:
        _insert(conn, schema.users, user_rows(), counts, progress)
        parent_ids = list(range(mentors + 1, mentors + parents + 1))
        pupil_ids = list(range(mentors + parents + 1, subjects + 1))

        def guardian_rows() -> Iterator[dict[str, Any]]:
            for i, child in enumerate(pupil_ids):
                yield {"guardian_id": parent_ids[i % len(parent_ids)], "child_id": child}

        _insert(conn, schema.guardians, guardian_rows(), counts)

        def session_rows() -> Iterator[dict[str, Any]]:
            for pupil in pupil_ids:
                for _ in range(rng.randint(1, 5)):
                    yield {"pupil_id": pupil, "mentor_id": rng.randint(1, mentors),
                           "starts_at": now - timedelta(days=rng.randint(0, 700),
                                                        hours=rng.randint(0, 10)),
                           "topic": rng.choice(TOPICS), "notes": rng.choice(NOTES)}

        _insert(conn, schema.sessions, session_rows(), counts)

        def purchase_rows() -> Iterator[dict[str, Any]]:
            for i, pupil in enumerate(pupil_ids):
                bought = rng.choice((4, 8, 12))
                yield {"id": i + 1, "payer_id": parent_ids[i % len(parent_ids)],
                       "pupil_id": pupil, "sessions_bought": bought,
                       "amount_nok": bought * 450,
                       "purchased_at": now - timedelta(days=rng.randint(0, 2000)),
                       "payment_ref": f"VPS-{rng.getrandbits(40):010x}"}

        _insert(conn, schema.purchases, purchase_rows(), counts)

        def invoice_rows() -> Iterator[dict[str, Any]]:
            for i in range(len(pupil_ids)):
                payer = parent_ids[i % len(parent_ids)]
                yield {"purchase_id": i + 1, "number": f"F{i + 1:08d}",
                       "issued_on": (now - timedelta(days=rng.randint(0, 2000))).date(),
                       "amount_nok": 450 * rng.choice((4, 8, 12)),
                       "billed_name": f"Kunde {payer}", "billed_address": rng.choice(addresses)}

        _insert(conn, schema.invoices, invoice_rows(), counts)

        def message_rows() -> Iterator[dict[str, Any]]:
            for pupil in pupil_ids:
                mentor = rng.randint(1, mentors)
                for sender, recipient in ((pupil, mentor), (mentor, pupil)):
                    yield {"sender_id": sender, "recipient_id": recipient,
                           "sent_at": now - timedelta(days=rng.randint(0, 300)),
                           "body": rng.choice(MESSAGES)}

        _insert(conn, schema.messages, message_rows(), counts)

        def login_rows() -> Iterator[dict[str, Any]]:
            for uid in range(1, subjects + 1):
                for _ in range(rng.randint(1, 4)):
                    octets = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
                    yield {"user_id": uid, "at": now - timedelta(minutes=rng.randint(0, 10**6)),
                           "ip": "10.{}.{}.{}".format(*octets)}

        _insert(conn, schema.logins, login_rows(), counts)

        def marketing_rows() -> Iterator[dict[str, Any]]:
            for uid in parent_ids[::3]:
                yield {"email": f"{uid}.nyhetsbrev@example.no", "confirmed": True,
                       "subscribed_at": now - timedelta(days=rng.randint(0, 900))}

        _insert(conn, schema.marketing_list, marketing_rows(), counts)
    return Counts(**counts)


def _insert(
    conn: Any, table: Table, rows: Iterator[dict[str, Any]], counts: dict[str, int],
    progress: Callable[[int], None] | None = None,
) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            conn.execute(table.insert(), batch)
            counts[table.name] += len(batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
        counts[table.name] += len(batch)
        if progress:
            progress(len(batch))

