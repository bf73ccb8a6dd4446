"""The record of processing activities (GDPR Art. 30(1) and 30(2)) built from the manifest.

Every field the article lists is present for every purpose; where the manifest is
silent the field says so in words and ``Record.gaps`` names what to fill in. Texts
are resolved to one language (bokmål or English) here, so the exports only lay out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from personvern.errors import InvalidInput
from personvern.law import Jurisdiction, get_jurisdiction, has_adequacy_decision, is_eea
from personvern.manifest.categories import BUILTIN_CATEGORIES, DPV_PD
from personvern.manifest.loader import format_path
from personvern.manifest.model import (
    LEGAL_BASIS_ARTICLE,
    Contact,
    Manifest,
    Purpose,
    Recipient,
    RetentionRule,
)
from personvern.manifest.notes import notes
from personvern.manifest.types import Duration, Text

DPV = "https://w3id.org/dpv#"
EU_GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"

# ---- fixed words in bokmål and English ----------------------------------------

Lang = Literal["nb", "en"]
LANGS: tuple[Lang, ...] = ("nb", "en")

BASIS: dict[str, dict[Lang, str]] = {
    "consent": {"nb": "Samtykke", "en": "Consent"},
    "contract": {"nb": "Avtale", "en": "Contract"},
    "legal_obligation": {"nb": "Rettslig forpliktelse", "en": "Legal obligation"},
    "vital_interests": {"nb": "Vitale interesser", "en": "Vital interests"},
    "public_task": {"nb": "Allmennhetens interesse eller offentlig myndighet",
                    "en": "Public task"},
    "legitimate_interests": {"nb": "Berettiget interesse", "en": "Legitimate interests"},
}

ROLE: dict[str, dict[Lang, str]] = {
    "processor": {"nb": "Databehandler", "en": "Processor"},
    "sub_processor": {"nb": "Underdatabehandler", "en": "Sub-processor"},
    "controller": {"nb": "Selvstendig behandlingsansvarlig", "en": "Independent controller"},
    "joint_controller": {"nb": "Felles behandlingsansvarlig", "en": "Joint controller"},
    "public_authority": {"nb": "Offentlig myndighet", "en": "Public authority"},
}

# "<duration> after <trigger>"; "straks etter" / "immediately after" for zero.
TRIGGER: dict[str, dict[Lang, str]] = {
    "collected": {"nb": "innsamling", "en": "collection"},
    "last_activity": {"nb": "siste aktivitet", "en": "the last activity"},
    "account_closed": {"nb": "at kontoen er avsluttet", "en": "the account is closed"},
    "contract_end": {"nb": "at avtalen er avsluttet", "en": "the contract ends"},
    "subscription_end": {"nb": "at abonnementet er avsluttet", "en": "the subscription ends"},
    "course_end": {"nb": "at kurset er avsluttet", "en": "the course ends"},
    "payment_settled": {"nb": "at betalingen er gjennomført", "en": "the payment is settled"},
    "fiscal_year_end": {"nb": "utgangen av regnskapsåret", "en": "the end of the fiscal year"},
    "consent_withdrawn": {"nb": "at samtykket er trukket tilbake",
                          "en": "consent is withdrawn"},
    "objection_raised": {"nb": "at personen protesterer eller melder seg av",
                         "en": "the person objects or unsubscribes"},
    "purpose_fulfilled": {"nb": "at formålet er oppfylt", "en": "the purpose is fulfilled"},
}

ACTION: dict[str, dict[Lang, str]] = {
    "delete": {"nb": "Slettes", "en": "Deleted"},
    "anonymise": {"nb": "Anonymiseres", "en": "Anonymised"},
    "restrict": {"nb": "Sperres (begrenset behandling)", "en": "Restricted"},
}

# Transfer mechanisms: (words, GDPR provision, DPV eu-gdpr concept).
MECHANISM: dict[str, tuple[dict[Lang, str], str | None]] = {
    "adequacy": ({"nb": "Beslutning om tilstrekkelig beskyttelsesnivå (GDPR art. 45)",
                  "en": "Adequacy decision (GDPR Art. 45)"}, "A45-3"),
    "dpf": ({"nb": "EU–US Data Privacy Framework, beslutning om tilstrekkelig "
                   "beskyttelsesnivå (GDPR art. 45)",
             "en": "EU-US Data Privacy Framework, an adequacy decision (GDPR Art. 45)"},
            "A45-3"),
    "scc": ({"nb": "EUs standard personvernbestemmelser (GDPR art. 46 nr. 2 bokstav c)",
             "en": "Standard contractual clauses (GDPR Art. 46(2)(c))"}, "A46-2-c"),
    "bcr": ({"nb": "Bindende virksomhetsregler (GDPR art. 46 nr. 2 bokstav b og art. 47)",
             "en": "Binding corporate rules (GDPR Art. 46(2)(b) and 47)"}, "A46-2-b"),
    "consent_derogation": ({"nb": "Unntak: uttrykkelig samtykke (GDPR art. 49 nr. 1 bokstav a)",
                            "en": "Derogation: explicit consent (GDPR Art. 49(1)(a))"},
                           "A49-1-a"),
    "contract_derogation": ({"nb": "Unntak: nødvendig for å oppfylle en avtale "
                                   "(GDPR art. 49 nr. 1 bokstav b)",
                             "en": "Derogation: necessary for a contract (GDPR Art. 49(1)(b))"},
                            "A49-1-b"),
    "none": ({"nb": "Intet overføringsgrunnlag", "en": "No transfer mechanism"}, None),
}

ART9: dict[str, dict[Lang, str]] = {
    "explicit_consent": {"nb": "uttrykkelig samtykke", "en": "explicit consent"},
    "employment": {"nb": "arbeidsrettslige forpliktelser", "en": "employment law"},
    "vital_interests": {"nb": "vitale interesser", "en": "vital interests"},
    "foundation": {"nb": "stiftelse eller sammenslutning", "en": "foundation or association"},
    "made_public": {"nb": "gjort offentlig av personen", "en": "made public by the person"},
    "legal_claims": {"nb": "rettskrav", "en": "legal claims"},
    "substantial_public_interest": {"nb": "viktige allmenne interesser",
                                    "en": "substantial public interest"},
    "health_care": {"nb": "helse- og omsorgstjenester", "en": "health or social care"},
    "public_health": {"nb": "folkehelse", "en": "public health"},
    "archiving": {"nb": "arkiv, forskning eller statistikk",
                  "en": "archiving, research or statistics"},
}
ART9_LETTER = {
    "explicit_consent": "a", "employment": "b", "vital_interests": "c", "foundation": "d",
    "made_public": "e", "legal_claims": "f", "substantial_public_interest": "g",
    "health_care": "h", "public_health": "i", "archiving": "j",
}

COUNTRY: dict[str, dict[Lang, str]] = {
    "NO": {"nb": "Norge", "en": "Norway"}, "SE": {"nb": "Sverige", "en": "Sweden"},
    "DK": {"nb": "Danmark", "en": "Denmark"}, "FI": {"nb": "Finland", "en": "Finland"},
    "IS": {"nb": "Island", "en": "Iceland"}, "DE": {"nb": "Tyskland", "en": "Germany"},
    "NL": {"nb": "Nederland", "en": "the Netherlands"}, "IE": {"nb": "Irland", "en": "Ireland"},
    "FR": {"nb": "Frankrike", "en": "France"}, "BE": {"nb": "Belgia", "en": "Belgium"},
    "LU": {"nb": "Luxembourg", "en": "Luxembourg"}, "EE": {"nb": "Estland", "en": "Estonia"},
    "PL": {"nb": "Polen", "en": "Poland"}, "ES": {"nb": "Spania", "en": "Spain"},
    "IT": {"nb": "Italia", "en": "Italy"}, "AT": {"nb": "Østerrike", "en": "Austria"},
    "US": {"nb": "USA", "en": "the United States"},
    "GB": {"nb": "Storbritannia", "en": "the United Kingdom"},
    "CH": {"nb": "Sveits", "en": "Switzerland"}, "CA": {"nb": "Canada", "en": "Canada"},
    "JP": {"nb": "Japan", "en": "Japan"}, "KR": {"nb": "Sør-Korea", "en": "South Korea"},
    "IN": {"nb": "India", "en": "India"}, "AU": {"nb": "Australia", "en": "Australia"},
    "IL": {"nb": "Israel", "en": "Israel"}, "NZ": {"nb": "New Zealand", "en": "New Zealand"},
    "SG": {"nb": "Singapore", "en": "Singapore"}, "UA": {"nb": "Ukraina", "en": "Ukraine"},
}

WORDS: dict[Lang, dict[str, str]] = {
    "nb": {
        "not_stated": "Ikke oppgitt i manifestet",
        "none": "Ingen",
        # An empty list in the manifest is no statement that there is none.
        "none_stated": "Ingen oppgitt i manifestet",
        "no_dpo": "Personvernombud er ikke utnevnt",
        "no_privacy_contact": "Ingen egen personvernkontakt er oppgitt",
        "representative_not_required": (
            "Ikke nødvendig: den behandlingsansvarlige er etablert i EØS (GDPR art. 27)"
        ),
        "representative_missing": "Ikke oppgitt (kreves etter GDPR art. 27)",
        "unknown_country": "land ikke oppgitt",
        "third_country": "tredjeland",
        "derived_adequacy": "Beslutning om tilstrekkelig beskyttelsesnivå (GDPR art. 45), "
                            "utledet av landet",
        "no_safeguard": "Intet overføringsgrunnlag er oppgitt",
        "first_of": "det som inntreffer først",
        "immediately": "straks etter",
        "after": "etter",
        "unlimited": "Oppbevares uten tidsbegrensning",
        "plus_withdrawal": "pluss angrefristen på {days} dager",
        "unless": "unntak",
        "statute": "hjemmel",
        "interest": "interesse",
        "balancing": "interesseavveining",
        "withdraw": "tilbaketrekking",
        "explicit": "uttrykkelig samtykke",
        "art9": "Særlige kategorier: GDPR art. 9 nr. 2 bokstav {letter} ({words})",
        "dpa": "databehandleravtale",
        "dpa_yes": "databehandleravtale inngått",
        "dpa_no": "ingen databehandleravtale oppgitt",
        "role_not_stated": "rolle ikke oppgitt i manifestet",
        "customers": "Kundebedrifter som legger inn opplysninger om sine ansatte",
        "customers_contact": "Kontaktpersonen hos hver kundebedrift (administratorbruker)",
        "on_behalf": "Behandling på vegne av kundene",
    },
    "en": {
        "not_stated": "Not stated in the manifest",
        "none": "None",
        "none_stated": "None stated in the manifest",
        "no_dpo": "No data protection officer appointed",
        "no_privacy_contact": "No separate privacy contact stated",
        "representative_not_required": (
            "Not required: the controller is established in the EEA (GDPR Art. 27)"
        ),
        "representative_missing": "Not stated (required by GDPR Art. 27)",
        "unknown_country": "country not stated",
        "third_country": "third country",
        "derived_adequacy": "Adequacy decision (GDPR Art. 45), derived from the country",
        "no_safeguard": "No transfer mechanism stated",
        "first_of": "whichever comes first",
        "immediately": "immediately after",
        "after": "after",
        "unlimited": "Kept without time limit",
        "plus_withdrawal": "plus the {days}-day right of withdrawal",
        "unless": "unless",
        "statute": "statute",
        "interest": "interest",
        "balancing": "balancing test",
        "withdraw": "withdrawal",
        "explicit": "explicit consent",
        "art9": "Special categories: GDPR Art. 9(2)({letter}) ({words})",
        "dpa": "data processing agreement",
        "dpa_yes": "data processing agreement signed",
        "dpa_no": "no data processing agreement stated",
        "role_not_stated": "role not stated in the manifest",
        "customers": "Customer companies that enter data about their employees",
        "customers_contact": "The contact person at each customer company (its admin user)",
        "on_behalf": "Processing on behalf of the customers",
    },
}


def word(lang: Lang, key: str) -> str:
    """The fixed phrase ``key`` in ``lang``."""
    return WORDS[lang][key]


def basis_article(basis: str, lang: Lang) -> str:
    """``GDPR Art. 6(1)(b)`` / ``GDPR art. 6 nr. 1 bokstav b``."""
    letter = LEGAL_BASIS_ARTICLE[basis]
    return f"GDPR art. 6 nr. 1 bokstav {letter}" if lang == "nb" else f"GDPR Art. 6(1)({letter})"


def duration_words(d: Duration, lang: Lang) -> str:
    """``2 år 6 måneder`` / ``2 years 6 months``."""
    units = {
        "nb": (("år", "år"), ("måned", "måneder"), ("dag", "dager")),
        "en": (("year", "years"), ("month", "months"), ("day", "days")),
    }[lang]
    parts = [f"{n} {one if n == 1 else many}"
             for n, (one, many) in zip((d.years, d.months, d.days), units, strict=True) if n]
    return " ".join(parts) or ("0 dager" if lang == "nb" else "0 days")


def iso_duration(d: Duration) -> str | None:
    """The xsd:duration (``P2Y6M``) of ``d``; None when unlimited."""
    if d.unlimited:
        return None
    body = "".join(f"{n}{u}" for n, u in ((d.years, "Y"), (d.months, "M"), (d.days, "D")) if n)
    return "P" + (body or "0D")


def country_words(code: str | None, lang: Lang) -> str:
    """``USA (US)``; the code alone for a country without a name here."""
    if code is None:
        return word(lang, "unknown_country")
    name = COUNTRY.get(code, {}).get(lang)
    return f"{name} ({code})" if name else code


# ---- the record ---------------------------------------------------------------

@dataclass(frozen=True)
class Party:
    """A controller, processor, DPO or representative with how to reach them."""

    name: str
    contact: str
    orgnr: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class DataCategory:
    """A category of personal data with its W3C DPV concept."""

    key: str
    name: str
    dpv: str | None          # "pd:EmailAddress"
    iri: str | None          # "https://w3id.org/dpv/pd#EmailAddress"
    inherited: bool          # the concept is that of a broader key (no exact one)
    special: bool


@dataclass(frozen=True)
class SubjectCategory:
    """A category of data subjects."""

    id: str
    name: str
    children: bool


@dataclass(frozen=True)
class RecipientEntry:
    """A recipient or category of recipients (Art. 30(1)(d))."""

    id: str
    name: str
    role: str  # as the checks read it: "processor" when the manifest states none
    role_text: str
    service: str
    country: str | None
    country_text: str
    third_country: bool | None   # None: the country is not stated
    dpa_text: str
    role_stated: bool = True


@dataclass(frozen=True)
class TransferEntry:
    """A transfer to a third country with its safeguard (Art. 30(1)(e))."""

    recipient_id: str
    recipient: str
    country: str | None
    country_text: str
    mechanism: str | None
    safeguard: str
    gdpr: str | None          # DPV eu-gdpr concept, e.g. "A46-2-c"
    note: str | None


@dataclass(frozen=True)
class ErasureEntry:
    """One retention rule in words (Art. 30(1)(f))."""

    rule_id: str
    text: str
    trigger: str
    duration: str
    iso_duration: str | None
    action: str
    statute: str | None
    note: str | None          # the manifest's own description of the rule

    @property
    def full_text(self) -> str:
        """The rule in words, followed by the manifest's description of it."""
        if not self.note:
            return self.text
        return f"{self.text.rstrip('.')}. {self.note}"


@dataclass(frozen=True)
class Activity:
    """One processing activity: a purpose of the manifest with every Art. 30(1) field."""

    id: str
    name: str
    description: str
    legal_basis: str | None
    basis_article: str | None
    basis_iri: str | None
    basis_text: str
    special_condition: str | None
    subjects: tuple[SubjectCategory, ...]
    categories: tuple[DataCategory, ...]
    recipients: tuple[RecipientEntry, ...]
    joint_controllers: tuple[RecipientEntry, ...]
    transfers: tuple[TransferEntry, ...]
    erasure: tuple[ErasureEntry, ...]
    erasure_text: str
    security: str


@dataclass(frozen=True)
class Record:
    """The controller's record of processing activities (GDPR Art. 30(1))."""

    lang: Lang
    service: str
    controller: Party
    representative: Party | None
    representative_text: str
    dpo: Party | None
    dpo_text: str
    privacy_contact: Party | None
    privacy_contact_text: str
    authority: str
    security: str
    security_described: bool
    activities: tuple[Activity, ...]
    gaps: tuple[str, ...]
    # Art. 30(1)(e): the third countries data goes to, by name; unknown ones in ``gaps``.
    third_countries: tuple[str, ...] = ()
    # The authors' note: fields, "path: text"; internal, never in the published policy.
    notes: tuple[str, ...] = ()
    # A record is kept up to date (Art. 30(1), 30(4)): it says when and from what.
    drawn_up: date | None = None
    version: str | None = None


@dataclass(frozen=True)
class ProcessingForControllers:
    """A category of processing carried out on behalf of the controllers (Art. 30(2)(b))."""

    id: str
    name: str
    description: str
    subjects: tuple[SubjectCategory, ...]
    categories: tuple[DataCategory, ...]


@dataclass(frozen=True)
class ProcessorRecord:
    """The processor's record (GDPR Art. 30(2)) for a service that processes for customers."""

    lang: Lang
    service: str
    processor: Party
    representative_text: str
    dpo_text: str
    controllers: str
    controllers_contact: str
    processing: tuple[ProcessingForControllers, ...]
    sub_processors: tuple[RecipientEntry, ...]
    transfers: tuple[TransferEntry, ...]
    security: str
    derived_from: str
    # Recipients of the processing whose role the manifest leaves out: listed apart, since
    # calling them sub-processors (Art. 28(2), (4)) would be a claim no field backs.
    role_not_stated: tuple[RecipientEntry, ...] = ()


def _party(name: str, email: str | None, phone: str | None, address: str | None,
           website: str | None = None, orgnr: str | None = None, lang: Lang = "en") -> Party:
    parts = [p for p in (email, phone, address, website) if p]
    return Party(name=name, contact=", ".join(parts) or word(lang, "not_stated"), orgnr=orgnr,
                 email=email, phone=phone, address=address, website=website)


def _named(p: Party) -> str:
    """``Name (contact)``, or the name alone when no contact detail is given."""
    has_contact = any((p.email, p.phone, p.address, p.website))
    return f"{p.name} ({p.contact})" if has_contact else p.name


def _contact(c: Contact | None, lang: Lang, fallback: str) -> Party | None:
    if c is None:
        return None
    return _party(c.name or fallback, c.email, c.phone, c.address, c.url, lang=lang)


def data_category(m: Manifest, key: str, lang: Lang) -> DataCategory:
    """The category ``key`` named in ``lang``, with its DPV concept (or the nearest broader)."""
    declared = next((c for c in m.categories if c.id == key), None)
    builtin = BUILTIN_CATEGORIES.get(key)
    if declared is not None and declared.name is not None:
        name = declared.name.get(lang)
    elif builtin is not None:
        name = builtin.nb if lang == "nb" else builtin.en
    else:
        name = key
    dpv = declared.dpv if declared is not None and declared.dpv else None
    inherited = False
    if dpv is None and builtin is not None:
        dpv = builtin.dpv
    if dpv is None:
        # No exact concept: take the broader key's (user.content.documents -> user.content).
        parts = key.split(".")
        while len(parts) > 1 and dpv is None:
            parts.pop()
            broader = BUILTIN_CATEGORIES.get(".".join(parts))
            dpv = broader.dpv if broader is not None else None
        inherited = dpv is not None
    local = None if dpv is None else dpv.removeprefix(DPV_PD).removeprefix("pd:")
    if declared is not None and declared.special is not None:
        special = declared.special
    else:
        # A key under a special category is special too (user.health.sick_leave).
        parts = key.split(".")
        special = any((b := BUILTIN_CATEGORIES.get(".".join(parts[:n]))) is not None
                      and b.special for n in range(len(parts), 0, -1))
    return DataCategory(key, name, None if local is None else f"pd:{local}",
                        None if local is None else DPV_PD + local, inherited, special)


def _recipient(r: Recipient, lang: Lang) -> RecipientEntry:
    if r.dpa_signed is None or r.dpa_signed is False:
        dpa = word(lang, "dpa_no") if r.role in ("processor", "sub_processor") else ""
    elif isinstance(r.dpa_signed, date):
        dpa = f"{word(lang, 'dpa_yes')} {r.dpa_signed.isoformat()}"
    else:
        dpa = word(lang, "dpa_yes")
    third = None if r.country is None else not is_eea(r.country)
    # The default role is the checks' stricter reading, not a statement: the record
    # names a role (a legal status, Art. 28) only when the manifest states it (PV074).
    return RecipientEntry(
        id=r.id, name=r.name, role=r.role,
        role_text=ROLE[r.role][lang] if r.role_stated else word(lang, "role_not_stated"),
        role_stated=r.role_stated,
        service=r.service.get(lang), country=r.country,
        country_text=country_words(r.country, lang), third_country=third, dpa_text=dpa,
    )


def transfer_of(r: Recipient, lang: Lang) -> TransferEntry | None:
    """The third-country transfer to ``r``, or None when its data stays in the EEA.

    A recipient with no country is listed only when the manifest names a transfer
    mechanism for it (seed 002: "both inside and outside the EU").
    """
    mechanism = r.transfer.mechanism if r.transfer else None
    if r.country is not None and is_eea(r.country):
        return None
    if r.country is None and mechanism is None:
        return None
    gdpr: str | None
    if mechanism is not None:
        texts, gdpr = MECHANISM[mechanism]
        safeguard = texts[lang]
    elif r.country is not None and has_adequacy_decision(r.country):
        safeguard, gdpr = word(lang, "derived_adequacy"), "A45-3"
    else:
        safeguard, gdpr = word(lang, "no_safeguard"), None
    note = (r.transfer.description.get(lang)
            if r.transfer and r.transfer.description else None)
    return TransferEntry(r.id, r.name, r.country, country_words(r.country, lang), mechanism,
                         safeguard, gdpr, note)


def erasure_of(rule: RetentionRule, m: Manifest, lang: Lang) -> ErasureEntry:
    """A retention rule in words: "Deleted 2 years after the last activity"."""
    action = ACTION[rule.action][lang]
    trigger = TRIGGER[rule.trigger][lang]
    d = rule.duration
    if d.unlimited:
        text = word(lang, "unlimited")
    elif d == Duration():
        text = f"{action} {word(lang, 'immediately')} {trigger}"
    else:
        text = f"{action} {duration_words(d, lang)} {word(lang, 'after')} {trigger}"
    if rule.plus_withdrawal_period:
        days = _jurisdiction(m).withdrawal_period_days
        text += ", " + word(lang, "plus_withdrawal").format(days=days)
    statute = rule.statute
    if statute is None and rule.bookkeeping:
        statute = _jurisdiction(m).bookkeeping_source.citation
    if statute:
        text += f" ({statute})"
    for cond in rule.conditions:
        text += f"; {word(lang, 'unless')}: {cond.description.get(lang)}"
    note = rule.description.get(lang) if rule.description else None
    return ErasureEntry(rule.id, text, rule.trigger, str(d), iso_duration(d), rule.action,
                        statute, note)


def _jurisdiction(m: Manifest) -> Jurisdiction:
    return get_jurisdiction(m.jurisdiction.country)


def _basis(p: Purpose, lang: Lang) -> tuple[str | None, str | None, str]:
    if p.legal_basis is None:
        return None, None, word(lang, "not_stated")
    article = basis_article(p.legal_basis, lang)
    iri = f"{EU_GDPR}A6-1-{LEGAL_BASIS_ARTICLE[p.legal_basis]}"
    parts = [f"{BASIS[p.legal_basis][lang]} ({article})"]
    if p.legal_obligation is not None:
        parts.append(f"{word(lang, 'statute')}: {p.legal_obligation.statute}")
    if p.legitimate_interest is not None:
        parts.append(f"{word(lang, 'interest')}: {p.legitimate_interest.interest.get(lang)}")
        if p.legitimate_interest.balancing is not None:
            parts.append(
                f"{word(lang, 'balancing')}: {p.legitimate_interest.balancing.get(lang)}"
            )
    if p.consent is not None:
        if p.consent.explicit:
            parts.append(word(lang, "explicit"))
        if p.consent.how_to_withdraw is not None:
            parts.append(f"{word(lang, 'withdraw')}: {p.consent.how_to_withdraw.get(lang)}")
    return article, iri, "; ".join(parts)


def _subjects(m: Manifest, ids: list[str], lang: Lang) -> tuple[SubjectCategory, ...]:
    known = {s.id: s for s in m.subjects}
    out = []
    for sid in ids:
        s = known.get(sid)
        out.append(SubjectCategory(sid, s.name.get(lang) if s else sid,
                                   bool(s and s.includes_children)))
    return tuple(out)


def _activity(m: Manifest, p: Purpose, lang: Lang, security: str,
              gaps: list[str]) -> Activity:
    article, iri, basis_text = _basis(p, lang)
    if p.legal_basis is None:
        gaps.append(f"purposes.{p.id}: no legal basis")
    recipients = [r for rid in p.recipients if (r := m.recipient(rid)) is not None]
    rules = [rule for rid in p.retention if (rule := m.retention_rule(rid)) is not None]
    erasure = tuple(erasure_of(r, m, lang) for r in rules)
    if not erasure:
        gaps.append(f"purposes.{p.id}: no retention rule")
        erasure_text = word(lang, "not_stated")
    elif len(erasure) == 1:
        erasure_text = erasure[0].full_text
    else:
        erasure_text = (f"{word(lang, 'first_of').capitalize()}: "
                        + "; ".join(e.full_text for e in erasure))
    transfers = tuple(t for r in recipients if (t := transfer_of(r, lang)) is not None)
    special = None
    if p.special_categories is not None:
        cond = p.special_categories.condition
        special = word(lang, "art9").format(letter=ART9_LETTER[cond], words=ART9[cond][lang])
    return Activity(
        id=p.id, name=p.name.get(lang),
        description=p.description.get(lang) if p.description else "",
        legal_basis=p.legal_basis, basis_article=article, basis_iri=iri, basis_text=basis_text,
        special_condition=special,
        subjects=_subjects(m, p.subjects, lang),
        categories=tuple(data_category(m, k, lang) for k in p.categories),
        recipients=tuple(_recipient(r, lang) for r in recipients
                         if r.role != "joint_controller"),
        joint_controllers=tuple(_recipient(r, lang) for r in recipients
                                if r.role == "joint_controller"),
        transfers=transfers, erasure=erasure, erasure_text=erasure_text, security=security,
    )


def _controller_parts(m: Manifest, lang: Lang) -> tuple[Party, Party | None, str, Party | None,
                                                        str, Party | None, str]:
    c = m.controller
    controller = _party(c.name, c.email, c.phone, c.address, c.website, c.orgnr, lang)
    rep = _contact(c.representative, lang, c.name)
    if rep is not None:
        rep_text = _named(rep)
    elif is_eea(m.jurisdiction.country):
        rep_text = word(lang, "representative_not_required")
    else:
        rep_text = word(lang, "representative_missing")
    dpo = _contact(c.dpo, lang, "DPO")
    dpo_text = _named(dpo) if dpo else word(lang, "no_dpo")
    pc = _contact(c.privacy_contact, lang, c.name)
    pc_text = _named(pc) if pc else word(lang, "no_privacy_contact")
    return controller, rep, rep_text, dpo, dpo_text, pc, pc_text


def build_record(m: Manifest, lang: Lang = "nb", *, drawn_up: date | None = None,
                 version: str | None = None) -> Record:
    """The controller's record of processing activities (Art. 30(1)), one activity per purpose.

    Nothing is left out when the manifest is silent: the field says so, and ``gaps``
    lists what the privacy owner should fill in. ``drawn_up`` and ``version`` (the
    manifest's hash) date the record; the authors' notes come with it, for internal use.
    """
    if lang not in LANGS:
        raise InvalidInput(f"unknown language {lang!r}; use nb or en")
    gaps: list[str] = []
    controller, rep, rep_text, dpo, dpo_text, pc, pc_text = _controller_parts(m, lang)
    if m.security is None:
        gaps.append("security: no general description of security measures (Art. 30(1)(g))")
    security = m.security.get(lang) if m.security else word(lang, "not_stated")
    activities = tuple(_activity(m, p, lang, security, gaps) for p in m.purposes)
    unsafe = {t.recipient_id: t for a in activities for t in a.transfers if t.gdpr is None}
    gaps.extend(f"recipients.{t.recipient_id}: transfer to {t.recipient} ({t.country_text}) "
                "has no adequacy decision or safeguard stated (Art. 30(1)(e), 44-46)"
                for t in unsafe.values())
    gaps.extend(f"recipients.{r.id}: {r.name}: the country is not stated, so the record "
                "cannot say whether data goes to a third country (Art. 30(1)(e))"
                for r in m.recipients if r.country is None)
    countries = sorted({country_words(r.country, lang) for r in m.recipients
                        if r.country is not None and not is_eea(r.country)})
    return Record(
        lang=lang, service=m.service.name, controller=controller, representative=rep,
        representative_text=rep_text, dpo=dpo, dpo_text=dpo_text, privacy_contact=pc,
        privacy_contact_text=pc_text, authority=_jurisdiction(m).authority.name,
        security=security, security_described=m.security is not None,
        activities=activities, gaps=tuple(gaps), third_countries=tuple(countries),
        notes=tuple(f"{format_path(loc)}: {text}" for loc, text in notes(m)),
        drawn_up=drawn_up, version=version,
    )


# ---- the processor's record (Art. 30(2)) --------------------------------------

def processor_role(m: Manifest) -> tuple[list[Purpose], Text, Text | None, str] | None:
    """(purposes done for customers, controllers, contact, source) or None.

    From the manifest's ``processor_for``: its purposes, or when it names none, every
    purpose covering its subject categories.
    """
    role = m.processor_for
    if role is None:
        return None
    wanted, subjects = set(role.purposes), set(role.subjects)
    purposes = [p for p in m.purposes
                if p.id in wanted or (not wanted and subjects & set(p.subjects))]
    return (purposes, role.controllers, role.contact, "processor_for")


def build_processor_record(m: Manifest, lang: Lang = "nb") -> ProcessorRecord | None:
    """The record a processor keeps (Art. 30(2)), or None when the service is no processor."""
    if lang not in LANGS:
        raise InvalidInput(f"unknown language {lang!r}; use nb or en")
    found = processor_role(m)
    if found is None:
        return None
    purposes, controllers, contact, source = found
    controller, _rep, rep_text, _dpo, dpo_text, _pc, _pc_text = _controller_parts(m, lang)

    def text_of(value: Any, fallback: str) -> str:
        return str(value.get(lang)) if value is not None and hasattr(value, "get") else fallback

    processing = tuple(
        ProcessingForControllers(
            p.id, p.name.get(lang), p.description.get(lang) if p.description else "",
            _subjects(m, p.subjects, lang),
            tuple(data_category(m, k, lang) for k in p.categories),
        )
        for p in purposes
    )
    seen: dict[str, Recipient] = {}
    for p in purposes:
        for rid in p.recipients:
            r = m.recipient(rid)
            if r is not None and r.role in ("processor", "sub_processor"):
                seen.setdefault(r.id, r)
    subs = tuple(_recipient(r, lang) for r in seen.values() if r.role_stated)
    unstated = tuple(_recipient(r, lang) for r in seen.values() if not r.role_stated)
    transfers = tuple(t for r in seen.values() if (t := transfer_of(r, lang)) is not None)
    return ProcessorRecord(
        lang=lang, service=m.service.name, processor=controller, representative_text=rep_text,
        dpo_text=dpo_text, controllers=text_of(controllers, word(lang, "customers")),
        controllers_contact=text_of(contact, word(lang, "customers_contact")),
        processing=processing, sub_processors=subs, transfers=transfers,
        security=m.security.get(lang) if m.security else word(lang, "not_stated"),
        derived_from=source, role_not_stated=unstated,
    )
