"""Seed 000 (SnapMentor): the mentoring service ``personvern demo init`` writes by default."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from personvern.demo import schema
from personvern.demo.generate import generate as generate_rows
from personvern.demo.templates import Generated, Label, Person, Progress, Template

EMAIL, PHONE = "user.contact.email", "user.contact.phone_number"

LABELS: dict[tuple[str, str], Label] = {
    ("users", "id"): Label(identity="user_id"),
    ("users", "email"): Label((EMAIL,), "email"),
    ("users", "phone"): Label((PHONE,), "phone"),
    ("users", "name"): Label(("user.name",)),
    ("users", "birth_date"): Label(("user.demographic.date_of_birth",)),
    ("users", "address"): Label(("user.contact.address",)),
    ("users", "last_login_at"): Label(("user.behavior",)),
    ("sessions", "notes"): Label(("user.content.private",)),
    ("invoices", "billed_name"): Label(("user.name",)),
    ("invoices", "billed_address"): Label(("user.contact.address",)),
    ("messages", "body"): Label(("user.content.private",)),
    ("login_events", "ip"): Label(("user.device.ip_address",)),
    ("marketing_list", "email"): Label((EMAIL,), "email"),
}


def generate(engine: Engine, subjects: int, *, now: datetime, seed: int,
             progress: Progress | None = None) -> Generated:
    """Parents, pupils and mentors, their sessions, purchases, invoices and messages."""
    counts = generate_rows(engine, subjects, now=now, seed=seed, progress=progress)
    with engine.connect() as conn:
        customers = set(conn.scalars(select(schema.purchases.c.payer_id).distinct()))
        users = {r.id: r for r in conn.execute(select(
            schema.users.c.id, schema.users.c.email, schema.users.c.phone,
            schema.users.c.birth_date, schema.users.c.role).order_by(schema.users.c.id))}
        links = conn.execute(select(schema.guardians.c.guardian_id,
                                    schema.guardians.c.child_id)).all()
    people = [Person(r.id, r.email, r.phone, r.role, r.birth_date, r.id in customers)
              for r in users.values()]
    return Generated(vars(counts), people,
                     [(users[g].email, users[c].email) for g, c in links])


TEMPLATE = Template(
    name="snapmentor",
    # The default demo keeps its own manifest (Leksehjelp Demo, a clean one to try every
    # command on); examples/snapmentor.yaml maps the same tables as the seed states them.
    manifest=Path(__file__).resolve().parents[1] / "manifest.yaml",
    url_env="SNAPMENTOR_DATABASE_URL",
    metadata=schema.metadata,
    generate=generate,
    labels=LABELS,
    min_subjects=3,
    who="a parent, a pupil and a mentor",
)
