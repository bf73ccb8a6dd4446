"""The Art. 15 information in the access package says only what the seed's manifest says.

GDPR Art. 15(1)(a)-(h) and 15(2): the package (``data.json``'s ``information`` and
``summary.html``) tells the person the basis, recipients, retention and transfer safeguards
of each purpose. Where the manifest leaves one out, the person reads "not stated", never a
default (a recipient called a processor, "None (None)" as the basis, a blank period).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from personvern.law import get_jurisdiction
from personvern.manifest.loader import load_manifest
from personvern.requests.information import art15, render_summary
from personvern.requests.jobs import Job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _information(name: str, lang: str = "en") -> tuple[dict[str, Any], str]:
    """The seed's Art. 15 information for a person of every purpose, and its page as text."""
    m = load_manifest(EXAMPLES / f"{name}.yaml").manifest
    job = Job("r1", "access", "s1", None, {}, {}, "self", None, "portal",
              frozenset(p.id for p in m.purposes), {})
    info = art15(m, get_jurisdiction(m.jurisdiction.country), job, lang)
    html = render_summary(info, {}, datetime(2027, 1, 1, tzinfo=UTC), lang)
    return info, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _purpose(info: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in info["purposes"] if p["id"] == pid)


def test_art15_1_c_a_recipient_whose_role_the_seed_leaves_out_is_not_called_a_processor() -> None:
    # Seed 003 (MinMentor) names Vercel without saying its role; "processor" is a default.
    info, _ = _information("minmentor")
    vercel = [r for p in info["purposes"] for r in p["recipients"] if r["name"] == "Vercel"]
    assert vercel and all(r["role"] is None for r in vercel)


def test_art15_1_b_a_purpose_without_a_basis_says_not_stated_not_none() -> None:
    # Seed 001 (Vekstly) gives its cookies no legal basis.
    info, text = _information("vekstly")
    assert _purpose(info, "cookies")["basis"] is None
    assert "None (None)" not in text
    assert "Legal basis not stated in our records" in text


def test_art15_1_d_a_purpose_without_a_retention_rule_says_not_stated() -> None:
    # Seed 001 (Vekstly): profiling for marketing has no storage period.
    _, text = _information("vekstly")
    after = text.split("Profiling for marketing", 1)[1]
    how_long = after.split("How long", 1)[1].split("Your rights", 1)[0].strip()
    assert how_long == "not stated in our records"


@pytest.mark.parametrize("lang, unknown_country, no_safeguard", [
    ("en", "country not stated in our records",
     "outside the EEA, safeguard not stated in our records"),
    ("nb", "land ikke oppgitt i våre opplysninger",
     "utenfor EØS, overføringsgrunnlag ikke oppgitt i våre opplysninger"),
])
def test_art15_2_a_transfer_outside_the_eea_without_a_safeguard_is_said_so(
        lang: str, unknown_country: str, no_safeguard: str) -> None:
    # Seed 003 (MinMentor): Vercel processes in the US with no safeguard stated; Stripe's
    # country is not given at all.
    _, text = _information("minmentor", lang)
    assert re.search(r"Vercel \([^)]*US, " + re.escape(no_safeguard) + r"\)", text)
    assert re.search(r"Stripe Connect \([^)]*" + re.escape(unknown_country) + r"\)", text)


@pytest.mark.parametrize(("lang", "label", "after", "words"), [
    ("en", "Recipients", "How long", "not stated in our records"),
    ("nb", "Mottakere", "Lagringstid", "ikke oppgitt i våre opplysninger")])
def test_art15_1_c_a_purpose_without_recipients_says_not_stated(
        lang: str, label: str, after: str, words: str) -> None:
    # Seed 001 (Vekstly): its cookies list no recipient; that is no statement of "nobody".
    _, text = _information("vekstly", lang)
    card = text.split("Cookies" if lang == "en" else "Informasjonskapsler", 1)[1]
    assert card.split(label, 1)[1].split(after, 1)[0].strip() == words
