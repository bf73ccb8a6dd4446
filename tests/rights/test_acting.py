"""Who may act for whom: the person, a guardian for a child, an admin for a member."""

from __future__ import annotations

from datetime import date

import pytest

from personvern.errors import Forbidden, InvalidInput
from personvern.law import get_jurisdiction
from personvern.manifest.loader import parse_manifest
from personvern.rights.acting import (
    Act,
    Relation,
    consent_age,
    guardian_may_act,
    needs_guardian_consent,
    require_standing,
    years_on,
)

NO = get_jurisdiction("NO")
DAY = date(2027, 6, 1)
TWELVE = date(2014, 6, 2)      # 12 on DAY, 13 the day after
THIRTEEN = date(2014, 6, 1)    # 13 on DAY: personopplysningsloven § 5
SEVENTEEN = date(2009, 6, 2)   # 17 on DAY, 18 the day after
EIGHTEEN = date(2009, 6, 1)    # 18 on DAY: vergemålsloven § 2


def stand(relation: Relation, act: Act, birth: date | None, *, related: bool = True) -> None:
    require_standing(relation, act, subject_id="child", actor_id="parent", related=related,
                     birth=birth, day=DAY, age=NO.child_consent_age, j=NO)


def test_the_child_consents_alone_from_thirteen() -> None:
    """GDPR Art. 8(1) with personopplysningsloven § 5: a child's own consent counts from 13."""
    assert needs_guardian_consent(TWELVE, DAY, 13)
    assert not needs_guardian_consent(THIRTEEN, DAY, 13)
    assert not needs_guardian_consent(None, DAY, 13)
    with pytest.raises(InvalidInput, match="a guardian must give this consent") as refused:
        stand(Relation.SELF, Act.GIVE_CONSENT, TWELVE)
    assert refused.value.code == "guardian_required"
    stand(Relation.SELF, Act.GIVE_CONSENT, THIRTEEN)


def test_a_child_may_always_withdraw_and_ask() -> None:
    """Art. 7(3): withdrawing is as easy as giving; Art. 12(2): rights are the child's own."""
    stand(Relation.SELF, Act.CONSENT_EVENT, TWELVE)
    stand(Relation.SELF, Act.REQUEST, TWELVE)


def test_a_guardian_consents_only_below_the_consent_age() -> None:
    stand(Relation.GUARDIAN, Act.GIVE_CONSENT, TWELVE)
    with pytest.raises(InvalidInput, match="old enough to decide for themselves") as refused:
        stand(Relation.GUARDIAN, Act.GIVE_CONSENT, THIRTEEN)
    assert refused.value.code == "old_enough"


def test_a_guardian_asks_for_a_minor_until_eighteen() -> None:
    """vergemålsloven § 2: the guardians represent a minor (under 18)."""
    stand(Relation.GUARDIAN, Act.REQUEST, SEVENTEEN)
    with pytest.raises(Forbidden, match=r"an adult; a guardian acts only for a child under 18 "
                                        r"\(vergemålsloven § 2\)"):
        stand(Relation.GUARDIAN, Act.REQUEST, EIGHTEEN)
    assert guardian_may_act(Act.REQUEST, SEVENTEEN, DAY, 13, NO)
    assert not guardian_may_act(Act.REQUEST, EIGHTEEN, DAY, 13, NO)


def test_without_a_birth_date_a_guardian_has_no_standing() -> None:
    """vergemålsloven § 2 ends a guardian's standing at 18: with no birth date nothing could
    ever end it, so none is assumed (the person acts for themselves)."""
    assert not guardian_may_act(Act.REQUEST, None, DAY, 13, NO)
    assert not guardian_may_act(Act.GIVE_CONSENT, None, DAY, 13, NO)
    for act in (Act.REQUEST, Act.GIVE_CONSENT, Act.CONSENT_EVENT):
        with pytest.raises(InvalidInput, match=r"no birth date on record.*vergemålsloven § 2") \
                as refused:
            stand(Relation.GUARDIAN, act, None)
        assert refused.value.code == "birth_date_required"
    stand(Relation.SELF, Act.GIVE_CONSENT, None)


def test_no_relation_no_standing() -> None:
    with pytest.raises(Forbidden, match="parent is not a guardian of child"):
        stand(Relation.GUARDIAN, Act.REQUEST, TWELVE, related=False)
    with pytest.raises(Forbidden, match="not an admin of an organisation child belongs to"):
        stand(Relation.ADMIN, Act.REQUEST, None, related=False)
    stand(Relation.ADMIN, Act.REQUEST, None)


def test_a_manifest_may_raise_the_consent_age() -> None:
    """Art. 8(1) lets a state set 13-16; a service may choose to ask guardians longer."""
    text = ('personvern: 1\nservice: {name: T}\ncontroller: {name: T AS, orgnr: "923641645", '
            'email: a@b.no}\njurisdiction: {country: "NO", child_consent_age: 16}\n'
            'purposes:\n  - {id: s, name: S, legal_basis: contract, categories: [user.name]}\n')
    manifest = parse_manifest(text).manifest
    assert consent_age(manifest, NO) == 16


def test_an_age_is_never_guessed() -> None:
    # GDPR Art. 8(1): 12 the day before the 13th birthday, 13 on it; a birth date missing
    # or after the day gives no age at all.
    assert years_on(TWELVE, DAY) == 12 and years_on(THIRTEEN, DAY) == 13
    assert years_on(None, DAY) is None
    assert years_on(date(2027, 6, 2), DAY) is None and years_on(DAY, DAY) == 0
