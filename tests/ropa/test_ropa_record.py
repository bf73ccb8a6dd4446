"""The record of processing (GDPR Art. 30) built from each of the five example manifests."""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest

from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest
from personvern.manifest.types import Text
from personvern.ropa.record import (
    Record,
    build_processor_record,
    build_record,
    data_category,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["snapmentor", "vekstly", "lillemini", "minmentor", "teoritentamen"]
LANGS = ["nb", "en"]


@cache
def manifest(name: str) -> Manifest:
    """The example ``name``, loaded once."""
    return load_manifest(EXAMPLES / f"{name}.yaml").manifest


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", NAMES)
def test_every_art30_1_field_is_present_for_every_purpose(name: str, lang: str) -> None:
    """Art. 30(1)(a)-(g): controller, DPO, purposes, subjects, data, recipients, transfers,
    erasure limits and security, for each purpose; silence in the manifest is said in words."""
    m = manifest(name)
    record = build_record(m, lang)  # type: ignore[arg-type]
    assert [a.id for a in record.activities] == [p.id for p in m.purposes]
    c = record.controller
    assert c.name == m.controller.name and c.orgnr == m.controller.orgnr and c.contact
    assert record.representative_text and record.dpo_text and record.privacy_contact_text
    assert record.security
    for a in record.activities:
        assert a.name and a.basis_text, a.id
        assert a.subjects and all(s.name for s in a.subjects), a.id
        assert a.categories and all(k.name for k in a.categories), a.id
        assert a.erasure_text and a.security, a.id
        # Recipients and transfers may be empty, but every one listed is complete.
        for r in (*a.recipients, *a.joint_controllers):
            assert r.name and r.role_text and r.country_text and r.service, (a.id, r.id)
        for t in a.transfers:
            assert t.recipient and t.country_text and t.safeguard, (a.id, t.recipient_id)
        if a.legal_basis is not None:
            assert a.basis_article and a.basis_iri and a.basis_iri.startswith(
                "https://w3id.org/dpv/legal/eu/gdpr#A6-1-")


def test_gaps_name_what_the_manifest_does_not_say() -> None:
    vekstly = build_record(manifest("vekstly"), "en")
    assert not vekstly.security_described
    assert vekstly.security == "Not stated in the manifest"
    assert any(g.startswith("security:") for g in vekstly.gaps)
    assert "purposes.cookies: no legal basis" in vekstly.gaps
    cookies = next(a for a in vekstly.activities if a.id == "cookies")
    assert cookies.basis_text == "Not stated in the manifest" and cookies.legal_basis is None
    assert cookies.erasure_text == "Not stated in the manifest"
    minmentor = build_record(manifest("minmentor"), "en")
    unsafe = [g for g in minmentor.gaps if "no adequacy decision or safeguard" in g]
    # Eight US suppliers without a safeguard (seed 003), each named once.
    assert len(unsafe) == 8 and any("Vercel" in g for g in unsafe)
    # Art. 30(1)(e): the five recipients whose country seed 003 does not give are gaps too:
    # Stripe, the identification services, the hub's customers, the business partners and
    # the social media platforms (joint controllers of its pages).
    unknown = [g for g in minmentor.gaps if "the country is not stated" in g]
    assert len(unknown) == 5
    assert any(g.startswith("recipients.stripe: Stripe Connect") for g in unknown)
    assert minmentor.third_countries == ("the United States (US)",)


def test_record_is_dated_versioned_and_keeps_the_notes_internal() -> None:
    """Art. 30(1): a record kept up to date says when and from which manifest it was drawn
    up; the authors' notes are for the controller, so they are in it (and not the policy)."""
    from datetime import date

    from personvern.ropa.export import to_html

    record = build_record(manifest("snapmentor"), "en", drawn_up=date(2027, 3, 1),
                          version="ab12")
    page = to_html(record)
    assert "Drawn up 2027-03-01, version (the manifest&#x27;s SHA-256) ab12" in page
    assert "The authors&#x27; notes (internal, never published)" in page
    assert "categories[0].note: The seed policy does not say which fields" in page
    assert "Third countries data is transferred to (Art. 30(1)(e))" in page


def test_notes_with_html_stay_text_and_stay_out_of_the_jsonld() -> None:
    """A note is the author's words: escaped in the HTML record, left out of JSON-LD."""
    from datetime import date

    from markup_support import HOSTILE, Markup
    from personvern.manifest.loader import parse_manifest
    from personvern.ropa.export import to_html, to_jsonld
    from policy.support import lawful_data, to_text

    data = lawful_data()
    data["recipients"][0]["note"] = HOSTILE
    m = parse_manifest(to_text(data), file="m.yaml").manifest
    record = build_record(m, "en", drawn_up=date(2027, 3, 1), version="ab12")
    page = Markup()
    page.feed(to_html(record))
    assert "script" not in page.tags and "onmouseover" not in page.attributes
    assert any(HOSTILE in t for t in page.text)
    node = to_jsonld(record)
    assert HOSTILE not in str(node)
    assert node["dct:issued"] == {"@value": "2027-03-01", "@type": "xsd:date"}
    assert node["dct:hasVersion"] == "ab12"


def test_controller_contacts_dpo_and_representative() -> None:
    snap = build_record(manifest("snapmentor"), "nb")
    assert snap.dpo is not None and snap.dpo.email == "snapmentor@gmail.com"
    assert "snapmentor@gmail.com" in snap.dpo_text
    assert snap.representative is None
    assert "etablert i EØS" in snap.representative_text
    vekstly = build_record(manifest("vekstly"), "en")
    # A privacy contact with no contact details is named without an empty bracket.
    assert vekstly.privacy_contact_text == "Siw Grinaker"
    minmentor = build_record(manifest("minmentor"), "en")
    assert minmentor.dpo_text == "No data protection officer appointed"
    assert minmentor.controller.contact == (
        "post@minmentor.no, +47 458 07 600, Postboks 225, 5804 Bergen")


def test_legal_basis_carries_statute_and_interest() -> None:
    snap = build_record(manifest("snapmentor"), "nb")
    billing = next(a for a in snap.activities if a.id == "billing_records")
    assert billing.basis_article == "GDPR art. 6 nr. 1 bokstav c"
    assert "hjemmel: regnskapslovgivningen" in billing.basis_text
    teori = build_record(manifest("teoritentamen"), "en")
    marketing = next(a for a in teori.activities if a.id == "electronic_marketing")
    assert marketing.basis_text.startswith("Legitimate interests (GDPR Art. 6(1)(f)); interest:")


def test_erasure_time_limits_in_words() -> None:
    snap_nb = build_record(manifest("snapmentor"), "nb")
    billing = next(a for a in snap_nb.activities if a.id == "billing_records")
    assert billing.erasure_text.startswith(
        "Slettes 5 år etter utgangen av regnskapsåret (regnskapslovgivningen)")
    assert billing.erasure[0].iso_duration == "P5Y"
    sessions = next(a for a in snap_nb.activities if a.id == "sessions")
    # Two rules: the first to fire ends the data, and the record says so.
    assert sessions.erasure_text.startswith("Det som inntreffer først: ")
    assert "Slettes 2 år etter siste aktivitet" in sessions.erasure_text
    vekstly = build_record(manifest("vekstly"), "en")
    payment = next(a for a in vekstly.activities if a.id == "payment")
    assert payment.erasure_text.startswith(
        "Deleted immediately after the payment is settled, plus the 14-day right of withdrawal")
    delivery = next(a for a in vekstly.activities if a.id == "delivery")
    assert "; unless: You ask us to keep your data until your next course" in delivery.erasure_text
    assert ".." not in delivery.erasure_text


def test_recipients_and_transfers() -> None:
    mm = build_record(manifest("minmentor"), "en")
    hub = next(a for a in mm.activities if a.id == "hub_profiles")
    vercel = next(r for r in hub.recipients if r.id == "vercel")
    assert vercel.third_country is True and vercel.country_text == "the United States (US)"
    assert {t.recipient_id for t in hub.transfers} == {"vercel", "planetscale", "cloudinary"}
    assert all(t.gdpr is None and t.safeguard == "No transfer mechanism stated"
               for t in hub.transfers)
    ops = next(a for a in mm.activities if a.id == "hub_operation")
    whereby = next(r for r in ops.recipients if r.id == "whereby")
    assert whereby.third_country is False  # Norway: no transfer
    lille = build_record(manifest("lillemini"), "nb")
    service = next(a for a in lille.activities if a.id == "service")
    # No country, but a transfer mechanism: "both inside and outside the EU" (seed 002).
    assert service.transfers and all(t.gdpr == "A49-1-a" for t in service.transfers)
    assert service.transfers[0].country_text == "land ikke oppgitt"
    teori = build_record(manifest("teoritentamen"), "en")
    pixels = next(a for a in teori.activities if a.id == "ad_pixels")
    assert {j.id for j in pixels.joint_controllers} >= {"meta"}
    assert all(r.role != "joint_controller" for r in pixels.recipients)


def test_categories_map_to_dpv_and_custom_ones_to_the_broader_concept() -> None:
    m = manifest("minmentor")
    email = data_category(m, "user.contact.email", "en")
    assert (email.dpv, email.iri, email.inherited) == (
        "pd:EmailAddress", "https://w3id.org/dpv/pd#EmailAddress", False)
    docs = data_category(m, "user.content.documents", "nb")
    assert docs.name == "Opplastede dokumenter"
    assert docs.dpv == "pd:Communication" and docs.inherited


def test_unknown_language_is_refused() -> None:
    from personvern.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown language 'de'"):
        build_record(manifest("vekstly"), "de")  # type: ignore[arg-type]


def test_seed_003_keeps_a_processors_record() -> None:
    """Min Mentor hosts its customer companies' employee data: Art. 30(2)."""
    proc = build_processor_record(manifest("minmentor"), "en")
    assert proc is not None
    assert proc.processor.name == "MIN MENTOR AS"
    assert proc.controllers == "The customer companies sharing competence in the hub"
    assert proc.derived_from == "processor_for"
    ids = [p.id for p in proc.processing]
    assert "hub_profiles" in ids and "competence_sharing" in ids
    # Its own marketing and legal duties are done as controller, not for the customers.
    assert "email_marketing" not in ids and "legal_obligations" not in ids
    # Its manifest states no role for the services it uses (the seed does not say them
    # processors): none is called a sub-processor (Art. 28(2), (4)); they are listed apart.
    assert proc.sub_processors == ()
    assert {s.id for s in proc.role_not_stated} >= {"vercel", "planetscale", "cloudinary"}
    assert all(s.role_text == "role not stated in the manifest" for s in proc.role_not_stated)
    assert {t.recipient_id for t in proc.transfers} >= {"vercel", "sentry"}
    assert proc.security.startswith("We use appropriate technical")


@pytest.mark.parametrize("name", ["snapmentor", "vekstly", "lillemini", "teoritentamen"])
def test_services_that_are_no_processor_have_no_processors_record(name: str) -> None:
    assert build_processor_record(manifest(name), "nb") is None


def test_proposed_processor_for_field_is_read_when_the_schema_has_it() -> None:
    """Once the lead adds ``Manifest.processor_for``, it decides instead of the convention."""
    m = manifest("vekstly").model_copy()
    role = SimpleNamespace(
        controllers=Text({"nb": "Kursarrangører", "en": "Course organisers"}),
        contact=None, subjects=[], purposes=["delivery"],
    )
    object.__setattr__(m, "processor_for", role)  # stands in for the proposed field
    proc = build_processor_record(m, "en")
    assert proc is not None and proc.derived_from == "processor_for"
    assert [p.id for p in proc.processing] == ["delivery"]
    assert proc.controllers == "Course organisers"


def test_record_is_a_pure_function_of_the_manifest() -> None:
    first: Record = build_record(manifest("teoritentamen"), "nb")
    assert build_record(manifest("teoritentamen"), "nb") == first


def test_a_processors_record_calls_sub_processors_only_those_the_manifest_says_are() -> None:
    """The same record in HTML and CSV: the sub-processors' row says none, and the
    recipients whose role is not stated have a row of their own."""
    from personvern.ropa.export import processor_to_csv, processor_to_html

    m = manifest("minmentor")
    proc = build_processor_record(m, "en")
    assert proc is not None
    html = processor_to_html(proc)
    assert "Recipients whose role the manifest does not state" in html
    row = html.split("Sub-processors", 1)[1].split("</tr>", 1)[0]
    assert "Vercel" not in row, row
    [first, *_] = csv.DictReader(io.StringIO(processor_to_csv(proc)))
    assert first["sub_processors"] == "None stated in the manifest", first["sub_processors"]
    assert "Vercel" in first["recipients_role_not_stated"]
