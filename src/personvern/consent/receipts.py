"""Consent receipts: one ledger event as an ISO/IEC TS 27560-style record (JSON).

TS 27560 (built on the Kantara Consent Receipt 1.1) groups a record into a header,
the parties, the processing consented to, and events. Terms are given as W3C DPV
IRIs so the record can be read without our code.
"""

from __future__ import annotations

from typing import Any

from personvern.consent.events import DPV_STATUS, EventType
from personvern.consent.service import ConsentContext
from personvern.consent.tables import LedgerEvent
from personvern.manifest.categories import BUILTIN_CATEGORIES, DPV_PD
from personvern.manifest.model import LEGAL_BASIS_ARTICLE

SCHEMA = "ISO/IEC TS 27560:2023 (Personvern profile 1)"
DPV = "https://w3id.org/dpv#"
GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"
_STATE = {
    EventType.CONSENT_GIVEN: "given", EventType.CONSENT_WITHDRAWN: "withdrawn",
    EventType.CONSENT_REFUSED: "refused", EventType.CONSENT_EXPIRED: "expired",
}


def receipt(ctx: ConsentContext, event: LedgerEvent, evidence: dict[str, Any] | None,
            lang: str = "nb") -> dict[str, Any]:
    """The record for ``event``; ``evidence`` is None once the subject has been erased."""
    m = ctx.manifest
    c = m.controller
    kind = EventType(event.type)
    purpose = ctx.purpose(event.purpose) if event.purpose else None
    processing: list[dict[str, Any]] = []
    if purpose is not None:
        basis = purpose.legal_basis
        rules = [r for r in m.retention if r.id in purpose.retention]
        processing.append({
            "purpose": {"id": purpose.id, "name": purpose.name.get(lang),
                        "description": purpose.description.get(lang)
                        if purpose.description else None},
            "legalBasis": f"{GDPR}A6-1-{LEGAL_BASIS_ARTICLE[basis]}" if basis else None,
            "personalData": [
                {"category": key,
                 "dpv": (DPV_PD + b.dpv.removeprefix("pd:")) if (b := BUILTIN_CATEGORIES.get(key))
                 and b.dpv else None}
                for key in purpose.categories
            ],
            "recipients": [
                {"name": r.name, "role": r.role, "country": r.country}
                for rid in purpose.recipients if (r := m.recipient(rid)) is not None
            ],
            "storage": [
                {"trigger": r.trigger, "duration": str(r.duration), "action": r.action}
                for r in rules
            ],
        })
    channels = [
        {"type": ch.type, "address": ch.address} for ch in m.rights.channels
        if ch.rights is None or "withdraw_consent" in ch.rights
    ]
    return {
        "schemaVersion": SCHEMA,
        "recordHeader": {
            "recordId": event.id,
            "recordType": "ConsentRecord",
            "sequence": event.seq,
            "timestamp": event.recorded_at.isoformat(),
            "jurisdiction": m.jurisdiction.country,
            "language": lang,
            "ledgerHash": event.hash,
        },
        "piiPrincipal": {"id": event.subject_id},
        "piiController": {
            "name": c.name, "organisationNumber": c.orgnr, "email": c.email,
            "address": c.address, "phone": c.phone,
        },
        "notice": {
            "policyVersion": event.policy_version,
            "textShown": (evidence or {}).get("text_shown"),
            "evidenceErased": evidence is None,
        },
        "processing": processing,
        "events": [{
            "eventTime": event.at.isoformat(),
            "eventType": kind.value,
            "eventState": _STATE.get(kind, kind.value),
            "dpvStatus": DPV + DPV_STATUS[kind].removeprefix("dpv:") if kind in DPV_STATUS
            else None,
            "actor": event.actor,
            "actorId": event.actor_subject_id,
            "channel": event.channel,
        }],
        "withdrawal": {"channels": channels, "anyTime": True,
                       "note": "Withdrawing does not make earlier processing unlawful "
                               "(GDPR Art. 7(3))."},
    }
