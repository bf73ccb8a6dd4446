"""A material policy change asks for fresh consent from its effective date (issue 6 item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from personvern.consent.events import EventType
from personvern.consent.service import ConsentContext, decide_for, record_event
from personvern.consent.subjects import create_subject
from personvern.manifest.loader import parse_manifest
from personvern.policy.versions import publish
from personvern.runtime import EngineSources
from personvern.storage.session import make_sessionmaker, transaction
from personvern.templates import template_text

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
NEWSLETTER = """
  - id: newsletter
    name: {nb: Nyhetsbrev, en: Newsletter}
    description: {nb: Nyheter på e-post., en: News by e-mail.}
    legal_basis: consent
    consent:
      how_to_withdraw: {nb: Meld deg av i e-posten., en: Unsubscribe in the e-mail.}
    marketing: {channels: [email]}
    categories: [user.contact.email]
    subjects: [customer]
    retention: account
    recipients: [hosting%s]
"""
SENTRY = """
  - id: sentry
    name: Functional Software Inc. (Sentry)
    role: processor
    service: {nb: Feilrapportering, en: Error reporting}
    country: US
    transfer: {mechanism: scc}
    dpa_signed: 2026-01-01
    sub_processors: general_authorisation
"""


def manifest_text(with_sentry: bool) -> str:
    text = template_text("blank").replace(
        "\nretention:\n", NEWSLETTER % (", sentry" if with_sentry else "") + "\nretention:\n", 1)
    if with_sentry:
        text = text.replace("\nrights:\n", SENTRY + "\nrights:\n", 1)
    return text


def test_consent_before_a_material_change_must_be_renewed(db_engine: Engine) -> None:
    sessions = make_sessionmaker(db_engine)
    v1, v2 = parse_manifest(manifest_text(False)), parse_manifest(manifest_text(True))
    ctx = ConsentContext.of(v2.manifest, "v2", EngineSources())
    with transaction(sessions) as s:
        publish(s, lambda: T0, v1, T0 + timedelta(days=30))
        sid = create_subject(s, lambda: T0, {"email": "kari@example.no"})[0].id
        record_event(s, ctx, T0 + timedelta(days=31), sid, EventType.CONSENT_GIVEN,
                     purpose_id="newsletter")
    effective = T0 + timedelta(days=90)
    with transaction(sessions) as s:
        version = publish(s, lambda: T0 + timedelta(days=40), v2, effective)
        assert version.material
    with transaction(sessions) as s:
        before = decide_for(s, ctx, sid, "newsletter", effective - timedelta(days=1))
        after = decide_for(s, ctx, sid, "newsletter", effective + timedelta(days=1))
        assert before.allowed
        assert not after.allowed and after.code == "policy_changed"
        record_event(s, ctx, effective + timedelta(days=2), sid, EventType.CONSENT_GIVEN,
                     purpose_id="newsletter")
    with transaction(sessions) as s:
        assert decide_for(s, ctx, sid, "newsletter", effective + timedelta(days=3)).allowed
