"""Direct marketing: markedsføringsloven § 15 and GDPR Art. 21(2)-(3)."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest

_ELECTRONIC = {"email", "sms", "push"}


@rule("PV014", "electronic-marketing-without-consent", Severity.ERROR,
      "E-mail or SMS marketing without consent or the customer exception",
      "markedsføringsloven § 15")
def marketing_without_consent(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Marketing by e-mail, SMS and similar needs the person's prior consent. The
    one exception is existing customers whose address was obtained in a sale,
    for the seller's own similar products, with an easy opt-out at collection
    and in every message."""
    for i, p in enumerate(m.purposes):
        mk = p.marketing
        if mk is None or p.legal_basis == "consent":
            continue
        electronic = sorted(set(mk.channels) & _ELECTRONIC)
        # A policy that does not name the channel may well mean e-mail.
        how = "/".join(electronic) if electronic else "marketing by unstated channels, possibly"
        if (electronic or not mk.channels) and not mk.existing_customer_exception:
            yield ("purposes", i, "marketing"), (
                f"purpose {p.id!r} sends {how} electronic marketing on "
                f"{p.legal_basis or 'no basis'}; {j.marketing_source.citation} requires prior "
                "consent unless the existing-customer exception applies"
            )


@rule("PV015", "customer-exception-conditions-unmet", Severity.ERROR,
      "The existing-customer exception used without its conditions", "markedsføringsloven § 15")
def exception_without_opt_out(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The existing-customer exception holds only for the seller's own similar
    products, and only if the customer was offered a free, easy opt-out when the
    address was collected and is offered one in every message."""
    for i, p in enumerate(m.purposes):
        mk = p.marketing
        if mk is None or not mk.existing_customer_exception:
            continue
        missing = [
            what for what, ok in (
                ("when the address was collected", mk.opt_out_at_collection),
                ("in every message", mk.opt_out_in_every_message),
            ) if not ok
        ]
        if missing:
            yield ("purposes", i, "marketing"), (
                f"purpose {p.id!r} uses the existing-customer exception but no opt-out is "
                f"offered {' or '.join(missing)}"
            )
        if not mk.similar_products_only:
            yield ("purposes", i, "marketing"), (
                f"purpose {p.id!r} uses the existing-customer exception for more than the "
                "seller's own similar products"
            )


@rule("PV034", "marketing-without-objection-right", Severity.WARNING,
      "Marketing without the right to object", "GDPR Art. 21(2)-(4)")
def marketing_without_objection(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A person may object to direct marketing at any time, and marketing must
    then stop; the right must be brought to their attention explicitly, at the
    latest at the first communication."""
    if "objection" in m.rights.offered:
        return
    for i, p in enumerate(m.purposes):
        if p.marketing is not None and p.legal_basis != "consent":
            yield ("purposes", i, "marketing"), (
                f"purpose {p.id!r} is direct marketing on {p.legal_basis or 'no basis'}, but "
                "the right to object is not offered"
            )
