"""The record of processing as CSV (one row per purpose), HTML (accessible tables) and JSON-LD.

JSON-LD speaks the W3C Data Privacy Vocabulary (DPV 2): each purpose is a
``dpv:Process`` (also typed ``dpv:PersonalDataHandling``, the DPV 1 name many tools
still read) with its purpose, legal basis (``eu-gdpr:A6-1-x``), personal data
(``pd:`` concepts), data subjects, recipients, third-country transfers (with the
``eu-gdpr`` transfer basis), storage conditions and security measures.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from personvern.escaping import csv_cell, html_templates
from personvern.ropa.record import (
    DPV,
    EU_GDPR,
    Activity,
    DataCategory,
    Lang,
    Party,
    ProcessorRecord,
    RecipientEntry,
    Record,
    TransferEntry,
    word,
)

CONTEXT: dict[str, Any] = {
    "dpv": DPV,
    "pd": "https://w3id.org/dpv/pd#",
    "eu-gdpr": EU_GDPR,
    "loc": "https://w3id.org/dpv/loc#",
    "dct": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
# The GDPR itself (European Legislation Identifier), which the records conform to.
GDPR_ELI = "http://data.europa.eu/eli/reg/2016/679/oj"

# Stable column names: scripts and spreadsheets rely on them. Add, never rename.
CSV_COLUMNS: tuple[str, ...] = (
    "purpose_id", "purpose", "purpose_description",
    "controller_name", "controller_orgnr", "controller_contact", "joint_controllers",
    "representative", "dpo", "privacy_contact",
    "legal_basis", "legal_basis_article", "legal_basis_detail", "special_category_condition",
    "data_subject_categories", "personal_data_categories", "personal_data_dpv",
    "recipient_categories", "third_country_recipients", "transfers",
    "erasure_time_limits", "security_measures",
)
PROCESSOR_CSV_COLUMNS: tuple[str, ...] = (
    "processing_id", "processing", "processing_description", "processor_name",
    "processor_orgnr", "processor_contact", "representative", "dpo", "controllers",
    "controllers_contact", "data_subject_categories", "personal_data_categories",
    "sub_processors", "recipients_role_not_stated", "transfers", "security_measures",
)

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Protokoll over behandlingsaktiviteter", "Record of processing activities"),
    "article": ("GDPR artikkel 30 nr. 1", "GDPR Article 30(1)"),
    "proc_title": ("Protokoll over behandling som databehandler",
                   "Record of processing as a processor"),
    "proc_article": ("GDPR artikkel 30 nr. 2", "GDPR Article 30(2)"),
    "controller": ("Behandlingsansvarlig", "Controller"),
    "processor": ("Databehandler", "Processor"),
    "name": ("Navn", "Name"),
    "orgnr": ("Organisasjonsnummer", "Organisation number"),
    "contact": ("Kontaktinformasjon", "Contact details"),
    "representative": ("Representant (art. 27)", "Representative (Art. 27)"),
    "dpo": ("Personvernombud", "Data protection officer"),
    "privacy_contact": ("Personvernkontakt", "Privacy contact"),
    "authority": ("Tilsynsmyndighet", "Supervisory authority"),
    "purposes": ("Behandlingsaktiviteter", "Processing activities"),
    "purpose": ("Formål", "Purpose"),
    "legal_basis": ("Behandlingsgrunnlag", "Legal basis"),
    "special": ("Særlige kategorier", "Special categories"),
    "subjects": ("Kategorier av registrerte", "Categories of data subjects"),
    "categories": ("Kategorier av personopplysninger", "Categories of personal data"),
    "recipients": ("Kategorier av mottakere", "Categories of recipients"),
    "joint": ("Felles behandlingsansvarlige", "Joint controllers"),
    "transfers": ("Overføringer til tredjeland og garantier",
                  "Transfers to third countries and safeguards"),
    "erasure": ("Frister for sletting", "Time limits for erasure"),
    "security": ("Sikkerhetstiltak (generell beskrivelse)",
                 "Security measures (general description)"),
    "gaps": ("Mangler i manifestet", "Gaps in the manifest"),
    "notes": ("Forfatternes merknader (interne, publiseres ikke)",
              "The authors' notes (internal, never published)"),
    "third_countries": ("Tredjeland det overføres til (art. 30 nr. 1 bokstav e)",
                        "Third countries data is transferred to (Art. 30(1)(e))"),
    "none": ("Ingen", "None"),
    "drawn_up": ("Utarbeidet", "Drawn up"),
    "version": ("versjon (manifestets SHA-256)", "version (the manifest's SHA-256)"),
    "field": ("Opplysning", "Field"),
    "value": ("Innhold", "Entry"),
    "controllers": ("Behandlingsansvarlige det behandles for",
                    "Controllers on whose behalf we process"),
    "controllers_contact": ("Kontakt hos de behandlingsansvarlige",
                            "Contact at the controllers"),
    "processing": ("Kategorier av behandling", "Categories of processing"),
    "sub_processors": ("Underdatabehandlere", "Sub-processors"),
    "role_not_stated": ("Mottakere manifestet ikke oppgir rollen til",
                        "Recipients whose role the manifest does not state"),
    "description": ("Beskrivelse", "Description"),
}


def _l(key: str, lang: Lang) -> str:
    nb, en = _LABELS[key]
    return nb if lang == "nb" else en


# ---- plain-text pieces shared by CSV and HTML ---------------------------------

def _recipient_text(r: RecipientEntry, lang: Lang) -> str:
    where = r.country_text + (f", {word(lang, 'third_country')}" if r.third_country else "")
    extra = f"; {r.dpa_text}" if r.dpa_text else ""
    return f"{r.name} ({r.role_text}, {where}): {r.service}{extra}"


def _transfer_text(t: TransferEntry) -> str:
    note = f" ({t.note})" if t.note else ""
    return f"{t.recipient}, {t.country_text}: {t.safeguard}{note}"


def _category_text(c: DataCategory) -> str:
    return f"{c.name} ({c.dpv})" if c.dpv else c.name


def _list(items: list[str], lang: Lang) -> str:
    return "; ".join(items) if items else word(lang, "none_stated")


def _rows(record: Record) -> list[dict[str, str]]:
    lang, c = record.lang, record.controller
    rows = []
    for a in record.activities:
        rows.append({
            "purpose_id": a.id, "purpose": a.name, "purpose_description": a.description,
            "controller_name": c.name, "controller_orgnr": c.orgnr or "",
            "controller_contact": c.contact,
            "joint_controllers": _list([_recipient_text(j, lang) for j in a.joint_controllers],
                                       lang),
            "representative": record.representative_text, "dpo": record.dpo_text,
            "privacy_contact": record.privacy_contact_text,
            "legal_basis": a.legal_basis or "", "legal_basis_article": a.basis_article or "",
            "legal_basis_detail": a.basis_text,
            "special_category_condition": a.special_condition or "",
            "data_subject_categories": _list([s.name for s in a.subjects], lang),
            "personal_data_categories": _list([_category_text(k) for k in a.categories], lang),
            "personal_data_dpv": " ".join(k.iri for k in a.categories if k.iri),
            "recipient_categories": _list([_recipient_text(r, lang) for r in a.recipients],
                                          lang),
            "third_country_recipients": _list(
                [r.name for r in (*a.recipients, *a.joint_controllers) if r.third_country],
                lang),
            "transfers": _list([_transfer_text(t) for t in a.transfers], lang),
            "erasure_time_limits": a.erasure_text, "security_measures": a.security,
        })
    return rows


def _write_csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    # Manifest text goes into every cell: a spreadsheet must show it, never run it.
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def to_csv(record: Record) -> str:
    """One row per purpose, columns :data:`CSV_COLUMNS` (RFC 4180, CRLF line ends)."""
    return _write_csv(CSV_COLUMNS, _rows(record))


def processor_to_csv(record: ProcessorRecord) -> str:
    """One row per category of processing done for the controllers (Art. 30(2))."""
    lang, p = record.lang, record.processor
    rows = [{
        "processing_id": act.id, "processing": act.name, "processing_description": act.description,
        "processor_name": p.name, "processor_orgnr": p.orgnr or "", "processor_contact": p.contact,
        "representative": record.representative_text, "dpo": record.dpo_text,
        "controllers": record.controllers, "controllers_contact": record.controllers_contact,
        "data_subject_categories": _list([s.name for s in act.subjects], lang),
        "personal_data_categories": _list([_category_text(k) for k in act.categories], lang),
        "sub_processors": _list([_recipient_text(r, lang) for r in record.sub_processors], lang),
        "recipients_role_not_stated": _list(
            [_recipient_text(r, lang) for r in record.role_not_stated], lang),
        "transfers": _list([_transfer_text(t) for t in record.transfers], lang),
        "security_measures": record.security,
    } for act in record.processing]
    return _write_csv(PROCESSOR_CSV_COLUMNS, rows)


# ---- HTML -----------------------------------------------------------------------

# record.html and processor.html (and the page and tables they share), autoescaped.
TEMPLATES = Path(__file__).parent / "templates"


def _render(template: str, lang: Lang, title: str, record: Record | ProcessorRecord) -> str:
    """One of the record's HTML templates, rendered with the labels in ``lang``."""
    labels = {key: nb if lang == "nb" else en for key, (nb, en) in _LABELS.items()}
    return html_templates(TEMPLATES).get_template(template).render(
        lang=lang, title=title, l=labels, nothing=word(lang, "none_stated"), record=record,
        recipient=lambda r: _recipient_text(r, lang), transfer=_transfer_text)


def to_html(record: Record) -> str:
    """A standalone HTML page: the controller, then one table per purpose."""
    title = f"{_l('title', record.lang)}: {record.service}"
    return _render("record.html", record.lang, title, record)


def processor_to_html(record: ProcessorRecord) -> str:
    """The processor's record (Art. 30(2)) as a standalone HTML page."""
    title = f"{_l('proc_title', record.lang)}: {record.service}"
    return _render("processor.html", record.lang, title, record)


# ---- JSON-LD (W3C DPV) ------------------------------------------------------------

def _base(record_orgnr: str | None, service: str) -> str:
    ident = record_orgnr or "".join(ch for ch in service.lower() if ch.isalnum())
    return f"urn:personvern:{ident}"


def _party_node(p: Party, node_id: str, types: list[str]) -> dict[str, Any]:
    node: dict[str, Any] = {"@id": node_id, "@type": types, "dpv:hasName": p.name}
    if p.orgnr:
        node["dpv:hasIdentifier"] = p.orgnr
    contact = [x for x in (p.email, p.phone, p.website) if x]
    if contact:
        node["dpv:hasContact"] = contact
    if p.address:
        node["dpv:hasAddress"] = p.address
    return node


def _category_node(c: DataCategory, base: str) -> dict[str, Any]:
    if c.dpv is not None and not c.inherited:
        return {"@id": c.dpv}
    # A category of our own: a PersonalData node under its nearest DPV concept.
    node: dict[str, Any] = {"@id": f"{base}:data:{c.key}", "@type": "dpv:PersonalData",
                            "dct:title": c.name, "dct:identifier": c.key}
    if c.dpv is not None:
        node["skos:broader"] = {"@id": c.dpv}
    return node


_RECIPIENT_TYPE = {
    "processor": "dpv:DataProcessor", "sub_processor": "dpv:DataSubProcessor",
    "controller": "dpv:DataController", "joint_controller": "dpv:DataController",
    "public_authority": "dpv:Authority",
}


def _recipient_node(r: RecipientEntry, base: str) -> dict[str, Any]:
    node: dict[str, Any] = {"@id": f"{base}:recipient:{r.id}",
                            # Typed by role only when the manifest states it.
                            "@type": ["dpv:Recipient", _RECIPIENT_TYPE[r.role]]
                            if r.role_stated else ["dpv:Recipient"],
                            "dpv:hasName": r.name, "dct:description": r.service}
    if r.country:
        node["dpv:hasCountry"] = {"@id": f"loc:{r.country}"}
    return node


def _transfer_node(t: TransferEntry, base: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": "dpv:Process", "dpv:hasProcessing": {"@id": "dpv:Transfer"},
        "dpv:hasRecipient": {"@id": f"{base}:recipient:{t.recipient_id}"},
        "dct:description": t.safeguard + (f" ({t.note})" if t.note else ""),
    }
    if t.country:
        node["dpv:hasThirdCountry"] = {"@id": f"loc:{t.country}"}
    if t.gdpr:
        node["dpv:hasLegalBasis"] = {"@id": f"eu-gdpr:{t.gdpr}"}
    return node


def _storage_nodes(a: Activity) -> list[dict[str, Any]]:
    nodes = []
    for e in a.erasure:
        if e.iso_duration is None:
            duration: dict[str, Any] = {"@type": "dpv:EndlessDuration"}
        else:
            duration = {"@type": ["dpv:UntilEventDuration", "dpv:TemporalDuration"],
                        "rdf:value": {"@value": e.iso_duration, "@type": "xsd:duration"}}
        types = ["dpv:StorageDuration"]
        if e.action == "delete":
            types.append("dpv:StorageDeletion")
        nodes.append({"@type": types, "dct:identifier": e.rule_id, "dct:description": e.full_text,
                      "dpv:hasDuration": duration})
    return nodes


def _activity_node(a: Activity, base: str, controller_id: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": f"{base}:processing:{a.id}",
        "@type": ["dpv:Process", "dpv:PersonalDataHandling"],
        "dct:identifier": a.id, "dct:title": a.name,
        "dpv:hasDataController": {"@id": controller_id},
        "dpv:hasPurpose": {"@id": f"{base}:purpose:{a.id}", "@type": "dpv:Purpose",
                           "dct:title": a.name, "dct:description": a.description},
        "dpv:hasPersonalData": [_category_node(c, base) for c in a.categories],
        "dpv:hasDataSubject": [
            {"@id": f"{base}:subjects:{s.id}",
             "@type": ["dpv:DataSubject", "dpv:Child"] if s.children else "dpv:DataSubject",
             "dct:title": s.name} for s in a.subjects],
        "dpv:hasRecipient": [_recipient_node(r, base)
                             for r in (*a.recipients, *a.joint_controllers)],
        "dpv:hasStorageCondition": _storage_nodes(a),
        "dpv:hasTechnicalOrganisationalMeasure": {
            "@type": "dpv:TechnicalOrganisationalMeasure", "dct:description": a.security},
    }
    if a.basis_iri is not None:
        basis: dict[str, Any] = {"@id": f"eu-gdpr:{a.basis_iri.removeprefix(EU_GDPR)}"}
        node["dpv:hasLegalBasis"] = basis
        node["dpv:hasJustification"] = {"@type": "dpv:Justification",
                                        "dct:description": a.basis_text}
    if a.joint_controllers:
        node["dpv:hasJointDataControllers"] = {
            "@type": "dpv:JointDataControllers",
            "dpv:hasDataController": [{"@id": controller_id}] + [
                {"@id": f"{base}:recipient:{j.id}"} for j in a.joint_controllers],
        }
    processors = [r for r in a.recipients
                  if r.role_stated and r.role in ("processor", "sub_processor")]
    if processors:
        node["dpv:hasDataProcessor"] = [{"@id": f"{base}:recipient:{r.id}"} for r in processors]
    third = sorted({t.country for t in a.transfers if t.country})
    if third:
        node["dpv:hasThirdCountry"] = [{"@id": f"loc:{c}"} for c in third]
    if a.transfers:
        node["dpv:hasProcess"] = [_transfer_node(t, base) for t in a.transfers]
    return node


def to_jsonld(record: Record) -> dict[str, Any]:
    """The record as JSON-LD with DPV terms; ``json.dumps`` it to publish."""
    base = _base(record.controller.orgnr, record.service)
    controller_id = f"{base}:controller"
    controller = _party_node(record.controller, controller_id, ["dpv:DataController"])
    if record.dpo is not None:
        controller["dpv:hasDataProtectionOfficer"] = _party_node(
            record.dpo, f"{base}:dpo", ["dpv:DataProtectionOfficer"])
    if record.representative is not None:
        controller["dpv:hasRepresentative"] = _party_node(
            record.representative, f"{base}:representative", ["dpv:Representative"])
    node: dict[str, Any] = {
        "@context": {**CONTEXT, "@language": record.lang},
        "@id": f"{base}:ropa",
        "@type": ["dpv:RecordsOfActivities", "dpv:DataProcessingRecord"],
        "dct:title": f"{_l('title', record.lang)}: {record.service}",
        "dct:conformsTo": {"@id": GDPR_ELI, "dct:description": "GDPR Art. 30(1)"},
        "dpv:hasDataController": controller,
        "dct:hasPart": [_activity_node(a, base, controller_id) for a in record.activities],
    }
    # Dated and versioned like the HTML; the authors' notes stay out of an export meant
    # to be passed on.
    if record.drawn_up is not None:
        node["dct:issued"] = {"@value": record.drawn_up.isoformat(), "@type": "xsd:date"}
    if record.version is not None:
        node["dct:hasVersion"] = record.version
    return node


def processor_to_jsonld(record: ProcessorRecord) -> dict[str, Any]:
    """The processor's record (Art. 30(2)) as JSON-LD with DPV terms."""
    base = _base(record.processor.orgnr, record.service)
    processor_id = f"{base}:processor"
    controllers = {"@id": f"{base}:customer-controllers", "@type": "dpv:DataController",
                   "dct:title": record.controllers, "dct:description": record.controllers_contact}
    subs = [_recipient_node(r, base) for r in (*record.sub_processors, *record.role_not_stated)]
    parts = [{
        "@id": f"{base}:processor-processing:{act.id}",
        "@type": ["dpv:Process", "dpv:PersonalDataHandling"],
        "dct:title": act.name, "dct:description": act.description,
        "dpv:hasDataProcessor": {"@id": processor_id},
        "dpv:hasDataController": {"@id": controllers["@id"]},
        "dpv:hasPersonalData": [_category_node(c, base) for c in act.categories],
        "dpv:hasDataSubject": [{"@id": f"{base}:subjects:{s.id}", "@type": "dpv:DataSubject",
                                "dct:title": s.name} for s in act.subjects],
        "dpv:hasTechnicalOrganisationalMeasure": {
            "@type": "dpv:TechnicalOrganisationalMeasure", "dct:description": record.security},
    } for act in record.processing]
    return {
        "@context": {**CONTEXT, "@language": record.lang},
        "@id": f"{base}:processor-ropa",
        "@type": ["dpv:RecordsOfActivities", "dpv:DataProcessingRecord"],
        "dct:title": f"{_l('proc_title', record.lang)}: {record.service}",
        "dct:conformsTo": {"@id": GDPR_ELI, "dct:description": "GDPR Art. 30(2)"},
        "dpv:hasDataProcessor": _party_node(record.processor, processor_id,
                                            ["dpv:DataProcessor"]),
        "dpv:hasDataController": controllers,
        "dpv:hasRecipient": subs,
        "dpv:hasProcess": [_transfer_node(t, base) for t in record.transfers],
        "dct:hasPart": parts,
    }
