"""Legal basis rules: GDPR Art. 6(1), 6(3), 7(4) and 13(1)(c)-(d)."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest


@rule("PV001", "purpose-without-legal-basis", Severity.ERROR,
      "A purpose has no legal basis", "GDPR Art. 6(1), Art. 13(1)(c)")
def purpose_without_basis(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Processing is lawful only on one of the six bases of Art. 6(1), and the
    privacy notice must name it. Give every purpose a `legal_basis`."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis is None:
            yield ("purposes", i, "id"), (
                f"purpose {p.id!r} has no legal basis; choose one of consent, contract, "
                "legal_obligation, vital_interests, public_task or legitimate_interests"
            )


@rule("PV002", "consent-for-necessary-processing", Severity.WARNING,
      "Consent is asked for processing the service cannot do without",
      "GDPR Art. 7(4), Art. 6(1)(b)")
def consent_for_necessary(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Consent is not freely given when the service depends on it (Art. 7(4)).
    Processing the service needs rests on the contract (6(1)(b)); if it rested on
    consent, withdrawing consent would have to stop the service, which a user
    cannot really refuse."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "consent" and p.necessary_for_service:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} is needed to deliver the service but rests on consent; "
                "use contract (Art. 6(1)(b)), since consent a person cannot refuse without "
                "losing the service is not freely given"
            )


@rule("PV003", "legitimate-interest-without-interest", Severity.ERROR,
      "Legitimate interest without the interest named", "GDPR Art. 6(1)(f), Art. 13(1)(d)")
def li_without_interest(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """When the basis is legitimate interest, the notice must say which interest
    (Art. 13(1)(d)). Add `legitimate_interest.interest`."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "legitimate_interests" and p.legitimate_interest is None:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} rests on legitimate interest but does not say which interest"
            )


@rule("PV004", "legitimate-interest-without-balancing", Severity.WARNING,
      "Legitimate interest without a balancing test", "GDPR Art. 6(1)(f), Art. 5(2)")
def li_without_balancing(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Legitimate interest requires weighing the interest against the person's
    rights and expectations, and documenting it (accountability, Art. 5(2))."""
    for i, p in enumerate(m.purposes):
        li = p.legitimate_interest
        if p.legal_basis == "legitimate_interests" and li is not None and li.balancing is None:
            yield ("purposes", i, "legitimate_interest"), (
                f"purpose {p.id!r}: the balancing of the interest against the person's "
                "rights is not documented; add legitimate_interest.balancing"
            )


@rule("PV005", "legal-obligation-without-statute", Severity.WARNING,
      "Legal obligation without the statute", "GDPR Art. 6(1)(c), Art. 6(3)")
def obligation_without_statute(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Art. 6(3) requires the obligation to be laid down in law; it does not require
    the notice to cite that law, so this is a warning, not an error. Naming the
    statute (e.g. "bokføringsloven § 13") lets people check the claim and lets the
    controller show which law it relies on (Art. 5(2))."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "legal_obligation" and p.legal_obligation is None:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} rests on a legal obligation but names no statute"
            )


@rule("PV026", "purpose-without-categories", Severity.ERROR,
      "A purpose lists no data categories", "GDPR Art. 30(1)(c), Art. 14(1)(d)")
def purpose_without_categories(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The record of processing and the notice name the categories of personal
    data per purpose; a purpose with none cannot be documented or enforced."""
    for i, p in enumerate(m.purposes):
        if not p.categories:
            yield ("purposes", i, "id"), f"purpose {p.id!r} lists no data categories"


@rule("PV028", "automated-decision-without-safeguards", Severity.ERROR,
      "Automated decisions without the Art. 22 safeguards", "GDPR Art. 22(2)-(3)")
def automated_without_safeguards(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Decisions based solely on automated processing with legal or similarly
    significant effect are allowed only for a contract, by law, or with explicit
    consent, and then with human review and a chance to contest."""
    for i, p in enumerate(m.purposes):
        ad = p.automated_decisions
        if ad is None or not ad.legal_or_similar_effect:
            continue
        if p.legal_basis not in {"contract", "consent", "legal_obligation"}:
            yield ("purposes", i, "automated_decisions"), (
                f"purpose {p.id!r} makes significant automated decisions on {p.legal_basis}; "
                "Art. 22(2) allows them only for a contract, by law or with explicit consent"
            )
        elif not ad.human_review:
            yield ("purposes", i, "automated_decisions"), (
                f"purpose {p.id!r} makes significant automated decisions without human review"
            )


@rule("PV039", "consent-bundled", Severity.WARNING,
      "Consent is bundled with sign-up or terms", "GDPR Art. 7(2), Art. 7(4)")
def consent_bundled(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A request for consent must be clearly distinguishable from other matters;
    consent given by accepting the terms or creating an account is not a free,
    specific choice."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "consent" and p.consent is not None and p.consent.bundled:
            yield ("purposes", i, "consent"), (
                f"purpose {p.id!r}: consent is asked together with sign-up or the terms, not "
                "as a separate choice"
            )


@rule("PV060", "required-contradicts-basis", Severity.ERROR,
      "Whether the data is required contradicts the legal basis", "GDPR Art. 6(1)(b), Art. 7(4), "
      "Art. 13(2)(e)")
def required_contradicts_basis(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The contract basis (Art. 6(1)(b)) holds only for processing the contract
    cannot be performed without; a purpose on contract that the service can do
    without, or whose data the person need not give, contradicts its own basis.
    Consent (Art. 6(1)(a)) must be free (Art. 7(4)); data that must be given cannot
    rest on it. The policy would otherwise say both, so this is an error: choose
    the basis that matches the answer."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "contract" and (p.required is False
                                            or p.necessary_for_service is False):
            field = "required" if p.required is False else "necessary_for_service"
            yield ("purposes", i, field), (
                f"purpose {p.id!r} rests on the contract (Art. 6(1)(b)), but the manifest "
                f"says the service can do without it ({field}: false); the contract basis "
                "covers only what the contract needs"
            )
        elif p.legal_basis == "consent" and p.required is True:
            yield ("purposes", i, "required"), (
                f"purpose {p.id!r} rests on consent, but the manifest says the person must "
                "give the data (required: true); consent that cannot be refused is not free "
                "(Art. 7(4))"
            )


@rule("PV061", "required-not-stated", Severity.WARNING,
      "Whether the person must provide the data is not stated", "GDPR Art. 13(2)(e)")
def required_not_stated(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The notice says whether providing the data is a statutory or contractual
    requirement and what happens if it is not given. The contract and consent
    bases answer it themselves; for the others, say it with `required`, or the
    policy stays silent."""
    for i, p in enumerate(m.purposes):
        if p.required is None and p.legal_basis not in {None, "contract", "consent"}:
            yield ("purposes", i, "id"), (
                f"purpose {p.id!r} ({p.legal_basis}) does not say whether the person must "
                "provide the data (required), so the policy does not say it either"
            )
