"""Seed 002 (Lillemini): a children's-clothes subscription shop with customers, their
subscriptions and orders, site visits, and the ids the payment processors know them by."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
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
customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(20)),
    Column("name", String(200), nullable=False),
    Column("address", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False, index=True),
    Column("plan", String(40), nullable=False),
    Column("delivery_address", String(300), nullable=False),
    Column("started_on", Date, nullable=False),
    Column("ended_on", Date),
)
orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False, index=True),
    Column("subscription_id", ForeignKey("subscriptions.id"), nullable=False, index=True),
    Column("ordered_on", Date, nullable=False),
    Column("items", String(200), nullable=False),
    Column("amount_nok", Integer, nullable=False),
    Column("billing_name", String(200), nullable=False),
    Column("billing_address", String(300), nullable=False),
)
processor_ids = Table(
    "processor_ids", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False, index=True),
    Column("processor", String(20), nullable=False),  # stripe | paypal | vipps
    Column("external_customer_id", String(40), nullable=False),
)
visits = Table(
    "visits", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ip", String(45), nullable=False),
)

LABELS: dict[tuple[str, str], Label] = {
    ("customers", "id"): Label(identity="user_id"),
    ("customers", "email"): Label(("user.contact.email",), "email"),
    ("customers", "phone"): Label(("user.contact.phone_number",), "phone"),
    ("customers", "name"): Label(("user.name",)),
    ("customers", "address"): Label(("user.contact.address",)),
    ("customers", "last_login_at"): Label(("user.behavior",)),
    ("subscriptions", "delivery_address"): Label(("user.contact.address",)),
    ("orders", "items"): Label(("user.behavior.purchase_history",)),
    ("orders", "billing_name"): Label(("user.name",)),
    ("orders", "billing_address"): Label(("user.contact.address",)),
    ("processor_ids", "external_customer_id"): Label(("user.unique_id",)),
    ("visits", "ip"): Label(("user.device.ip_address",)),
}
PLANS = ("Baby 0-1 år", "Småbarn 1-3 år", "Barnehage 3-6 år")
ITEMS = ("Body og strømpebukse", "Ullsett og lue", "Regntøy", "Joggesett", "Pysj og sokker")
PREFIX = {"stripe": "cus_", "paypal": "PP-", "vipps": "vipps-"}


def generate(engine: Engine, subjects: int, *, now: datetime, seed: int,
             progress: Progress | None = None) -> Generated:
    """``subjects`` customers, a subscription each (some ended), monthly orders, visits."""
    pool = People(seed)
    rng = pool.rng
    metadata.create_all(engine)
    counts: dict[str, int] = {}
    people: list[Person] = []
    names: dict[int, tuple[str, str]] = {}
    today = now.date()

    def customer_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            given, family = names[uid] = pool.name()
            email = pool.email(given, family, uid)
            people.append(Person(uid, email, pool.phone(uid, "9"), "users", customer=True))
            created = now - timedelta(days=rng.randint(30, 1200))
            yield {"id": uid, "email": email, "phone": pool.phone(uid, "9"),
                   "name": f"{given} {family}", "address": pool.address(), "created_at": created,
                   "last_login_at": min(created + timedelta(days=rng.randint(0, 1200)), now)}

    ended: dict[int, tuple[Any, Any]] = {}

    def subscription_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            started = today - timedelta(days=rng.randint(60, 1000))
            # A third have ended: kept up to six months after, as the seed says.
            stop = started + timedelta(days=rng.randint(30, 400)) if uid % 3 == 0 else None
            stop = stop if stop is None or stop < today else None
            ended[uid] = (started, stop)
            yield {"id": uid, "customer_id": uid, "plan": rng.choice(PLANS),
                   "delivery_address": pool.address(), "started_on": started, "ended_on": stop}

    def order_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            started, stop = ended[uid]
            given, family = names[uid]
            for month in range(rng.randint(1, 4)):
                day = started + timedelta(days=30 * month)
                if day > (stop or today):
                    break
                yield {"customer_id": uid, "subscription_id": uid, "ordered_on": day,
                       "items": rng.choice(ITEMS), "amount_nok": rng.choice((399, 499, 599)),
                       "billing_name": f"{given} {family}", "billing_address": pool.address()}

    def processor_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            processor = rng.choice(tuple(PREFIX))
            yield {"customer_id": uid, "processor": processor,
                   "external_customer_id": f"{PREFIX[processor]}{rng.getrandbits(64):016x}"}

    def visit_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, subjects + 1):
            for _ in range(rng.randint(1, 3)):
                octets = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
                yield {"customer_id": uid, "ip": "10.{}.{}.{}".format(*octets),
                       "at": now - timedelta(minutes=rng.randint(0, 10**6))}

    with engine.begin() as conn:
        insert(conn, customers, customer_rows(), counts, progress)
        insert(conn, subscriptions, subscription_rows(), counts, progress)
        insert(conn, orders, order_rows(), counts, progress)
        insert(conn, processor_ids, processor_rows(), counts, progress)
        insert(conn, visits, visit_rows(), counts, progress)
    return Generated(counts, people)


TEMPLATE = Template(
    name="lillemini", manifest=example_manifest("lillemini"), url_env="LILLEMINI_DATABASE_URL",
    metadata=metadata, generate=generate, labels=LABELS, min_subjects=1, who="one customer",
)
