"""Data-subject rights and how to use them: GDPR Art. 7(3), 12-22."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import ALL_RIGHTS, Manifest
from personvern.rights.basis import RIGHTS, rights_given

_NAMES = {
    "access": "access (Art. 15)", "rectification": "rectification (Art. 16)",
    "erasure": "erasure (Art. 17)", "restriction": "restriction (Art. 18)",
    "objection": "object (Art. 21)", "portability": "data portability (Art. 20)",
    "withdraw_consent": "withdraw consent (Art. 7(3))",
    "human_review": "human review of automated decisions (Art. 22(3))",
}
# Longest honest promises, in the unit given: one calendar month can be as short
# as 28 days and, with Easter, hold as few as 17 working days (Monday to Friday) or 21
# virkedager (Monday to Saturday) in Norway, counted to the legal deadline (holidays of
# 2020-2060; tests/requests/test_deadlines.py counts them again).
_MAX_DAYS = 28
_MAX_WORKING_DAYS = 17
_MAX_VIRKEDAGER = 21


@rule("PV018", "response-deadline-too-long", Severity.ERROR,
      "The promised answer time is longer than the law allows", "GDPR Art. 12(3)")
def deadline_too_long(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Requests must be answered without undue delay and within one month of
    receipt (extendable by two months for complex cases, with notice)."""
    d = m.rights.deadline
    months = j.response_months
    if d.months is not None and d.months > months:
        yield ("rights", "deadline"), (
            f"the policy promises {d.months} months; the law allows {months}"
        )
    if d.days is not None and d.days > _MAX_DAYS:
        yield ("rights", "deadline"), (
            f"{d.days} days can be longer than one month (from 31 January, one month ends "
            "28 February); promise one month or fewer days"
        )
    if d.working_days is not None and d.working_days > _MAX_WORKING_DAYS:
        yield ("rights", "deadline"), (
            f"{d.working_days} working days can be longer than one month around holidays; "
            "promise one month or fewer working days"
        )
    if d.virkedager is not None and d.virkedager > _MAX_VIRKEDAGER:
        yield ("rights", "deadline"), (
            f"{d.virkedager} virkedager can be longer than one month around holidays; "
            f"promise one month or at most {_MAX_VIRKEDAGER} virkedager"
        )


@rule("PV022", "right-without-channel", Severity.ERROR,
      "A right with no way to use it", "GDPR Art. 12(2), Art. 13(2)(b)")
def right_without_channel(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The controller must facilitate the exercise of rights: every right offered
    needs at least one channel (portal, e-mail, post, ...)."""
    if not m.rights.channels:
        yield ("rights", "channels"), "no channel is given for exercising any right"
        return
    served = set()
    for ch in m.rights.channels:
        served |= set(ch.rights if ch.rights is not None else ALL_RIGHTS)
    for right in m.rights.offered:
        if right not in served:
            yield ("rights", "offered"), f"no channel serves the right to {_NAMES[right]}"


@rule("PV023", "right-not-given-by-basis", Severity.INFO,
      "A right is offered that the processing does not give",
      "GDPR Art. 20(1), Art. 21(1), Art. 22(1)")
def right_not_given(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Generosity is allowed, but say it knowingly: portability follows only from
    consent or contract, objection (Art. 21(1)) only from public task or
    legitimate interest, withdrawal only from consent. The Art. 22 right does not
    depend on the legal basis at all: it exists wherever decisions based solely on
    automated processing with legal or similarly significant effect are made, and
    only there."""
    given = rights_given(m.purposes)
    for right in m.rights.offered:
        if right in given:
            continue
        if right == "human_review":
            yield ("rights", "offered"), (
                f"the right to {_NAMES[right]} is offered though no purpose makes decisions "
                "based solely on automated processing (the right does not depend on the basis)"
            )
        else:
            yield ("rights", "offered"), (
                f"the right to {_NAMES[right]} is offered though no purpose's legal basis gives it"
            )


@rule("PV024", "right-not-offered", Severity.WARNING,
      "A right people have is not mentioned", "GDPR Art. 13(2)(b)-(c), Art. 12(1)")
def right_not_offered(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The notice must tell people of each right the processing gives them:
    access, rectification, erasure, restriction, and depending on the bases
    portability, objection and withdrawal of consent."""
    offered = set(m.rights.offered)
    for right in sorted(rights_given(m.purposes) - offered, key=RIGHTS.index):
        yield ("rights", "offered"), (
            f"people have the right to {_NAMES[right]}, but it is not offered"
        )


@rule("PV025", "consent-withdrawal-not-explained", Severity.WARNING,
      "No way to withdraw consent is given", "GDPR Art. 7(3), Art. 13(2)(c)")
def withdrawal_not_explained(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A person may withdraw consent at any time, as easily as it was given, and
    must be told how before consenting."""
    channel_serves = any(
        ch.rights is None or "withdraw_consent" in ch.rights for ch in m.rights.channels
    ) and "withdraw_consent" in m.rights.offered
    for i, p in enumerate(m.purposes):
        if p.legal_basis != "consent" or channel_serves:
            continue
        if p.consent is None or p.consent.how_to_withdraw is None:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} rests on consent, but how to withdraw it is not explained"
            )


@rule("PV075", "no-automated-decisions-claimed-falsely", Severity.ERROR,
      "'No automated decisions' or 'no profiling' while a purpose does it",
      "GDPR Art. 13(2)(f), Art. 22, Art. 5(1)(a)")
def none_claimed_falsely(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A statement that there are no decisions based solely on automated processing,
    or no profiling, must be true of every purpose; the notice would otherwise
    misinform about what Art. 13(2)(f) asks."""
    if m.no_automated_decisions is True:
        for i, p in enumerate(m.purposes):
            ad = p.automated_decisions
            if ad is not None and ad.legal_or_similar_effect:
                yield ("no_automated_decisions",), (
                    f"the manifest states that no automated decisions are made, but purpose "
                    f"{p.id!r} (purposes[{i}]) makes them"
                )
    if m.no_profiling is True:
        for i, p in enumerate(m.purposes):
            if p.profiling:
                yield ("no_profiling",), (
                    f"the manifest states that there is no profiling, but purpose {p.id!r} "
                    f"(purposes[{i}]) profiles"
                )
