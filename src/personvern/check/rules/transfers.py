"""Recipients and transfers: GDPR Art. 26, 28, 44-49."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction, has_adequacy_decision, is_eea
from personvern.manifest.model import Manifest

_SAFEGUARDS = {"scc", "bcr"}


@rule("PV006", "transfer-without-safeguard", Severity.ERROR,
      "Transfer outside the EEA without adequacy or safeguards", "GDPR Art. 44-46")
def transfer_without_safeguard(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Personal data may leave the EEA only to a country with an adequacy decision
    (Art. 45; for the USA only to companies certified under the Data Privacy
    Framework) or under appropriate safeguards such as the standard contractual
    clauses (Art. 46)."""
    for i, r in enumerate(m.recipients):
        if r.country is None or is_eea(r.country):
            continue
        mechanism = r.transfer.mechanism if r.transfer else None
        if mechanism in _SAFEGUARDS:
            continue
        if mechanism in {"adequacy", "dpf"} and has_adequacy_decision(
            r.country, certified=mechanism == "dpf"
        ):
            continue
        if mechanism in {"consent_derogation", "contract_derogation"}:
            continue  # PV007 speaks about derogations
        if mechanism in {"adequacy", "dpf"}:
            why = f"{r.country} has no adequacy decision" + (
                " (for the USA, say `dpf` if the company is certified)" if r.country == "US"
                else ""
            )
        else:
            why = "no adequacy decision or standard contractual clauses are stated"
        yield ("recipients", i, "country"), f"{r.name} processes data in {r.country}: {why}"


_PROCESSORS = {"processor", "sub_processor"}


@rule("PV007", "derogation-as-transfer-mechanism", Severity.WARNING,
      "A derogation used for regular transfers", "GDPR Art. 49(1)")
def derogation_as_mechanism(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Art. 49 derogations (the person's explicit consent, a contract with them)
    are for occasional transfers only. Consent must be explicit and informed of
    the risks, and can be withdrawn. Use standard contractual clauses or an
    adequate country. (Consent for a processor's service is PV063, an error.)"""
    for i, r in enumerate(m.recipients):
        if (r.transfer and r.transfer.mechanism == "consent_derogation"
                and r.role in _PROCESSORS):
            continue
        if r.transfer and r.transfer.mechanism in {"consent_derogation", "contract_derogation"}:
            kind = "consent" if r.transfer.mechanism == "consent_derogation" else "a contract"
            yield ("recipients", i, "transfer"), (
                f"{r.name}: transfers rest on {kind} (Art. 49), which is meant for occasional "
                "transfers, not a processor's regular service; use standard contractual "
                "clauses or an adequate country"
            )


@rule("PV008", "recipient-country-unknown", Severity.ERROR,
      "A recipient's country is not stated", "GDPR Art. 13(1)(f), Art. 30(1)(e)")
def recipient_country_unknown(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The notice must say whether data leaves the EEA and the record of
    processing names the third countries; both need each recipient's country.
    An unknown country cannot be published as if it were an answer."""
    for i, r in enumerate(m.recipients):
        if r.country is None:
            yield ("recipients", i, "name"), (
                f"{r.name}: the country where the data is processed is not stated, so "
                "nobody can tell whether it leaves the EEA"
            )


@rule("PV019", "processor-without-dpa", Severity.ERROR,
      "A processor without a data processing agreement", "GDPR Art. 28(3)")
def processor_without_dpa(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Processing by a processor must be governed by a contract (databehandleravtale)
    that sets out subject, duration, nature, purpose, data and subjects."""
    for i, r in enumerate(m.recipients):
        if r.role in {"processor", "sub_processor"} and r.dpa_signed in (None, False):
            yield ("recipients", i, "name"), (
                f"{r.name} is a processor but no data processing agreement is recorded "
                "(dpa_signed)"
            )


@rule("PV029", "sub-processors-without-authorisation", Severity.WARNING,
      "No rule for the processor's sub-processors", "GDPR Art. 28(2), 28(4)")
def sub_processors(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A processor may engage another only with the controller's prior specific or
    general written authorisation; record which applies."""
    for i, r in enumerate(m.recipients):
        if r.role == "processor" and r.sub_processors is None:
            yield ("recipients", i, "name"), (
                f"{r.name}: whether it may use sub-processors (and with what authorisation) "
                "is not recorded"
            )


@rule("PV030", "joint-controller-without-arrangement", Severity.WARNING,
      "Joint controllership without an arrangement", "GDPR Art. 26")
def joint_without_arrangement(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Joint controllers (e.g. a site and the ad network whose pixel it embeds)
    must set out their respective responsibilities in an arrangement whose
    essence is made available to the person."""
    for i, r in enumerate(m.recipients):
        if r.role == "joint_controller" and not r.joint_arrangement:
            yield ("recipients", i, "role"), (
                f"{r.name} is a joint controller but no Art. 26 arrangement is recorded"
            )
    for i, c in enumerate(m.cookies):
        if c.joint_controller:
            rec = m.recipient(c.recipient) if c.recipient else None
            if rec is None or not rec.joint_arrangement:
                yield ("cookies", i, "joint_controller"), (
                    f"cookie {c.name.get('en')!r} ({c.provider}) involves joint controllership "
                    "but no Art. 26 arrangement is recorded"
                )


@rule("PV027", "unused-recipient", Severity.WARNING,
      "A recipient no purpose sends data to", "GDPR Art. 30(1)(d), Art. 13(1)(e)")
def unused_recipient(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Every recipient should be tied to the purposes it serves, or the record of
    processing and the notice cannot say who receives what and why."""
    used = {r for p in m.purposes for r in p.recipients} | {
        c.recipient for c in m.cookies if c.recipient
    }
    for i, r in enumerate(m.recipients):
        if r.id not in used:
            yield ("recipients", i, "id"), f"{r.name} is declared but no purpose uses it"


@rule("PV063", "consent-derogation-for-processor", Severity.ERROR,
      "Consent (Art. 49) carries a processor's regular transfers",
      "GDPR Art. 49(1)(a), EDPB Guidelines 2/2018 on Art. 49 derogations")
def consent_for_processor(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A processor's service (hosting, payments, e-mail) transfers data regularly,
    as part of the service. The EDPB's Guidelines 2/2018 read the Art. 49
    derogations restrictively: they cover occasional, not systematic, transfers,
    and consent can be withdrawn at any time, which a hosting contract cannot
    follow. A processor outside the EEA needs adequacy (incl. the EU-US Data
    Privacy Framework for a certified company), standard contractual clauses or
    binding corporate rules."""
    for i, r in enumerate(m.recipients):
        if (r.transfer is not None and r.transfer.mechanism == "consent_derogation"
                and r.role in _PROCESSORS):
            yield ("recipients", i, "transfer"), (
                f"{r.name} is a processor whose transfers rest on the person's consent (Art. "
                "49(1)(a)); a processor's regular service needs adequacy, standard contractual "
                "clauses or binding corporate rules (EDPB Guidelines 2/2018)"
            )


@rule("PV064", "derogation-consent-not-informed", Severity.ERROR,
      "Consent to a transfer is not explicit or not told the risks", "GDPR Art. 49(1)(a)")
def derogation_consent_not_informed(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Consent lifts the transfer ban only when the person "explicitly consented
    to the proposed transfer, after having been informed of the possible risks
    of such transfers ... due to the absence of an adequacy decision and
    appropriate safeguards" (Art. 49(1)(a)). Mark the purposes' consent
    `explicit` and the transfer `risks_stated`."""
    for i, r in enumerate(m.recipients):
        if r.transfer is None or r.transfer.mechanism != "consent_derogation":
            continue
        if not r.transfer.risks_stated:
            yield ("recipients", i, "transfer"), (
                f"{r.name}: the transfer rests on consent, but the person is not told its "
                "risks before consenting (risks_stated)"
            )
        loose = [p.id for p in m.purposes if r.id in p.recipients
                 and not (p.legal_basis == "consent" and p.consent and p.consent.explicit)]
        if loose:
            yield ("recipients", i, "transfer"), (
                f"{r.name}: the transfer rests on consent, but the purposes sending it data "
                f"({', '.join(loose)}) have no explicit consent"
            )


@rule("PV065", "no-transfers-claimed-falsely", Severity.ERROR,
      "'No transfers to third countries' while a recipient is in one",
      "GDPR Art. 13(1)(f), Art. 5(1)(a)")
def no_transfers_claimed(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A statement that no personal data leaves the EEA must be true of every
    recipient, pixels and cookies' providers included; otherwise the notice
    misinforms (transparency, Art. 5(1)(a)) about the very thing Art. 13(1)(f)
    asks."""
    if m.no_third_country_transfers is not True:
        return
    for i, r in enumerate(m.recipients):
        if r.country is not None and not is_eea(r.country):
            yield ("no_third_country_transfers",), (
                f"the manifest states that no data goes outside the EEA, but {r.name} "
                f"(recipients[{i}]) processes it in {r.country}"
            )


@rule("PV074", "recipient-role-not-stated", Severity.WARNING,
      "A recipient's role is not stated", "GDPR Art. 13(1)(e), Art. 28, Art. 30(1)(d)")
def recipient_role_not_stated(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Whether a recipient is a processor acting on instructions (Art. 28), a
    controller of its own or a joint controller decides what the person is told
    and which agreement is needed. The checks treat a recipient without a role as
    a processor (the stricter reading), but the policy names no role that the
    manifest does not state."""
    for i, r in enumerate(m.recipients):
        if not r.role_stated:
            yield ("recipients", i, "name"), (
                f"{r.name}: the role (processor, controller, joint controller, ...) is not "
                "stated, so the policy does not name it"
            )
