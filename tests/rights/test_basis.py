"""Which rights each legal basis gives, and what an objection does (GDPR Art. 7(3), 15-22)."""

from __future__ import annotations

import pytest

from personvern.errors import InvalidInput, NotFound
from personvern.manifest.loader import parse_manifest
from personvern.manifest.model import Manifest, Purpose
from personvern.rights.basis import (
    RIGHTS,
    Objection,
    may_object,
    objection,
    objection_targets,
    rights_for,
    rights_given,
)

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
    marketing: {channels: [email], existing_customer_exception: true}
    categories: [user.contact.email]
  - {id: register, name: Register, legal_basis: public_task, categories: [user.name]}
  - {id: rescue, name: Redning, legal_basis: vital_interests, categories: [user.name]}
"""


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return parse_manifest(MANIFEST).manifest


def purpose(m: Manifest, purpose_id: str) -> Purpose:
    return next(p for p in m.purposes if p.id == purpose_id)


@pytest.mark.parametrize("purpose_id", ["service", "books", "newsletter", "analytics",
                                        "offers", "register", "rescue"])
def test_access_rectification_and_restriction_hold_on_every_basis(
        manifest: Manifest, purpose_id: str) -> None:
    """Art. 15, 16 and 18 name no legal basis: they hold for all processing."""
    given = rights_for(purpose(manifest, purpose_id))
    assert {"access", "rectification", "restriction"} <= set(given)


def test_no_erasure_of_what_a_legal_obligation_requires(manifest: Manifest) -> None:
    """Art. 17(3)(b): erasure does not reach processing a legal obligation requires."""
    assert "erasure" not in rights_for(purpose(manifest, "books"))
    assert "erasure" in rights_for(purpose(manifest, "service"))


@pytest.mark.parametrize(("purpose_id", "portable"), [
    ("service", True), ("newsletter", True), ("analytics", False), ("books", False),
    ("register", False), ("rescue", False)])
def test_portability_only_from_consent_or_contract(
        manifest: Manifest, purpose_id: str, portable: bool) -> None:
    """Art. 20(1)(a): portability where the basis is consent (6(1)(a)) or contract (6(1)(b))."""
    assert ("portability" in rights_for(purpose(manifest, purpose_id))) is portable


@pytest.mark.parametrize(("purpose_id", "kind"), [
    ("analytics", Objection.WEIGHED),   # Art. 21(1): legitimate interests
    ("register", Objection.WEIGHED),    # Art. 21(1): public task
    ("offers", Objection.ABSOLUTE),     # Art. 21(2)-(3): direct marketing on any basis
    ("newsletter", Objection.ABSOLUTE),
    ("service", Objection.NONE), ("books", Objection.NONE), ("rescue", Objection.NONE),
])
def test_what_an_objection_does(manifest: Manifest, purpose_id: str, kind: Objection) -> None:
    p = purpose(manifest, purpose_id)
    assert objection(p) is kind
    assert may_object(p) is (kind is not Objection.NONE)
    assert ("objection" in rights_for(p)) is (kind is not Objection.NONE)


def test_withdrawal_only_of_consent(manifest: Manifest) -> None:
    """Art. 7(3): consent may be withdrawn; no other basis has a consent to withdraw."""
    withdrawable = [p.id for p in manifest.purposes if "withdraw_consent" in rights_for(p)]
    assert withdrawable == ["newsletter"]


def test_rights_are_listed_in_the_articles_order(manifest: Manifest) -> None:
    for p in manifest.purposes:
        given = rights_for(p)
        assert given == sorted(given, key=RIGHTS.index)


def test_a_service_gives_the_union_of_its_purposes_rights(manifest: Manifest) -> None:
    assert rights_given(manifest.purposes) == {
        "access", "rectification", "erasure", "restriction", "objection", "portability",
        "withdraw_consent"}
    only_books = [purpose(manifest, "books")]
    assert rights_given(only_books) == {"access", "rectification", "restriction"}


def test_objection_targets(manifest: Manifest) -> None:
    assert objection_targets(manifest, None) == ["newsletter", "analytics", "offers",
                                                 "register"]
    assert objection_targets(manifest, "offers") == ["offers"]
    with pytest.raises(InvalidInput, match=r"covers legitimate interest") as refused:
        objection_targets(manifest, "service")
    assert refused.value.code == "cannot_object"
    with pytest.raises(NotFound, match="unknown purpose 'nope'"):
        objection_targets(manifest, "nope")


def test_a_service_with_nothing_to_object_to_says_so() -> None:
    only_contract = parse_manifest(MANIFEST.split("  - {id: books", maxsplit=1)[0]).manifest
    with pytest.raises(InvalidInput, match="no purpose of this service can be objected to"):
        objection_targets(only_contract, None)


def test_art21_a_purpose_whose_basis_the_manifest_leaves_out_is_not_refused_an_objection() -> None:
    # Seed 001 (Vekstly) gives its cookies no legal basis. Whether Art. 21(1) applies is not
    # known, so "you have no right to object" (and "rests on None") is a claim no data backs:
    # the objection is taken and weighed (decisions deny a purpose without a basis anyway).
    from pathlib import Path

    from personvern.manifest.loader import load_manifest

    examples = Path(__file__).resolve().parents[2] / "examples"
    vekstly = load_manifest(examples / "vekstly.yaml").manifest
    cookies = next(p for p in vekstly.purposes if p.id == "cookies")
    assert cookies.legal_basis is None
    assert objection(cookies) is Objection.WEIGHED and "objection" in rights_for(cookies)
    assert objection_targets(vekstly, "cookies") == ["cookies"]
    assert "cookies" in objection_targets(vekstly, None)
