"""Seed 003 (Min Mentor): a competence hub where companies, through representatives with
signing authority, offer their employees' skills to each other: companies, representatives,
employees with positions, education and skills, matches between companies, statistics."""

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
    Text,
)
from stdnum.no import orgnr

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
companies = Table(
    "companies", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_name", String(200), nullable=False),
    Column("orgnr", String(9), nullable=False, unique=True),
    Column("joined_on", Date, nullable=False),
)
# Representatives and employees share one id space: a user id finds one person.
representatives = Table(
    "representatives", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(20)),
    Column("has_signature_right", Boolean, nullable=False),
)
employees = Table(
    "employees", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("phone", String(20)),
    Column("position", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)
education = Table(
    "education", metadata,
    Column("id", Integer, primary_key=True),
    Column("employee_id", ForeignKey("employees.id"), nullable=False, index=True),
    Column("degree", String(100), nullable=False),
    Column("institution", String(100), nullable=False),
    Column("finished_year", Integer, nullable=False),
)
skills = Table(
    "skills", metadata,
    Column("id", Integer, primary_key=True),
    Column("employee_id", ForeignKey("employees.id"), nullable=False, index=True),
    Column("skill", String(100), nullable=False),
    Column("level", Integer, nullable=False),
)
matches = Table(
    "matches", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("partner_company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("employee_id", ForeignKey("employees.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
)
statistics = Table(
    "statistics", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
    Column("month", Date, nullable=False),
    Column("active_employees", Integer, nullable=False),
    Column("matches_made", Integer, nullable=False),
)

PRO = "user.professional_information"
LABELS: dict[tuple[str, str], Label] = {
    ("companies", "orgnr"): Label((f"{PRO}.workplace",)),
    **{(t, c): label for t in ("representatives", "employees") for c, label in (
        ("id", Label(identity="user_id")),
        ("email", Label(("user.contact.email",), "email")),
        ("phone", Label(("user.contact.phone_number",), "phone")),
        ("name", Label(("user.name",))))},
    ("representatives", "has_signature_right"): Label((f"{PRO}.signature_rights",)),
    ("employees", "position"): Label((f"{PRO}.job_title",)),
    ("employees", "last_login_at"): Label(("user.behavior",)),
    ("education", "degree"): Label((f"{PRO}.education",)),
    ("education", "institution"): Label((f"{PRO}.education",)),
    ("skills", "skill"): Label((f"{PRO}.skills",)),
    ("matches", "note"): Label(("user.content.private",)),
}
POSITIONS = ("Prosjektleder", "Utvikler", "Regnskapsfører", "Salgssjef", "Designer",
             "Daglig leder", "Ingeniør", "HR-rådgiver")
DEGREES = ("Bachelor i økonomi", "Master i informatikk", "Fagbrev elektriker",
           "Bachelor i sykepleie", "Master i ledelse")
SCHOOLS = ("NTNU", "Universitetet i Bergen", "BI", "OsloMet", "Høgskulen på Vestlandet")
SKILLS = ("Python", "Prosjektstyring", "Lønn og regnskap", "Salg", "Figma", "Excel",
          "Kundeservice", "Arbeidsrett")
NOTES = ("Avtalt to dager med veiledning i regnskapssystemet før månedsskiftet.",
         "Ønsker hjelp med oppsett av nettbutikk, cirka ti timer fordelt på to uker.",
         "Kompetansedeling om anbudsprosesser i offentlig sektor, møte på Teams.")


def _orgnr(n: int) -> str:
    """An organisasjonsnummer with a valid check digit (mod 11) that no company has: the
    register gives out numbers starting with 8 or 9, these start with 1."""
    base = 10_000_000 + n * 7
    while True:
        for digit in "0123456789":  # the one that makes the weighted sum 0 mod 11
            if orgnr.is_valid(number := f"{base:08d}{digit}"):
                return number
        base += 1  # no check digit fits this stem


def generate(engine: Engine, subjects: int, *, now: datetime, seed: int,
             progress: Progress | None = None) -> Generated:
    """``subjects`` people: one representative per company, the rest its employees."""
    pool = People(seed)
    rng = pool.rng
    metadata.create_all(engine)
    counts: dict[str, int] = {}
    people: list[Person] = []
    company_count = max(2, subjects // 10)
    owner = {uid: (uid - 1) % company_count + 1 for uid in range(1, subjects + 1)}
    employee_ids = range(company_count + 1, subjects + 1)

    # company id -> (name, orgnr, [(e-mail, role)]): the hub's customers as the engine's
    # organisations; a representative with signing authority administers the company's
    # people, anyone else is a member.
    orgs: dict[int, tuple[str, str, list[tuple[str, str]]]] = {}

    def company_rows() -> Iterator[dict[str, Any]]:
        for cid in range(1, company_count + 1):
            name = f"{pool.name()[1]} {rng.choice(('AS', 'SA'))}"
            orgs[cid] = (name, _orgnr(cid), [])
            yield {"id": cid, "company_name": name, "orgnr": orgs[cid][1],
                   "joined_on": (now - timedelta(days=rng.randint(30, 900))).date()}

    def person(uid: int, kind: str) -> dict[str, Any]:
        given, family = pool.name()
        email = pool.email(given, family, uid)
        people.append(Person(uid, email, pool.phone(uid), kind))
        return {"id": uid, "company_id": owner[uid], "name": f"{given} {family}",
                "email": email, "phone": pool.phone(uid)}

    def representative_rows() -> Iterator[dict[str, Any]]:
        for uid in range(1, company_count + 1):
            row = {**person(uid, "representatives"), "has_signature_right": rng.random() < 0.8}
            orgs[owner[uid]][2].append(
                (row["email"], "admin" if row["has_signature_right"] else "member"))
            yield row

    def employee_rows() -> Iterator[dict[str, Any]]:
        for uid in employee_ids:
            created = now - timedelta(days=rng.randint(1, 800))
            row = person(uid, "employees")
            orgs[owner[uid]][2].append((row["email"], "member"))
            yield {**row, "position": rng.choice(POSITIONS),
                   "created_at": created,
                   "last_login_at": min(created + timedelta(days=rng.randint(0, 800)), now)}

    def education_rows() -> Iterator[dict[str, Any]]:
        for uid in employee_ids:
            yield {"employee_id": uid, "degree": rng.choice(DEGREES),
                   "institution": rng.choice(SCHOOLS), "finished_year": rng.randint(1990, 2024)}

    def skill_rows() -> Iterator[dict[str, Any]]:
        for uid in employee_ids:
            for skill in rng.sample(SKILLS, k=rng.randint(1, 3)):
                yield {"employee_id": uid, "skill": skill, "level": rng.randint(1, 5)}

    def match_rows() -> Iterator[dict[str, Any]]:
        for uid in employee_ids:
            if rng.random() < 0.4:
                partner = rng.choice([c for c in range(1, company_count + 1) if c != owner[uid]])
                yield {"company_id": owner[uid], "partner_company_id": partner,
                       "employee_id": uid, "note": rng.choice(NOTES),
                       "created_at": now - timedelta(days=rng.randint(0, 300))}

    def statistics_rows() -> Iterator[dict[str, Any]]:
        month = now.date().replace(day=1)
        for cid in range(1, company_count + 1):
            for back in range(3):
                yield {"company_id": cid, "month": (month - timedelta(days=28 * back))
                       .replace(day=1), "active_employees": rng.randint(1, 40),
                       "matches_made": rng.randint(0, 12)}

    with engine.begin() as conn:
        insert(conn, companies, company_rows(), counts)
        insert(conn, representatives, representative_rows(), counts, progress)
        insert(conn, employees, employee_rows(), counts, progress)
        insert(conn, education, education_rows(), counts, progress)
        insert(conn, skills, skill_rows(), counts, progress)
        insert(conn, matches, match_rows(), counts, progress)
        insert(conn, statistics, statistics_rows(), counts)
    return Generated(counts, people, organisations=[orgs[c] for c in sorted(orgs)])


TEMPLATE = Template(
    name="minmentor", manifest=example_manifest("minmentor"), url_env="MINMENTOR_DATABASE_URL",
    metadata=metadata, generate=generate, labels=LABELS, min_subjects=4,
    who="two companies, each with a representative and an employee",
)
