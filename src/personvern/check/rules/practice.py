"""Practices the seed policies show that the first rules missed (issue 12).

Each rule names the seed that shows it in its test (tests/examples). Law and guidance:
GDPR Art. 6(1)(b)-(c), 17(3)(b), 38 and Recital 38; the EDPB's Guidelines 2/2019 on
Art. 6(1)(b) and 07/2020 on controllers and processors; ekomloven § 3-15;
bokføringsloven § 13.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.check.rules.retention import is_bookkeeping
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest, Purpose

_PAYMENT = ("user.payment", "user.financial")


def _is_payment(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in _PAYMENT)


def _addresses(m: Manifest) -> set[str]:
    """The controller's own shared addresses: its e-mail and the rights channels'."""
    found = {m.controller.email.lower()} if m.controller.email else set()
    found |= {ch.address.lower() for ch in m.rights.channels
              if ch.type == "email" and ch.address}
    return found


@rule("PV066", "dpo-is-shared-mailbox", Severity.WARNING,
      "The data protection officer is reached at the company's shared mailbox",
      "GDPR Art. 38(3), Art. 38(5)-(6)")
def dpo_shared_mailbox(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A data protection officer acts independently, takes no instructions, is bound
    by confidentiality and must not hold tasks that conflict with the role (Art.
    38(3), (5), (6)). An address everyone in support reads (seed 000: the company's
    Gmail) is not the DPO's: people cannot reach the DPO in confidence there."""
    dpo = m.controller.dpo
    if dpo is not None and dpo.email and dpo.email.lower() in _addresses(m):
        yield ("controller", "dpo", "email"), (
            f"the data protection officer's address {dpo.email} is the company's shared "
            "address; give the DPO a contact only the DPO reads"
        )


@rule("PV067", "contract-with-non-party", Severity.ERROR,
      "Contract used as the basis for people who are not party to it",
      "GDPR Art. 6(1)(b), EDPB Guidelines 2/2019 para. 26")
def contract_non_party(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Art. 6(1)(b) covers processing necessary for a contract "to which the data
    subject is party". Employees whose employer signs up (seed 003) are not party to
    the employer's contract; their data needs another basis (often legitimate
    interest, or the employer as controller with the service as processor)."""
    outsiders = {s.id for s in m.subjects if s.party_to_contract is False}
    for i, p in enumerate(m.purposes):
        hit = [s for s in p.subjects if s in outsiders]
        if p.legal_basis == "contract" and hit:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} rests on a contract, but {', '.join(hit)} are not party to "
                "it (Art. 6(1)(b) covers only the data subject's own contract)"
            )


@rule("PV068", "improvement-on-contract", Severity.ERROR,
      "Service improvement put on the contract basis",
      "GDPR Art. 6(1)(b), EDPB Guidelines 2/2019 paras. 48-50")
def improvement_on_contract(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Improving or developing a service is not necessary to perform the contract
    with the person, so Art. 6(1)(b) cannot carry it (EDPB Guidelines 2/2019,
    "processing for service improvement"); seed 004 does it. Use legitimate
    interest with a balancing, or consent."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis == "contract" and p.improves_service:
            yield ("purposes", i, "legal_basis"), (
                f"purpose {p.id!r} improves the service but rests on the contract; "
                "improvement is not necessary to perform it"
            )


def _for_children(m: Manifest, p: Purpose) -> bool:
    children = {s.id for s in m.subjects if s.includes_children}
    if not p.subjects:
        return m.children.present or bool(children)
    return any(s in children for s in p.subjects)


@rule("PV069", "profiling-aimed-at-children", Severity.WARNING,
      "Profiling or advertising pixels aimed at children", "GDPR Recital 38, Recital 71")
def profiling_children(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Children merit specific protection, in particular in marketing and in
    profiles of them (Recital 38), and decisions based on profiling "should not
    concern a child" (Recital 71). Marketing profiles of pupils (seed 000) or
    third-party ad pixels on a site children use (seed 004) need a strong reason
    and a guardian's say, or should be switched off for children."""
    for i, p in enumerate(m.purposes):
        if p.profiling and _for_children(m, p):
            yield ("purposes", i, "profiling"), (
                f"purpose {p.id!r} profiles people who include children"
            )
    if m.children.present or any(s.includes_children for s in m.subjects):
        for i, c in enumerate(m.cookies):
            if c.category == "marketing" and c.third_party:
                yield ("cookies", i, "category"), (
                    f"advertising cookie {c.name.get('en')!r} ({c.provider}) is set on a service "
                    "children use"
                )


# Words of comfort, not of necessity: "optimally", "as well as it can", "better".
_COMFORT = re.compile(r"optimal|best mulig|bedre|forbedr|as well as it can|better|improv",
                      re.IGNORECASE)


@rule("PV070", "necessary-cookie-not-strictly", Severity.WARNING,
      "A 'necessary' cookie described as making the site work better",
      "ekomloven § 3-15 (strictly necessary)")
def necessary_not_strictly(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Only what is strictly necessary to deliver the service the user asked for is
    exempt from consent. A cookie that makes the site work "optimally" (seed 004)
    or better is a preference or statistics cookie, and needs consent."""
    for i, c in enumerate(m.cookies):
        texts = [c.purpose.get(lang) for lang in c.purpose.root] if not c.purpose.neutral \
            else [c.purpose.get("nb")]
        if c.category == "necessary" and any(_COMFORT.search(t) for t in texts):
            yield ("cookies", i, "purpose"), (
                f"cookie {c.name.get('en')!r} is 'necessary' but said to make the site work "
                f"better or optimally; {j.cookie_source.citation} exempts only what is "
                "strictly necessary"
            )


@rule("PV071", "payment-provider-as-processor", Severity.INFO,
      "A payment provider modelled as a processor",
      "GDPR Art. 4(7), Art. 28, EDPB Guidelines 07/2020")
def payment_provider_processor(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Card acquirers and payment services (Vipps, Stripe, PayPal, Nets) decide
    themselves why and how they process the payment data: they must know their
    customer and report under the anti-money-laundering and payment-services rules,
    and keep the data for their own ends. That makes them independent controllers
    for the payment (EDPB Guidelines 07/2020 on the concepts of controller and
    processor), not processors acting on the merchant's instructions; a processor
    agreement does not change what they do. Model them as `role: controller` unless
    the provider's terms say it acts as your processor."""
    for i, r in enumerate(m.recipients):
        if r.role not in {"processor", "sub_processor"}:
            continue
        # A payment provider serves payments only; a host that also stores invoices is not
        # one, so every purpose sending it data must carry payment data.
        using = [p for p in m.purposes if r.id in p.recipients]
        declared = any(_is_payment(k) for k in r.categories)
        if declared or (using and all(any(_is_payment(k) for k in p.categories)
                                      for p in using)):
            yield ("recipients", i, "role"), (
                f"{r.name} receives payment data as a processor; payment providers usually "
                "act as independent controllers for the payment (their own legal duties)"
            )


@rule("PV072", "legal-obligation-deleted-on-withdrawal", Severity.ERROR,
      "Data kept by law is deleted when consent is withdrawn",
      "GDPR Art. 6(1)(c), Art. 7(3), Art. 17(3)(b)")
def obligation_ends_on_withdrawal(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Processing a legal obligation requires does not rest on consent, so
    withdrawing consent cannot end it (Art. 7(3) concerns consent only), and
    erasure does not reach it (Art. 17(3)(b)). A legal-obligation purpose whose data
    is deleted on withdrawal (seed 000) either breaks the law that requires it or
    does not rest on that law."""
    for i, p in enumerate(m.purposes):
        if p.legal_basis != "legal_obligation":
            continue
        for rule_id in p.retention:
            r = m.retention_rule(rule_id)
            if r is not None and r.trigger == "consent_withdrawn" and r.action == "delete":
                yield ("purposes", i, "retention"), (
                    f"purpose {p.id!r} rests on a legal obligation, but its data is deleted "
                    f"when consent is withdrawn (retention rule {r.id!r})"
                )


@rule("PV073", "payment-data-deleted-before-bookkeeping", Severity.WARNING,
      "Payment data deleted within days though bookkeeping keeps it for years",
      "bokføringsloven § 13, GDPR Art. 13(2)(a)")
def payment_before_bookkeeping(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Transaction data is primary accounting documentation, kept five years after
    the end of the fiscal year (bokføringsloven § 13). A policy that says payment
    data goes when the payment clears or the withdrawal period ends (seed 001)
    tells people a period that is not true of the bookkeeping copy: say which data
    goes then and that the accounting record is kept, or keep it."""
    kept = {k for p in m.purposes if p.legal_basis == "legal_obligation"
            for rid in p.retention
            if (r := m.retention_rule(rid)) is not None and is_bookkeeping(r, j)
            for k in p.categories}
    for i, r in enumerate(m.retention):
        if r.action != "delete" or not (r.plus_withdrawal_period
                                        or r.trigger == "payment_settled"):
            continue
        payment = sorted({k for p in m.purposes if r.id in p.retention
                          for k in p.categories if _is_payment(k)})
        if not payment:
            continue
        also = [k for k in payment if k in kept]
        lost = [k for k in payment if k not in kept]
        parts = []
        if also:
            parts.append(f"the bookkeeping purpose keeps {', '.join(also)} "
                         f"{j.bookkeeping_years} years")
        if lost:
            parts.append(f"no bookkeeping rule keeps {', '.join(lost)}")
        what = " and ".join(parts)
        yield ("retention", i, "trigger"), (
            f"retention rule {r.id!r} deletes payment data ({', '.join(payment)}) when the "
            f"payment clears or the withdrawal period ends, but {what} "
            f"({j.bookkeeping_source.citation})"
        )
