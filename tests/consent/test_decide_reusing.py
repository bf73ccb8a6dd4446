"""``decide_reusing`` gives :func:`decide_purpose`'s answer at every instant: the answer it
keeps on a person's cached state is given again only while nothing it compares the time
with can turn (a restriction beginning, an event or a GPC signal dated later, a consent's
validity ending, a policy change taking effect, a child's birthday)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from personvern.consent.decide import (
    SubjectFacts,
    SubjectState,
    add_duration,
    decide_purpose,
    decide_reusing,
)
from personvern.consent.events import Actor, Channel, ConsentEvent, EventType
from personvern.law import get_jurisdiction
from personvern.manifest.loader import parse_manifest
from personvern.manifest.model import Manifest

NO = get_jurisdiction("NO")
T0 = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
OSLO_WINTER = timezone(timedelta(hours=1))
AGE = 13
FRESH = T0 + timedelta(days=2)  # a material policy change takes effect
MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: service, name: Tjeneste, legal_basis: contract, categories: [user.name]}
  - id: newsletter
    name: Nyhetsbrev
    legal_basis: consent
    consent: {expires_after: 1 month}
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
PURPOSES = ("service", "newsletter", "analytics", "offers", "sharing")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return parse_manifest(MANIFEST).manifest


def a_person(rng: random.Random) -> SubjectState:
    """Events of every kind within ±40 days of T0, and facts that each may change a
    decision, some of them dated inside that span."""
    events = []
    for _ in range(rng.randrange(0, 9)):
        kind = rng.choice(list(EventType))
        purpose = None if kind is EventType.GPC_SEEN else rng.choice(PURPOSES)
        at = T0 + timedelta(days=rng.randrange(-40, 40), hours=rng.randrange(24))
        events.append(ConsentEvent(kind, purpose, at, rng.choice(list(Actor)),
                                   rng.choice(list(Channel))))
    events.sort(key=lambda e: e.at)  # ledger order follows time here
    birth = rng.choice([None, date(1990, 5, 5),
                        (T0 + timedelta(days=rng.randrange(-3, 4))).date().replace(year=2014)])
    facts = SubjectFacts(
        birth_date=birth, existing_customer=rng.random() < 0.5,
        relationship_active=rng.random() < 0.8,
        restricted_since=rng.choice([None, None, T0 + timedelta(days=rng.randrange(-5, 5))]),
        retained_for=rng.choice([None, None, frozenset({"service"})]))
    return SubjectState.of(facts, events)


def instants(rng: random.Random, state: SubjectState, manifest: Manifest) -> list[datetime]:
    """Times to ask at: mostly forwards, now and then back, and every instant at which an
    answer may turn, exactly and a microsecond either side."""
    turns = [T0, FRESH]
    for events in state.by_purpose.values():
        for e in events:
            turns += [e.at, add_duration(e.at, manifest.purposes[1].consent.expires_after)]  # type: ignore[union-attr]
    if state.facts.restricted_since is not None:
        turns.append(state.facts.restricted_since)
    if state.facts.birth_date is not None:
        birthday = state.facts.birth_date.replace(year=2027)
        turns.append(datetime(birthday.year, birthday.month, birthday.day, tzinfo=UTC))
    us = timedelta(microseconds=1)
    times = sorted({t + d for t in turns for d in (-us, timedelta(0), us)})
    times += [T0 + timedelta(hours=rng.randrange(-24 * 60, 24 * 60)) for _ in range(20)]
    times.sort()
    for _ in range(5):  # asking about the past now and then
        i = rng.randrange(len(times))
        times.insert(rng.randrange(len(times)), times[i])
    return times


def test_every_answer_is_the_one_decide_purpose_gives(manifest: Manifest) -> None:
    rng = random.Random(15)
    reused = asked = 0
    for _ in range(100):
        state = a_person(rng)
        times = instants(rng, state, manifest)
        for purpose in manifest.purposes:
            for gpc in (False, True):
                for since in (None, FRESH):
                    key = (purpose.id, gpc, since)
                    for at in times:
                        kept = state.answers.get(key)
                        got = decide_reusing(purpose, AGE, NO, state, at, gpc=gpc,
                                             fresh_consent_since=since)
                        want = decide_purpose(purpose, AGE, NO, state, at, gpc=gpc,
                                              fresh_consent_since=since)
                        assert got == want, (state, key, at)
                        asked += 1
                        reused += kept is not None and state.answers[key] is kept
    assert reused > asked // 2  # so the equality above held for answers given again


def test_a_kept_answer_is_given_again_with_the_time_asked(manifest: Manifest) -> None:
    newsletter = manifest.purposes[1]
    given = ConsentEvent(EventType.CONSENT_GIVEN, "newsletter", T0, Actor.SELF, Channel.API)
    state = SubjectState.of(SubjectFacts(), [given])
    first = decide_reusing(newsletter, AGE, NO, state, T0 + timedelta(days=1))
    kept = state.answers[("newsletter", False, None)]
    later = T0 + timedelta(days=2)
    again = decide_reusing(newsletter, AGE, NO, state, later)
    assert state.answers[("newsletter", False, None)] is kept  # not worked out again
    assert again == first._replace(at=later) and again.allowed
    # A month on the consent has expired: the kept answer is not given past that.
    ends = add_duration(T0, newsletter.consent.expires_after)  # type: ignore[union-attr]
    assert decide_reusing(newsletter, AGE, NO, state, ends).code == "consent_expired"


def test_another_time_zone_or_a_naive_time_is_decided_afresh(manifest: Manifest) -> None:
    """A child's age is judged on the date of the time asked, which depends on its zone."""
    sharing = manifest.purposes[4]
    own = ConsentEvent(EventType.CONSENT_GIVEN, "sharing", T0 - timedelta(days=400),
                               Actor.SELF, Channel.API)
    # Thirteen on 3 January 2027: a minute past midnight in Oslo, still 2 January in UTC.
    state = SubjectState.of(SubjectFacts(birth_date=date(2014, 1, 3)), [own])
    utc = datetime(2027, 1, 2, 23, 1, tzinfo=UTC)
    assert decide_reusing(sharing, AGE, NO, state, utc).code == "child_needs_guardian"
    oslo = utc.astimezone(OSLO_WINTER)
    assert decide_reusing(sharing, AGE, NO, state, oslo) == decide_purpose(
        sharing, AGE, NO, state, oslo)
    assert decide_reusing(sharing, AGE, NO, state, oslo).allowed
    with pytest.raises(TypeError):  # as decide_purpose: a naive time cannot be compared
        decide_reusing(sharing, AGE, NO, SubjectState.of(
            SubjectFacts(restricted_since=T0), []), datetime(2027, 1, 2))
