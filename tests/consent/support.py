"""What several consent test modules share: a manifest with one consent purpose."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from personvern.consent.service import ConsentContext
from personvern.consent.subjects import create_subject
from personvern.errors import PersonvernError
from personvern.manifest.loader import parse_manifest
from personvern.requests.erase import forget_subjects
from personvern.runtime import EngineSources
from personvern.storage.session import make_sessionmaker, transaction

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)

MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: newsletter, name: Nyhetsbrev, legal_basis: consent, categories: [user.contact.email],
     marketing: {channels: [email]}}
"""


def newsletter_context() -> ConsentContext:
    """The consent rules of MANIFEST (a newsletter on consent), policy version "a" * 64."""
    return ConsentContext.of(parse_manifest(MANIFEST).manifest, "a" * 64, EngineSources())


def lookup_people(engine: Engine) -> tuple[str, str, str]:
    """Kari (e-mail, phone, external id, birth date), Ola, and someone erased: their ids,
    for tests of how a written reference finds its person."""
    with transaction(make_sessionmaker(engine)) as s:
        sid = create_subject(s, lambda: T0, {"email": "Kari@Example.no", "phone": "+4791234567",
                                             "external_id": "u-1"},
                             birth_date=date(1990, 1, 2))[0].id
        other = create_subject(s, lambda: T0, {"email": "ola@example.no"})[0].id
        gone = create_subject(s, lambda: T0, {"email": "borte@example.no"})[0].id
    with transaction(make_sessionmaker(engine)) as s:
        forget_subjects(s, [gone], T0)
    return sid, other, gone


def outcome(call: Callable[[], object]) -> object:
    """What ``call`` returns, or the type and text of the engine error it raises."""
    try:
        return call()
    except PersonvernError as err:
        return type(err), str(err)
