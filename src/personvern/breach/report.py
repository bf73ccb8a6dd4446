"""The breach report: the facts Datatilsynet's notification form asks for (GDPR Art. 33(3)).

The form asks who the controller is and whom to contact, the DPO, when the breach
happened and when it was discovered, what happened (confidentiality, integrity or
availability), the categories and approximate numbers of people and records, the
likely consequences, the measures taken or proposed, whether the people were told,
whether people in other countries are affected, and why a late notice is late.
``build_report`` gathers them as data; the renderers lay them out as Markdown, HTML
or JSON in bokmål or English.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from personvern.breach.register import (
    deadline,
    failed_unanswered,
    get_breach,
    is_late,
    local_time,
    mail_delivery,
    recorded_details,
    status,
    updates_of,
)
from personvern.errors import InvalidInput
from personvern.escaping import html_templates, md_escape
from personvern.law import get_jurisdiction
from personvern.manifest.model import Manifest
from personvern.ropa.record import Lang, data_category
from personvern.storage.models import as_utc

FORMATS = ("md", "html", "json")
# report.html, autoescaped.
TEMPLATES = Path(__file__).parent / "templates"

_L: dict[str, tuple[str, str]] = {
    "title": ("Melding om brudd på personopplysningssikkerheten",
              "Notification of a personal data breach"),
    "law": ("GDPR artikkel 33 nr. 3", "GDPR Article 33(3)"),
    "controller": ("Behandlingsansvarlig", "Controller"),
    "name": ("Navn", "Name"), "orgnr": ("Organisasjonsnummer", "Organisation number"),
    "address": ("Adresse", "Address"), "email": ("E-post", "E-mail"),
    "phone": ("Telefon", "Phone"),
    "contact": ("Kontaktperson", "Contact person"),
    "dpo": ("Personvernombud", "Data protection officer"),
    "no_dpo": ("Ikke utnevnt", "None appointed"),
    "notice": ("Meldingen", "The notice"),
    "notice_type": ("Type melding", "Type of notice"),
    "first": ("Første melding", "First notice"),
    "followup": ("Oppfølging av tidligere melding (i faser, art. 33 nr. 4)",
                 "Follow-up of an earlier notice (in phases, Art. 33(4))"),
    "not_sent": ("Ikke sendt ennå", "Not sent yet"),
    "not_required": ("Ikke meldepliktig: lite sannsynlig at bruddet medfører en risiko",
                     "Not notifiable: unlikely to result in a risk"),
    "reason_no_notice": ("Begrunnelse for ikke å melde", "Reason for not notifying"),
    "times": ("Tidspunkter", "Times"),
    "occurred": ("Når bruddet skjedde", "When the breach occurred"),
    "aware": ("Når virksomheten ble klar over bruddet", "When the controller became aware"),
    "deadline": ("Frist for melding (72 timer)", "Deadline for the notice (72 hours)"),
    "notified": ("Melding sendt", "Notice sent"),
    "late_reason": ("Begrunnelse for forsinkelse", "Reasons for the delay"),
    "discovery": ("Hvordan bruddet ble oppdaget", "How the breach was discovered"),
    "what": ("Hva som skjedde", "What happened"),
    "nature": ("Type brudd", "Nature of the breach"),
    "description": ("Beskrivelse", "Description"),
    "people": ("Berørte personer og opplysninger", "People and records affected"),
    "subject_categories": ("Kategorier av registrerte", "Categories of data subjects"),
    "approx_subjects": ("Omtrentlig antall registrerte", "Approximate number of data subjects"),
    "data_categories": ("Kategorier av personopplysninger", "Categories of personal data"),
    "special": ("Omfatter særlige kategorier (art. 9/10)",
                "Includes special categories (Art. 9/10)"),
    "approx_records": ("Omtrentlig antall registreringer", "Approximate number of records"),
    "consequences": ("Sannsynlige konsekvenser", "Likely consequences"),
    "measures": ("Tiltak som er truffet eller foreslått", "Measures taken or proposed"),
    "risk": ("Risikovurdering", "Risk assessment"),
    "informed": ("Varsling av de registrerte (art. 34)",
                 "Communication to data subjects (Art. 34)"),
    "told": ("De registrerte er varslet", "Data subjects told"),
    "told_pending": ("Ikke ennå: e-post til de registrerte er ikke levert til alle",
                     "Not yet: the e-mail to the people has not been delivered to all"),
    "mail": ("E-post til de registrerte", "E-mail to the people"),
    "mail_counts": ("{sent} sendt, {waiting} venter på sending, {failed} feilet",
                    "{sent} sent, {waiting} waiting to be sent, {failed} failed"),
    "cross_border": ("Grenseoverskridende", "Cross-border"),
    "countries": ("Berørte land", "Countries affected"),
    "history": ("Historikk", "History"),
    "yes": ("Ja", "Yes"), "no": ("Nei", "No"), "unknown": ("Ukjent", "Unknown"),
    "not_given": ("Ikke oppgitt", "Not given"),
    "not_stated": ("Ikke oppgitt", "Not stated"),
    "status": ("Status", "Status"),
    "undeclared": ("ikke i manifestet", "not in the manifest"),
}
_STATUS = {
    "awaiting_notice": ("Venter på melding", "Awaiting the notice"),
    "overdue": ("Fristen er oversittet", "Overdue"),
    "notified": ("Meldt", "Notified"),
    "no_notice_required": ("Ikke meldepliktig", "No notice required"),
    "closed": ("Avsluttet", "Closed"),
}
_NATURE = {"confidentiality": ("Konfidensialitet", "Confidentiality"),
           "integrity": ("Integritet", "Integrity"),
           "availability": ("Tilgjengelighet", "Availability")}
_RISK = {"none": ("Ingen risiko", "No risk"), "low": ("Lav risiko", "Low risk"),
         "risk": ("Risiko", "Risk"), "high": ("Høy risiko", "High risk")}


def _t(key: str, lang: Lang) -> str:
    nb, en = _L[key]
    return nb if lang == "nb" else en


def _time(at: datetime | None, country: str) -> str | None:
    return None if at is None else local_time(at, country).isoformat(timespec="minutes")


def build_report(session: Session, breach_id: str, manifest: Manifest, now: datetime,
                 lang: Lang = "nb") -> dict[str, Any]:
    """The notification's facts for ``breach_id`` as plain JSON (keys stable, texts in lang)."""
    if lang not in ("nb", "en"):
        raise InvalidInput(f"unknown language {lang!r}; use nb or en")
    breach = get_breach(session, breach_id)
    details = recorded_details(session, breach.id)
    history = updates_of(session, breach.id)
    country = manifest.jurisdiction.country
    c = manifest.controller
    contact = c.privacy_contact or c.dpo
    subjects = {s.id: s.name.get(lang) for s in manifest.subjects}
    categories = [data_category(manifest, key, lang) for key in breach.data_categories]
    undeclared = details.get("undeclared") or {}
    undeclared_data = set(undeclared.get("data_categories") or [])
    phases = [u for u in history if u.kind in ("authority_notice", "phase")]
    told = [u for u in history if u.kind == "subject_notice"]
    mail = mail_delivery(session, breach.id)
    if breach.authority_notified_at is None:
        notice_type = "not_sent" if breach.notify_authority else "not_required"
    else:
        notice_type = "followup" if len(phases) > 1 else "first"
    return {
        "form": _t("title", lang), "law": _t("law", lang), "lang": lang,
        "breach": breach.id, "status": status(breach, now),
        "authority": get_jurisdiction(country).authority.name,
        "controller": {"name": c.name, "orgnr": c.orgnr, "address": c.address,
                       "email": c.email, "phone": c.phone},
        "contact": {"name": contact.name if contact else None,
                    "email": (contact.email if contact else None) or c.email,
                    "phone": (contact.phone if contact else None) or c.phone},
        "dpo": None if c.dpo is None else {"name": c.dpo.name, "email": c.dpo.email,
                                           "phone": c.dpo.phone},
        "notice": {"type": notice_type, "type_text": _t(notice_type, lang),
                   "required": breach.notify_authority,
                   "reason_not_required": breach.no_notice_reason,
                   "phases": len(phases)},
        "times": {"occurred_at": _time(breach.occurred_at, country),
                  "aware_at": _time(breach.aware_at, country),
                  "deadline": _time(deadline(breach), country),
                  "notified_at": _time(breach.authority_notified_at, country),
                  "late": is_late(breach), "late_reason": breach.late_reason,
                  "discovery": details.get("discovery")},
        "what": {"title": breach.title, "description": breach.description,
                 "nature": list(details.get("nature") or []),
                 "nature_text": [_NATURE[n][0 if lang == "nb" else 1]
                                 for n in details.get("nature") or [] if n in _NATURE]},
        "people": {
            "subject_categories": [subjects.get(s, s) for s in breach.subject_categories],
            "approx_subjects": breach.approx_subjects,
            "data_categories": [{"key": k.key, "name": k.name, "dpv": k.iri,
                                 "declared": k.key not in undeclared_data}
                                for k in categories],
            "undeclared_subject_categories": list(undeclared.get("subject_categories") or []),
            "special_categories": any(k.special for k in categories),
            "approx_records": breach.approx_records,
        },
        "consequences": breach.consequences or None,
        "measures": breach.measures or None,
        "risk": {"level": breach.risk, "text": _RISK[breach.risk][0 if lang == "nb" else 1]},
        # Told means delivered: an e-mail still queued (or failed) has told nobody (Art. 34),
        # unless someone has since recorded telling those people another way.
        "subjects_informed": {"informed": breach.subjects_notified_at is not None
                              and not mail["waiting"]
                              and not failed_unanswered(session, breach),
                              "mail": mail,
                              "at": _time(breach.subjects_notified_at, country),
                              "how": [u.text for u in told],
                              "required": breach.risk == "high"},
        # None is "not stated" (Art. 33(3), 56): the report must not say no for it.
        "cross_border": {"cross_border": details.get("cross_border"),
                         "countries": list(details.get("countries") or [])},
        "history": [{"at": _time(u.at, country), "kind": u.kind, "text": u.text}
                    for u in history],
        "generated_at": as_utc(now).isoformat(timespec="seconds"),
    }


# ---- renderers --------------------------------------------------------------------------

def _plain(text: str) -> str:
    """``text`` as it is (the HTML template escapes it)."""
    return text


def _sections(r: dict[str, Any], lang: Lang, esc: Callable[[str], str] = _plain,
              ) -> list[tuple[str, list[tuple[str, str]]]]:
    """The report as (heading, [(label, value)]) in the form's order; ``esc`` on every value
    that came from the register or the manifest (not on our own labels and words)."""
    def v(value: Any) -> str:
        if value is None or value in ("", []):
            return _t("not_given", lang)
        if isinstance(value, bool):
            return _t("yes" if value else "no", lang)
        if isinstance(value, list):
            return "; ".join(esc(str(x)) for x in value)
        return esc(str(value))

    ctrl, contact, times, what, people = (r["controller"], r["contact"], r["times"],
                                          r["what"], r["people"])
    dpo = r["dpo"]
    dpo_text = (_t("no_dpo", lang) if dpo is None else
                ", ".join(esc(x) for x in (dpo["name"], dpo["email"], dpo["phone"]) if x))
    notice = [(_t("notice_type", lang), r["notice"]["type_text"]),
              (_t("status", lang), _STATUS[r["status"]][0 if lang == "nb" else 1])]
    if r["notice"]["reason_not_required"]:
        notice.append((_t("reason_no_notice", lang), esc(r["notice"]["reason_not_required"])))
    time_rows = [(_t("occurred", lang), v(times["occurred_at"])),
                 (_t("aware", lang), v(times["aware_at"])),
                 (_t("deadline", lang), v(times["deadline"])),
                 (_t("notified", lang), v(times["notified_at"])),
                 (_t("discovery", lang), v(times["discovery"]))]
    if times["late"] or times["late_reason"]:
        time_rows.append((_t("late_reason", lang), v(times["late_reason"])))
    # Escaped piece by piece: the brackets of "[not in the manifest]" are ours.
    categories = [f"{esc(k['name'])} ({esc(k['key'])})"
                  + ("" if k["declared"] else f" [{_t('undeclared', lang)}]")
                  for k in people["data_categories"]]
    informed = r["subjects_informed"]
    return [
        (_t("controller", lang), [
            (_t("name", lang), v(ctrl["name"])), (_t("orgnr", lang), v(ctrl["orgnr"])),
            (_t("address", lang), v(ctrl["address"])),
            (_t("contact", lang), v(", ".join(x for x in (contact["name"], contact["email"],
                                                          contact["phone"]) if x))),
            (_t("dpo", lang), dpo_text)]),
        (_t("notice", lang), notice),
        (_t("times", lang), time_rows),
        (_t("what", lang), [(_t("nature", lang), v(what["nature_text"])),
                            (_t("description", lang), v(what["description"]))]),
        (_t("people", lang), [
            (_t("subject_categories", lang), v(people["subject_categories"])),
            (_t("approx_subjects", lang), v(people["approx_subjects"])),
            (_t("data_categories", lang), "; ".join(categories) or _t("not_given", lang)),
            (_t("special", lang), v(people["special_categories"])),
            (_t("approx_records", lang), v(people["approx_records"]))]),
        (_t("consequences", lang), [(_t("consequences", lang), v(r["consequences"])),
                                    (_t("risk", lang), r["risk"]["text"])]),
        (_t("measures", lang), [(_t("measures", lang), v(r["measures"]))]),
        (_t("informed", lang), [
            (_t("told", lang), _t("told_pending", lang)
             if informed["at"] and not informed["informed"] else v(informed["informed"])),
            *([(_t("mail", lang), _t("mail_counts", lang).format(**informed["mail"]))]
              if any(informed["mail"].values()) else []),
            (_t("notified", lang), v(informed["at"])),
            (_t("description", lang), v(informed["how"]))]),
        (_t("cross_border", lang), [(_t("cross_border", lang), _t("not_stated", lang)
                                     if r["cross_border"]["cross_border"] is None
                                     else v(r["cross_border"]["cross_border"])),
                                    (_t("countries", lang), v(r["cross_border"]
                                                              ["countries"]))]),
    ]


def to_markdown(r: dict[str, Any]) -> str:
    """The report as Markdown: one table per section of the form, then the history."""
    lang: Lang = r["lang"]
    out = [f"# {r['form']}: {r['breach']}", "", f"{r['law']} · {r['authority']}", ""]
    # md_escape keeps each value on one line with its pipes, #, >, *, backticks escaped, so
    # a note can neither end its table row nor start a heading, row or list of its own.
    for heading, rows in _sections(r, lang, md_escape):
        out += [f"## {heading}", "", "| | |", "|---|---|"]
        out += [f"| {label} | {value} |" for label, value in rows]
        out.append("")
    out += [f"## {_t('history', lang)}", ""]
    out += [f"- {h['at']} · {h['kind']}: {md_escape(h['text'])}" for h in r["history"]]
    return "\n".join(out) + "\n"


def to_html(r: dict[str, Any]) -> str:
    """The report as a standalone, accessible HTML page."""
    lang: Lang = r["lang"]
    return html_templates(TEMPLATES).get_template("report.html").render(
        lang=lang, title=f"{r['form']}: {r['breach']}", law=r["law"], authority=r["authority"],
        sections=_sections(r, lang), history_heading=_t("history", lang), history=r["history"])


def render(r: dict[str, Any], fmt: str) -> str:
    """The report in ``fmt`` (md, html or json)."""
    if fmt == "md":
        return to_markdown(r)
    if fmt == "html":
        return to_html(r)
    if fmt == "json":
        return json.dumps(r, ensure_ascii=False, indent=2) + "\n"
    raise InvalidInput(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
