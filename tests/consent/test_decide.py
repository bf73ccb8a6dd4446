"""``decide`` combines basis, consent, objections, children, GPC, expiry and policy changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from personvern.consent.decide import SubjectFacts, decide
from personvern.consent.events import Actor, Channel, ConsentEvent, EventType
from personvern.errors import NotFound
from personvern.law import get_jurisdiction
from personvern.manifest.loader import parse_manifest
from personvern.manifest.model import Manifest

NO = get_jurisdiction("NO")
T0 = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)

MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: service, name: Tjeneste, legal_basis: contract, categories: [user.name]}
  - {id: books, name: Regnskap, legal_basis: legal_obligation,
     legal_obligation: {statute: bokføringsloven § 13}, categories: [user.payment]}
  - id: newsletter
    name: Nyhetsbrev
    legal_basis: consent
    consent: {expires_after: 1 year}
    marketing: {channels: [email]}
    categories: [user.contact.email]
  - id: analytics
    name: Analyse
    legal_basis: legitimate_interests
    legitimate_interest: {interest: Forbedre tjenesten, balancing: Lite inngripende}
    categories: [user.behavior]
  - id: offers
    name: Tilbud
    legal_basis: legitimate_interests
    legitimate_interest: {interest: Markedsføring, balancing: Egne kunder}
    marketing: {channels: [email], existing_customer_exception: true,
                opt_out_at_collection: true, opt_out_in_every_message: true}
    categories: [user.contact.email]
  - {id: sharing, name: Deling, legal_basis: consent, third_party_sharing: true,
     categories: [user.name]}
"""


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return parse_manifest(MANIFEST).manifest


def ev(kind: EventType, purpose: str | None, days: int = 0, *, actor: Actor = Actor.SELF,
       channel: Channel = Channel.PORTAL) -> ConsentEvent:
    return ConsentEvent(kind, purpose, T0 + timedelta(days=days), actor, channel)


def run(m: Manifest, purpose: str, events: list[ConsentEvent], *, days: int = 1,
        facts: SubjectFacts | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return decide(m, NO, purpose, facts or SubjectFacts(), events, T0 + timedelta(days=days),
                  **kw)  # type: ignore[arg-type]


def test_contract_allowed_while_the_relationship_lasts(manifest: Manifest) -> None:
    """GDPR Art. 6(1)(b)."""
    d = run(manifest, "service", [])
    assert d.allowed and d.basis == "contract" and "Art. 6(1)(b)" in d.reason
    ended = run(manifest, "service", [], facts=SubjectFacts(relationship_active=False))
    assert not ended.allowed and ended.code == "relationship_ended"


def test_legal_obligation_is_not_stopped_by_objection(manifest: Manifest) -> None:
    """GDPR Art. 6(1)(c): no objection right; bookkeeping continues."""
    d = run(manifest, "books", [ev(EventType.OBJECTION_RAISED, "books")])
    assert d.allowed and "required by law" in d.reason


def test_consent_needed_and_withdrawal_stops_it(manifest: Manifest) -> None:
    """GDPR Art. 6(1)(a) and 7(3)."""
    assert run(manifest, "newsletter", []).code == "no_consent"
    given = [ev(EventType.CONSENT_GIVEN, "newsletter")]
    assert run(manifest, "newsletter", given).allowed
    withdrawn = [*given, ev(EventType.CONSENT_WITHDRAWN, "newsletter", 5)]
    d = run(manifest, "newsletter", withdrawn, days=6)
    assert not d.allowed
    assert d.reason == "consent withdrawn 2027-01-07 via portal"


def test_events_after_the_decision_time_do_not_count(manifest: Manifest) -> None:
    later = [ev(EventType.CONSENT_GIVEN, "newsletter", 10)]
    assert not run(manifest, "newsletter", later, days=1).allowed
    assert run(manifest, "newsletter", later, days=11).allowed


def test_consent_expires_after_the_manifest_period(manifest: Manifest) -> None:
    given = [ev(EventType.CONSENT_GIVEN, "newsletter")]
    assert run(manifest, "newsletter", given, days=364).allowed
    d = run(manifest, "newsletter", given, days=366)
    assert not d.allowed and d.code == "consent_expired" and "2028-01-02" in d.reason


def test_material_policy_change_requires_fresh_consent(manifest: Manifest) -> None:
    given = [ev(EventType.CONSENT_GIVEN, "newsletter")]
    change = T0 + timedelta(days=30)
    assert run(manifest, "newsletter", given, days=10, fresh_consent_since=change).allowed
    d = run(manifest, "newsletter", given, days=31, fresh_consent_since=change)
    assert not d.allowed and d.code == "policy_changed"
    renewed = [*given, ev(EventType.CONSENT_GIVEN, "newsletter", 31)]
    assert run(manifest, "newsletter", renewed, days=32, fresh_consent_since=change).allowed


def test_objection_to_marketing_is_absolute(manifest: Manifest) -> None:
    """GDPR Art. 21(3): even with consent, an objection to direct marketing stops it."""
    events = [ev(EventType.CONSENT_GIVEN, "newsletter"),
              ev(EventType.OBJECTION_RAISED, "newsletter", 2, channel=Channel.EMAIL)]
    d = run(manifest, "newsletter", events, days=3)
    assert not d.allowed and d.code == "objected_marketing" and "Art. 21(3)" in d.reason


def test_objection_to_legitimate_interest_restricts_until_lifted(manifest: Manifest) -> None:
    """GDPR Art. 21(1) and 18(1)(d)."""
    raised = [ev(EventType.OBJECTION_RAISED, "analytics")]
    assert run(manifest, "analytics", []).allowed
    assert run(manifest, "analytics", raised).code == "objected"
    lifted = [*raised, ev(EventType.OBJECTION_LIFTED, "analytics", 1)]
    assert run(manifest, "analytics", lifted, days=2).allowed


def test_existing_customer_exception(manifest: Manifest) -> None:
    """markedsføringsloven § 15: customers may get e-mail offers without consent."""
    assert run(manifest, "offers", [], facts=SubjectFacts(existing_customer=True)).allowed
    d = run(manifest, "offers", [], facts=SubjectFacts(existing_customer=False))
    assert not d.allowed and "markedsføringsloven § 15" in d.reason
    opted_out = [ev(EventType.OBJECTION_RAISED, "offers")]
    customer = SubjectFacts(existing_customer=True)
    assert not run(manifest, "offers", opted_out, facts=customer).allowed


def test_child_under_13_needs_a_guardian(manifest: Manifest) -> None:
    """GDPR Art. 8(1), personopplysningsloven § 5: under 13 only a guardian's consent counts."""
    twelve = SubjectFacts(birth_date=date(2014, 6, 1))
    own = [ev(EventType.CONSENT_GIVEN, "sharing")]
    d = run(manifest, "sharing", own, facts=twelve)
    assert not d.allowed and d.code == "child_needs_guardian"
    by_guardian = [ev(EventType.CONSENT_GIVEN, "sharing", actor=Actor.GUARDIAN)]
    ok = run(manifest, "sharing", by_guardian, facts=twelve)
    assert ok.allowed and "by a guardian" in ok.reason
    # The child's own withdrawal still counts: withdrawing is always possible.
    withdrawn = [*by_guardian, ev(EventType.CONSENT_WITHDRAWN, "sharing", 1)]
    assert not run(manifest, "sharing", withdrawn, days=2, facts=twelve).allowed
    thirteen = SubjectFacts(birth_date=date(2014, 1, 1))
    assert run(manifest, "sharing", own, facts=thirteen).allowed


def test_gpc_objects_to_marketing_and_sharing_only(manifest: Manifest) -> None:
    """LAW.md: Sec-GPC is treated as an Art. 21(5) objection to marketing and sharing."""
    given = [ev(EventType.CONSENT_GIVEN, "sharing"), ev(EventType.CONSENT_GIVEN, "newsletter")]
    assert not run(manifest, "sharing", given, gpc=True).allowed
    assert run(manifest, "newsletter", given, gpc=True).code == "gpc"
    assert run(manifest, "service", [], gpc=True).allowed
    recorded = [*given, ev(EventType.GPC_SEEN, None)]
    assert run(manifest, "sharing", recorded).code == "gpc"
    # A specific consent given after the recorded signal is the person's choice.
    chose = [*recorded, ev(EventType.CONSENT_GIVEN, "sharing", days=1)]
    assert run(manifest, "sharing", chose, days=2).allowed
    assert not run(manifest, "sharing", chose, days=2, gpc=True).allowed


def test_unknown_purpose_is_not_found(manifest: Manifest) -> None:
    with pytest.raises(NotFound, match="unknown purpose 'nope'"):
        run(manifest, "nope", [])


def test_restriction_allows_only_storage(manifest: Manifest) -> None:
    """GDPR Art. 18(2): under a restriction nothing but storage, whatever the basis."""
    since = T0 - timedelta(days=1)
    facts = SubjectFacts(restricted_since=since)
    for purpose in ("service", "books", "analytics"):
        d = run(manifest, purpose, [], facts=facts)
        assert not d.allowed and d.code == "restricted" and "Art. 18(2)" in d.reason
    later = SubjectFacts(restricted_since=T0 + timedelta(days=30))
    assert run(manifest, "service", [], facts=later).allowed
