"""The privacy notice itself: elements GDPR Art. 13 and 14 require that no other rule sees.

Each rule reports one kind of gap found by :mod:`personvern.policy.completeness`;
``personvern policy render`` refuses to write the policy while any of them (or the
older rules the completeness check shares, such as PV001 and PV009) is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest
from personvern.policy.completeness import detect


def _gaps(element: str, m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    for missing in detect(element, m, j):
        yield missing.loc, missing.message


@rule("PV050", "notice-without-purposes", Severity.ERROR,
      "The policy would declare no purpose", "GDPR Art. 13(1)(c)")
def notice_without_purposes(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A privacy notice states the purposes of the processing and their legal
    basis. A manifest with no purposes cannot be published as a policy."""
    yield from _gaps("purposes", m, j)


@rule("PV051", "notice-dpo-unreachable", Severity.ERROR,
      "A data protection officer without contact details", "GDPR Art. 13(1)(b), Art. 37(7)")
def notice_dpo_unreachable(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Where a data protection officer is appointed, the notice must give their
    contact details (an e-mail, phone, postal address or web page)."""
    yield from _gaps("dpo_contact", m, j)


@rule("PV052", "notice-automated-logic-missing", Severity.ERROR,
      "Automated decisions without an explanation of the logic", "GDPR Art. 13(2)(f)")
def notice_automated_logic(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """For decisions based solely on automated processing with legal or similarly
    significant effect, the notice must give meaningful information about the
    logic involved and the consequences. Add `automated_decisions.logic`."""
    yield from _gaps("automated_logic", m, j)


@rule("PV053", "notice-sharing-without-recipients", Severity.ERROR,
      "Data is shared but no recipient is named", "GDPR Art. 13(1)(e)")
def notice_sharing_without_recipients(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The notice names the recipients, or at least their categories. A purpose
    marked `third_party_sharing` must list who receives the data."""
    yield from _gaps("recipients", m, j)
