"""Declared commitments (``commitments:``): each checked where the manifest can contradict it,
and each listed with what Personvern does not check — a promise is never silently claimed."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Commitment, Manifest

_PROCESSORS = {"processor", "sub_processor"}
# The bases the promise "not without your prior consent, or where the law obliges us" allows.
_CONSENT_OR_LAW = {"consent", "legal_obligation"}

# Per kind: what Personvern checks of the promise, and what remains the controller's word.
STATUS: dict[str, str] = {
    "never_sold": "Personvern checks only that no recipient in the manifest buys data "
                  "(PV076), not that no sale happens",
    "no_sharing_without_consent": "Personvern checks that every purpose disclosing data to "
                                  "a controller rests on consent or a legal obligation "
                                  "(PV077); disclosures the manifest does not declare it "
                                  "cannot see",
    "mutual_interest_sharing": "Personvern records the person's consent to the sharing "
                               "purpose at most (PV079); the other party's interest is "
                               "declared, not enforced by Personvern",
    "aggregated_statistics": "Personvern checks that the statistics purposes neither profile "
                             "nor disclose data to controllers (PV078); whether the figures "
                             "published are truly aggregate and anonymous is declared, not "
                             "enforced by Personvern",
    "signature_rights_verified": "declared, not enforced by Personvern: it cannot see the "
                                 "lookup in the public registers",
    "no_card_data": "`personvern check --datasets` errors when a mapped dataset holds card "
                    "numbers (PV090); data outside the mapped datasets (logs, files, "
                    "processors) is declared, not enforced by Personvern",
    "provision_voluntary": "Personvern checks that no purpose requires the data (PV089); "
                           "that nothing is refused to people who give none is declared, "
                           "not enforced by Personvern",
    "processor_list_on_request": "the published policy names every recipient in the "
                                 "manifest; whether the list given on request is complete is "
                                 "declared, not enforced by Personvern",
}


def _promised(m: Manifest, kind: str) -> Iterator[tuple[int, Commitment]]:
    for i, c in enumerate(m.commitments):
        if c.kind == kind:
            yield i, c


@rule("PV076", "never-sold-contradicted", Severity.ERROR,
      "'We never sell your data' while a recipient buys it", "GDPR Art. 5(1)(a), Art. 13(1)(e)")
def never_sold_contradicted(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A never_sold commitment must be true of every recipient: a recipient that pays for
    the data it receives is a sale, and the notice would misinform about its recipients
    (transparency, Art. 5(1)(a); Art. 13(1)(e))."""
    if not any(_promised(m, "never_sold")):
        return
    for i, r in enumerate(m.recipients):
        if r.buys_data:
            yield ("recipients", i, "buys_data"), (
                f"the manifest commits to never selling data, but {r.name} buys it")


@rule("PV077", "sharing-without-consent-contradicted", Severity.ERROR,
      "'Not shared without your consent' while a purpose shares on another basis",
      "GDPR Art. 5(1)(a), Art. 6(1)(a), Art. 13(1)(e)")
def sharing_without_consent(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A promise not to pass data to others without the person's prior consent (or a
    legal obligation) is broken by any purpose that discloses data to another controller
    on a different basis (contract, legitimate interests, ...). Processors acting on the
    controller's instructions are not "others" here (Art. 28)."""
    if not any(_promised(m, "no_sharing_without_consent")):
        return
    recipients = {r.id: r for r in m.recipients}
    for i, p in enumerate(m.purposes):
        others = [recipients[r].name for r in p.recipients
                  if r in recipients and recipients[r].role not in _PROCESSORS]
        if (others or p.third_party_sharing) and p.legal_basis not in _CONSENT_OR_LAW:
            to = ", ".join(others) if others else "third parties"
            yield ("purposes", i, "legal_basis"), (
                f"{p.id}: shares data with {to} on {p.legal_basis or 'no legal basis'}, but "
                "the manifest commits to sharing only with the person's prior consent or a "
                "legal obligation")


@rule("PV078", "statistics-not-aggregate", Severity.ERROR,
      "'Only aggregated, anonymous statistics' from a purpose that profiles or discloses",
      "GDPR Art. 4(4), Art. 5(1)(a), Recital 26, Recital 162")
def statistics_not_aggregate(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Statistics are aggregate when their result is not personal data and is not used
    for measures about a particular person (Recital 162); anonymous data is outside the
    Regulation only when no one can be identified (Recital 26). A purpose promised as
    such that profiles people (Art. 4(4)), makes decisions about them, or passes their
    data to another controller is not producing aggregate statistics."""
    purposes = {p.id: (i, p) for i, p in enumerate(m.purposes)}
    roles = {r.id: r.role for r in m.recipients}
    for _, c in _promised(m, "aggregated_statistics"):
        for pid in c.purposes:
            if pid not in purposes:
                continue
            i, p = purposes[pid]
            faults = []
            if p.profiling:
                faults.append("profiles people")
            if p.automated_decisions is not None:
                faults.append("makes automated decisions about them")
            others = [r for r in p.recipients if roles.get(r, "processor") not in _PROCESSORS]
            if others:
                faults.append(f"discloses data to {', '.join(others)}")
            if faults:
                yield ("purposes", i, "id"), (
                    f"{pid} is committed to only aggregated, anonymous statistics, but it "
                    f"{' and '.join(faults)}")


@rule("PV079", "mutual-interest-not-on-consent", Severity.WARNING,
      "Sharing 'only when both are interested' without the person's consent",
      "GDPR Art. 5(1)(a), Art. 5(2), Art. 7(1)")
def mutual_interest_not_on_consent(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A promise to share a person's data only when both parties want it needs the
    person's own wish on record, or the controller cannot show it kept the promise
    (Art. 5(2)). On consent, each sharing is a decision Personvern records and can
    answer (Art. 7(1)); on any other basis the person's interest is recorded nowhere."""
    purposes = {p.id: (i, p) for i, p in enumerate(m.purposes)}
    for _, c in _promised(m, "mutual_interest_sharing"):
        for pid in c.purposes:
            if pid in purposes and purposes[pid][1].legal_basis != "consent":
                i, p = purposes[pid]
                yield ("purposes", i, "legal_basis"), (
                    f"{pid} shares data only when both parties are interested, but rests on "
                    f"{p.legal_basis or 'no legal basis'}: the person's interest is recorded "
                    "nowhere Personvern can check (put the sharing on consent)")


@rule("PV088", "commitment-declared-only", Severity.INFO,
      "What Personvern does not check of a declared commitment", "GDPR Art. 5(2)")
def commitment_declared_only(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Every declared commitment is published as the controller's promise. This note says,
    kind by kind, what Personvern checks of it and what stays the controller's word alone,
    so that no promise reads as enforced when it is not (accountability, Art. 5(2))."""
    for i, c in enumerate(m.commitments):
        yield ("commitments", i, "kind"), f"commitment {c.kind}: {STATUS[c.kind]}"


@rule("PV089", "voluntary-contradicts-required", Severity.ERROR,
      "'Providing data is voluntary' while a purpose requires it",
      "GDPR Art. 13(2)(e), Art. 5(1)(a)")
def voluntary_contradicts_required(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The notice must say whether providing the data is a statutory or contractual
    requirement and what happens if it is not provided (Art. 13(2)(e)). "Providing data
    is voluntary" is false for a purpose that requires it, or that rests on a contract
    or a legal obligation the data is needed for."""
    if not any(_promised(m, "provision_voluntary")):
        return
    for i, p in enumerate(m.purposes):
        if p.required is True:
            yield ("purposes", i, "required"), (
                f"{p.id} requires the data, but the manifest commits to providing data being "
                "voluntary")
        elif p.required is None and p.legal_basis in {"contract", "legal_obligation"}:
            yield ("purposes", i, "legal_basis"), (
                f"{p.id} rests on {p.legal_basis}, which needs the data, but the manifest "
                "commits to providing data being voluntary")


@rule("PV090", "card-data-despite-commitment", Severity.ERROR,
      "Card numbers in a dataset although no card data is stored", "GDPR Art. 5(1)(a), "
      "Art. 5(1)(c)", data=True)
def card_data_despite_commitment(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The manifest commits to storing no card data, but a mapped dataset declares a card
    number column or holds values that are payment card numbers (13 to 19 digits with a
    Luhn check digit): the promise in the notice is false. Evaluated by
    `check --datasets`."""
    yield from ()  # judged in check/drift.py against the databases
