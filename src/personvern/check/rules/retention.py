"""Storage limitation: GDPR Art. 5(1)(e), 13(2)(a) and bokføringsloven § 13."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest, RetentionRule


@rule("PV009", "retention-missing", Severity.ERROR,
      "A purpose without a retention rule", "GDPR Art. 5(1)(e), Art. 13(2)(a)")
def retention_missing(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Data may be kept no longer than the purpose needs, and the notice must say
    for how long or by which criteria. Give every purpose a `retention` rule."""
    for i, p in enumerate(m.purposes):
        if not p.retention:
            yield ("purposes", i, "id"), (
                f"purpose {p.id!r} says nothing about how long data is kept"
            )


@rule("PV010", "retention-unlimited", Severity.ERROR,
      "Data kept without a time limit", "GDPR Art. 5(1)(e)")
def retention_unlimited(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Storage limitation forbids keeping identifiable data longer than necessary;
    an unlimited period is never a valid answer. Anonymise instead if the data is
    wanted for statistics."""
    for i, r in enumerate(m.retention):
        if r.duration.unlimited and r.action != "anonymise":
            yield ("retention", i, "duration"), f"retention rule {r.id!r} keeps data forever"


def is_bookkeeping(rule_: RetentionRule, j: Jurisdiction) -> bool:
    """Whether a retention rule exists to meet the bookkeeping statute."""
    return j.is_bookkeeping(rule_.bookkeeping, rule_.statute)


@rule("PV011", "bookkeeping-retention-too-short", Severity.ERROR,
      "Bookkeeping data kept shorter than the law requires", "bokføringsloven § 13")
def bookkeeping_too_short(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Primary accounting documentation must be kept five years after the end of
    the fiscal year (an invoice from 2025 until at least 31 December 2030).
    Counted from any other event, that is up to six years: a rule of "5 years
    after payment" deletes too early."""
    years = j.bookkeeping_years
    for i, r in enumerate(m.retention):
        if not is_bookkeeping(r, j) or r.duration.unlimited:
            continue
        months = r.duration.total_months
        if r.trigger == "fiscal_year_end":
            if months < years * 12:
                yield ("retention", i, "duration"), (
                    f"retention rule {r.id!r} keeps bookkeeping data {r.duration} after the "
                    f"fiscal year ends; {j.bookkeeping_source.citation} requires {years} years"
                )
        elif months < (years + 1) * 12:
            yield ("retention", i, "duration"), (
                f"retention rule {r.id!r} keeps bookkeeping data {r.duration} after "
                f"{r.trigger.replace('_', ' ')}; {j.bookkeeping_source.citation} requires "
                f"{years} years after the end of the fiscal year (use trigger fiscal_year_end)"
            )


@rule("PV040", "retention-by-vague-criterion", Severity.ERROR,
      "Data kept 'as long as necessary' without a defined end",
      "GDPR Art. 13(2)(a), Art. 5(1)(e), WP260 rev.01 (transparency guidelines)")
def vague_retention(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """When no period is given, the notice must state the criteria that decide it
    (Art. 13(2)(a)), concretely enough that a person can tell when their data
    goes: the transparency guidelines (WP260 rev.01) say it is not enough to say
    generically that data is kept as long as necessary for the purpose. Name the
    event that ends it (a trigger), or the concrete `criterion`."""
    for i, r in enumerate(m.retention):
        if r.trigger == "purpose_fulfilled" and r.criterion is None:
            yield ("retention", i, "trigger"), (
                f"retention rule {r.id!r} keeps data 'as long as necessary', which no one can "
                "tell or enforce; name the event that ends it or the concrete criterion"
            )
