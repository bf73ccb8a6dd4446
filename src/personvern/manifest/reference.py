"""The Markdown manifest reference (docs/manifest.md), generated from the schema models.

Every word of docs/manifest.md comes from here: the fixed prose below, the models'
docstrings and field descriptions, and the built-in category table. Regenerate with
``python -m personvern.manifest.reference > docs/manifest.md`` (``make docs``); a test
fails when the file and the models disagree.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import AfterValidator, BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.loader import DEFAULT_MAX_BYTES
from personvern.manifest.model import LEGAL_BASIS_ARTICLE, Manifest
from personvern.manifest.schema_walk import submodel
from personvern.manifest.types import (
    _UNITS,
    UNLIMITED_WORDS,
    CategoryKey,
    Country,
    Duration,
    Email,
    Id,
    Text,
)

# Descriptions of fields that have no ``Field(description=...)`` in model.py, keyed
# "Model.field". A description given in the model wins; a test fails when an entry
# here names a field that no longer exists or has meanwhile got its own description.
DESCRIPTIONS: dict[str, str] = {
    # Manifest
    "Manifest.personvern": "Schema version of the manifest; must be `1`.",
    "Manifest.service": "The service the manifest describes.",
    "Manifest.controller": "The controller (behandlingsansvarlig): the company or "
    "organisation responsible for the processing.",
    "Manifest.jurisdiction": "Which country's privacy rules apply; Norway unless given.",
    "Manifest.languages": "Languages the privacy policy and the portal are published in.",
    "Manifest.subjects": "The kinds of people whose data the service processes.",
    "Manifest.categories": "The service's own data categories (with names), and built-in "
    "categories it describes further. Built-in keys can be used without being listed here.",
    "Manifest.purposes": "Why personal data is processed, each purpose with its legal basis.",
    "Manifest.retention": "Retention rules; purposes refer to them by id.",
    "Manifest.recipients": "Processors and other recipients of personal data.",
    "Manifest.cookies": "Cookies, pixels and similar technologies on the visitor's device.",
    "Manifest.cookie_consent": "How consent to cookies is asked for and withdrawn.",
    "Manifest.rights": "The data-subject rights offered, the channels to use them and the "
    "response deadline.",
    "Manifest.children": "Whether children are among the subjects, and guardian consent.",
    "Manifest.policy_changes": "How changes to the privacy policy are announced.",
    "Manifest.datasets": "The databases where the service keeps personal data, so that a "
    "person's data can be found, exported and erased.",
    # Service
    "Service.name": "The service's name as people know it.",
    "Service.url": "The service's web address.",
    "Service.description": "What the service does, in a sentence or two.",
    # Controller
    "Controller.name": "Legal name of the company or organisation.",
    "Controller.address": "Postal address.",
    "Controller.email": "Contact e-mail address.",
    "Controller.phone": "Contact phone number.",
    "Controller.website": "The controller's website.",
    "Controller.representative": "Representative in the EEA (Art. 27), for a controller "
    "established outside it.",
    # Contact
    "Contact.name": "Name of the person or role.",
    "Contact.email": "E-mail address.",
    "Contact.phone": "Phone number.",
    "Contact.address": "Postal address.",
    "Contact.url": "Web page or contact form.",
    # JurisdictionSettings
    "JurisdictionSettings.country": "ISO 3166 code of the country whose rules apply.",
    "JurisdictionSettings.child_consent_age": "Age from which a child consents to an online "
    "service itself, where it differs from the country's rule (Norway: 13, "
    "personopplysningsloven § 5). GDPR Art. 8(1) allows 13 to 16.",
    # Subject
    "Subject.id": "Id that purposes and `children` use to refer to this kind of subject.",
    "Subject.name": "Name shown in the policy, e.g. Customer / Kunde.",
    "Subject.description": "Who these people are.",
    "Subject.includes_children": "Whether some of these people may be children.",
    # Category
    "Category.id": "The category key: a built-in key, or the service's own dotted key such "
    "as `user.course.progress`.",
    "Category.name": "Name shown in the policy; required for a key that is not built in.",
    "Category.description": "What the category covers.",
    "Category.special": "Whether it is a special category (Art. 9) or criminal-offence data "
    "(Art. 10); built-in keys already know.",
    # LegitimateInterest
    "LegitimateInterest.interest": "The interest pursued (Art. 13(1)(d)).",
    "LegitimateInterest.balancing": "Summary of the balancing test: why the interest is not "
    "overridden by the person's interests, rights and freedoms.",
    # LegalObligation
    "LegalObligation.statute": "The law requiring the processing, e.g. bokføringsloven § 13.",
    "LegalObligation.description": "What the law requires, in plain words.",
    # ConsentSettings
    "ConsentSettings.expires_after": "How long a consent lasts before it is asked for again.",
    "ConsentSettings.explicit": "Whether explicit consent is asked for (Art. 9(2)(a), "
    "22(2)(c), 49(1)(a)).",
    "ConsentSettings.how_to_withdraw": "How the person withdraws consent, as the policy says it.",
    "ConsentSettings.on_withdrawal": "What withdrawing the consent does, in the service's own "
    "words (e.g. that it ends the customer relationship). The policy says it, and the portal "
    "shows it where a person withdraws (without it the portal says only that the processing "
    "stops).",
    # Marketing
    "Marketing.similar_products_only": "Whether the exception is limited to the company's "
    "own similar products or services, as markedsføringsloven § 15 requires.",
    "Marketing.existing_customer_exception": "Whether e-mail or SMS marketing to existing "
    "customers relies on the markedsføringsloven § 15 exception instead of consent.",
    "Marketing.opt_out_at_collection": "Whether the person could refuse marketing when the "
    "contact details were collected (a condition of the exception).",
    "Marketing.opt_out_in_every_message": "Whether every message offers a free and simple way "
    "to opt out (a condition of the exception).",
    # AutomatedDecisions
    "AutomatedDecisions.legal_or_similar_effect": "Whether the decisions have legal or "
    "similarly significant effects on the person (Art. 22(1)).",
    "AutomatedDecisions.logic": "Meaningful information about the logic involved "
    "(Art. 13(2)(f)).",
    "AutomatedDecisions.human_review": "Whether the person can have a human review the "
    "decision (Art. 22(3)).",
    # SpecialCategoryCondition
    "SpecialCategoryCondition.condition": "The Art. 9(2) condition: `explicit_consent` (a), "
    "`employment` (b), `vital_interests` (c), `foundation` (d), `made_public` (e), "
    "`legal_claims` (f), `substantial_public_interest` (g), `health_care` (h), "
    "`public_health` (i), `archiving` (j).",
    # Purpose
    "Purpose.id": "Id used to refer to the purpose (consent records, API calls).",
    "Purpose.name": "Name shown in the policy.",
    "Purpose.description": "What is done and why, in the policy's words.",
    "Purpose.legal_basis": "The GDPR Art. 6(1) basis: "
    + ", ".join(f"`{basis}` ({letter})" for basis, letter in LEGAL_BASIS_ARTICLE.items())
    + ".",
    "Purpose.legitimate_interest": "The interest and the balancing test, when the basis is "
    "`legitimate_interests`.",
    "Purpose.legal_obligation": "The statute, when the basis is `legal_obligation`.",
    "Purpose.consent": "How consent is asked for, when the basis is consent.",
    "Purpose.categories": "The data categories processed for this purpose.",
    "Purpose.subjects": "The kinds of subjects whose data is processed for this purpose.",
    "Purpose.recipients": "Recipients that receive data for this purpose.",
    "Purpose.marketing": "Present when the purpose is direct marketing.",
    "Purpose.profiling": "Whether the purpose involves profiling (Art. 4(4)).",
    "Purpose.automated_decisions": "Present when decisions are made solely by automated "
    "means (Art. 22).",
    "Purpose.special_categories": "The Art. 9(2) condition, when special categories are "
    "processed.",
    "Purpose.third_party_sharing": "Whether data is shared with third parties that are not "
    "processors for this purpose.",
    # RetentionCondition
    "RetentionCondition.id": "Id of the condition.",
    "RetentionCondition.description": "When the data is kept longer, e.g. during a complaint.",
    "RetentionCondition.requested_by_subject": "Whether it applies only when the person asks "
    "for it.",
    # RetentionRule
    "RetentionRule.id": "Id that purposes use to refer to the rule.",
    "RetentionRule.trigger": "The event the duration is counted from.",
    "RetentionRule.duration": "How long after the trigger the data is kept; `unlimited` keeps "
    "it.",
    "RetentionRule.action": "What happens when the time is up; `restrict` keeps the data but "
    "blocks all other use.",
    "RetentionRule.description": "The rule in the policy's words.",
    "RetentionRule.statute": "The law that sets the period, if any.",
    "RetentionRule.conditions": "Exceptions that keep data past its time.",
    # Transfer
    "Transfer.mechanism": "The safeguard: `adequacy` (Art. 45), `dpf` (EU-US Data Privacy "
    "Framework), `scc` (standard contractual clauses, Art. 46(2)(c)), `bcr` (binding corporate "
    "rules, Art. 47), `consent_derogation` or `contract_derogation` (Art. 49(1)(a) or (b)), "
    "or `none`.",
    # Recipient
    "Recipient.id": "Id that purposes and cookies use to refer to the recipient.",
    "Recipient.name": "The recipient's name, e.g. the company.",
    "Recipient.role": "`processor` (Art. 28), `sub_processor`, `controller` (an independent "
    "one), `joint_controller` (Art. 26) or `public_authority`.",
    "Recipient.service": "What the recipient does for the service, as the policy says it.",
    "Recipient.categories": "Data categories the recipient receives.",
    "Recipient.transfer": "The safeguard, when data leaves the EEA.",
    "Recipient.sub_processors": "What the data processing agreement says about "
    "sub-processors (Art. 28(2)).",
    "Recipient.privacy_policy": "Address of the recipient's own privacy policy.",
    # Cookie
    "Cookie.name": "The cookie's name as the browser shows it, or the pixel's name; per "
                   "language when it is a description (an unnamed group of cookies).",
    "Cookie.provider": "Who sets it: the service itself or a third party.",
    "Cookie.category": "What it is for; all but `necessary` need consent.",
    "Cookie.purpose": "What it is used for.",
    "Cookie.lifetime": "How long it lasts.",
    "Cookie.third_party": "Whether a third party sets or reads it.",
    "Cookie.joint_controller": "Whether the provider is joint controller for what it collects "
    "(as with social media pixels).",
    "Cookie.recipient": "The recipient that receives the data.",
    # CookieConsent
    "CookieConsent.mechanism": "How consent is asked for.",
    "CookieConsent.expires_after": "How long a choice is remembered before asking again.",
    # Channel
    "Channel.type": "The kind of channel.",
    "Channel.address": "Where to find it: web address, e-mail, postal address or phone number.",
    # ResponseDeadline
    "ResponseDeadline.months": "The deadline in calendar months.",
    # Rights
    "Rights.offered": "The rights the policy offers.",
    "Rights.channels": "Ways people can exercise their rights.",
    "Rights.deadline": "How soon requests are answered; the law allows at most one month, "
    "extendable by two (Art. 12(3)).",
    "Rights.identity_verification": "How the service verifies who is asking.",
    # Children
    "Children.present": "Whether children use the service or their data is processed.",
    "Children.guardian_consent": "Whether a parent or guardian consents for children under "
    "the consent age.",
    "Children.verification": "How guardian consent is verified (Art. 8(2)).",
    "Children.guardian_subject": "The subject that guardians are declared as.",
    "Children.erase_without_guardian_consent": "Erase every child under the consent age "
    "without a guardian's consent, contract data too (the daily retention sweep does it; "
    "`personvern children check` shows who); off: only `children check --erase` erases, "
    "and only children whose processing rests on a consent no guardian gave.",
    # PolicyChanges
    "PolicyChanges.notice_days": "Days between announcing a change and it taking effect.",
    "PolicyChanges.email_on_material_change": "Whether subjects get an e-mail about material "
    "changes.",
    "PolicyChanges.effective_from": "Date the current version takes effect.",
    # Dataset, Table, Column
    "Dataset.id": "Id of the dataset.",
    "Dataset.description": "What the database holds.",
    "Dataset.tables": "Tables that hold personal data.",
    "Table.name": "Table name.",
    "Table.columns": "Columns that hold personal data.",
    "Table.references": "References to other tables' keys; the walk from a person's "
    "identities follows them, over several hops (invoice -> purchase -> user).",
    "Dataset.kind": "sql: a database the engine reads and changes; http: the app answers "
    "access and erase calls; manual: a processor is asked by e-mail.",
    "Column.name": "Column name.",
    "Column.categories": "Data categories stored in the column.",
}

# Fields holding the id of another section's entry, by the model they point at.
REFERENCES: dict[str, str] = {
    "Purpose.subjects": "Subject",
    "Purpose.retention": "RetentionRule",
    "Purpose.recipients": "Recipient",
    "Cookie.recipient": "Recipient",
    "Children.guardian_subject": "Subject",
}

CATEGORY_ANCHOR = "built-in-data-categories"

INTRO = """\
# Manifest reference

<!-- Generated by `python -m personvern.manifest.reference` (`make docs`) from the schema
     in src/personvern/manifest/. Do not edit by hand: a test compares the two. -->

A Personvern manifest is one YAML file, usually `personvern.yaml`, in which a service
declares what personal data it processes, why, on which legal basis, for how long and who
receives it. Everything else — the privacy policy, the record of processing, consent
decisions, retention sweeps, data-subject requests — is derived from it.

`personvern check personvern.yaml` reads the file, reports every problem as
`file:line:column: path: message`, and then lints the content against GDPR and Norwegian
law. A file that cannot be read or does not fit this schema makes `check` exit with code 2.

## Rules of the file

- The first key is the schema version: `personvern: 1`.
- Keys are exactly those listed below; an unknown key is an error (with a "did you mean"
  hint for a misspelling), and so is a key given twice in the same mapping.
- Only `true` and `false` are booleans. `yes`, `no`, `on`, `off` and the country code
  `NO` stay text, so Norway is never read as "false".
- Dates are written `YYYY-MM-DD`. YAML tags such as `!!python/object` are refused.
- One document per file, UTF-8, at most {max_mb} MB; anchors and aliases may be used, but
  a document that expands to more than a small manifest ever needs is refused.
- Ids (of subjects, purposes, retention rules, recipients, datasets) are lower-case
  letters, digits, `_` and `-`, starting with a letter, and unique within their section.
  Every id a section refers to must be declared.
"""

TEXT_PROSE = """\
## Value types

### Text

Anything people read (names, descriptions, purposes) is a *text*: either a plain string,
which is language-neutral and used for every language (a product name, a URL), or a mapping
with one entry per language, `nb` (bokmål) and `en` (English):

```yaml
name: Leksehjelp                     # the same in every language
description:
  nb: Vi sender deg kvittering på e-post.
  en: We send you a receipt by e-mail.
```

Where a text is missing in a language, the neutral text (or the other language) is shown.
`personvern check` warns when a text the policy shows to people (names of subjects and
purposes, descriptions, what a recipient or cookie does) lacks one of the manifest's
`languages`, or is written once for all of them.
"""

DURATION_EXAMPLES = ("2 years", "6 months", "3 years 6 months", "14 days", "P14D", "unlimited")

VALUE_TYPES: tuple[tuple[str, str, str], ...] = (
    ("id", "`customer`, `email-marketing`",
     "Lower-case letters, digits, `_` and `-`, starting with a letter; at most 63 characters."),
    ("category key", "`user.contact.email`",
     f"A dotted key: one of the [built-in categories](#{CATEGORY_ANCHOR}), or a key the "
     "manifest declares under `categories`."),
    ("country code", "`NO`, `SE`, `US`", "ISO 3166-1 alpha-2, upper or lower case."),
    ("e-mail address", "`personvern@example.no`", "An address with one `@` and a domain."),
    ("date", "`2025-01-31`", "`YYYY-MM-DD`."),
    ("true or false", "`true`", "Only `true` and `false`."),
)

EXAMPLE = """\
personvern: 1
service:
  name: Leksehjelp
  url: https://leksehjelp.example.no
  description:
    nb: Leksehjelp på nett for elever i grunnskolen.
    en: Online homework help for school pupils.
controller:
  name: Leksehjelp AS
  orgnr: "923456783"
  address: Storgata 1, 0155 Oslo
  email: personvern@leksehjelp.example.no
  privacy_contact:
    name: Kari Nordmann
    email: personvern@leksehjelp.example.no
languages: [nb, en]
subjects:
  - id: customer
    name: {nb: Kunde, en: Customer}
  - id: pupil
    name: {nb: Elev, en: Pupil}
    includes_children: true
categories:
  - id: user.lessons
    name: {nb: Timer og notater, en: Lessons and notes}
purposes:
  - id: lessons
    name: {nb: Levere leksehjelp, en: Providing homework help}
    legal_basis: contract
    necessary_for_service: true
    categories: [user.name, user.contact.email, user.lessons]
    subjects: [customer, pupil]
    retention: after_last_activity
    recipients: [hosting]
  - id: bookkeeping
    name: {nb: Regnskap, en: Bookkeeping}
    legal_basis: legal_obligation
    legal_obligation:
      statute: bokføringsloven § 13
    categories: [user.name, user.payment]
    subjects: [customer]
    retention: bookkeeping
  - id: newsletter
    name: {nb: Nyhetsbrev, en: Newsletter}
    legal_basis: consent
    consent:
      how_to_withdraw: {nb: Lenke i hver e-post., en: A link in every e-mail.}
    marketing:
      channels: [email]
      opt_out_in_every_message: true
    categories: [user.contact.email]
    subjects: [customer]
    retention: until_withdrawn
retention:
  - id: after_last_activity
    trigger: last_activity
    duration: 2 years
    notice_before: 30 days
  - id: bookkeeping
    trigger: fiscal_year_end
    duration: 5 years
    bookkeeping: true
    statute: bokføringsloven § 13
  - id: until_withdrawn
    trigger: consent_withdrawn
    duration: 0 days
recipients:
  - id: hosting
    name: Example Cloud AB
    service: {nb: Drift og lagring, en: Hosting and storage}
    country: SE
    dpa_signed: 2024-05-02
    sub_processors: general_authorisation
cookies:
  - name: session
    provider: leksehjelp.example.no
    category: necessary
    purpose: {nb: Holder deg innlogget, en: Keeps you signed in}
    lifetime: session
rights:
  offered: [access, rectification, erasure, restriction, objection, portability,
            withdraw_consent]
  channels:
    - type: portal
      address: https://leksehjelp.example.no/personvern
    - type: email
      address: personvern@leksehjelp.example.no
  deadline: {months: 1}
children:
  present: true
  guardian_consent: true
  guardian_subject: customer
policy_changes:
  notice_days: 30
  email_on_material_change: true
security:
  nb: Data krypteres under overføring og lagring.
  en: Data is encrypted in transit and at rest.
"""


# ---- walking the models ------------------------------------------------------

def models_in_order(root: type[BaseModel] = Manifest) -> list[type[BaseModel]]:
    """``root`` and every model nested in it, depth first, in order of appearance."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            nested = submodel(field.annotation)
            if nested is not None:
                visit(nested)

    visit(root)
    return seen


def _places(models: list[type[BaseModel]]) -> dict[type[BaseModel], list[str]]:
    """Where each model appears in a manifest, as ``purposes[].consent`` paths."""
    places: dict[type[BaseModel], list[str]] = {Manifest: []}

    def visit(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            nested = submodel(field.annotation)
            if nested is None:
                continue
            path = f"{prefix}.{name}" if prefix else name
            if _is_list(field.annotation):
                path += "[]"
            places.setdefault(nested, []).append(path)
            visit(nested, path)

    visit(Manifest, "")
    return {m: places.get(m, []) for m in models}


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is list:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return False


def title(model: type[BaseModel]) -> str:
    """``RetentionRule`` as ``Retention rule``."""
    words = re.findall(r"[A-Z][a-z]*", model.__name__)
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def _link(model: type[BaseModel]) -> str:
    return f"[{title(model)}](#{anchor(title(model))})"


def description(model: type[BaseModel], name: str) -> str:
    """A field's description: its ``Field(description=...)``, else :data:`DESCRIPTIONS`."""
    given = model.model_fields[name].description
    text = given or DESCRIPTIONS.get(f"{model.__name__}.{name}", "")
    text = text.strip()
    if text and not text.endswith((".", "?", "!")):
        text += "."
    return text[:1].upper() + text[1:]


# ---- types in words ------------------------------------------------------------

def _validator_names() -> dict[Any, tuple[str, str]]:
    """The checking function of each constrained string type, with its noun forms."""
    names: dict[Any, tuple[str, str]] = {}
    for alias, forms in (
        (Id, ("id", "ids")),
        (CategoryKey, ("category key", "category keys")),
        (Email, ("e-mail address", "e-mail addresses")),
        (Country, ("country code", "country codes")),
    ):
        for meta in typing.get_args(alias)[1:]:
            if isinstance(meta, AfterValidator):
                names[meta.func] = forms
    return names


_STRING_KINDS = _validator_names()


def _bounds(metadata: list[Any]) -> str:
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" ≥ {low}"
    if high is not None:
        return f" ≤ {high}"
    return ""


def type_words(
    annotation: Any, metadata: list[Any], *, plural: bool = False, ref: str | None = None
) -> str:
    """``annotation`` in words a manifest author reads, e.g. "list of category keys"."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return type_words(base, [*metadata, *extra], plural=plural, ref=ref)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(type_words(a, metadata, plural=plural, ref=ref) for a in args)
    if origin is Literal:
        values = [f"`{_yaml_value(v)}`" for v in typing.get_args(annotation)]
        if len(values) == 1:
            return values[0]
        return ("each one of: " if plural else "one of: ") + ", ".join(values)
    if origin is list:
        (item,) = typing.get_args(annotation)
        items = type_words(item, [], plural=True, ref=ref)
        least = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)),
                     0)
        size = f" (at least {least})" if least else ""
        if items.startswith("each one of"):
            return f"list{size}, {items}"
        return f"list{size} of {items}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation is Text:
            return "texts (nb/en)" if plural else "text (nb/en)"
        return f"{'mappings' if plural else 'mapping'} → see {_link(annotation)}"
    if annotation is Duration:
        return "durations" if plural else "duration"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return ("whole numbers" if plural else "whole number") + _bounds(metadata)
    if annotation is date:
        return "dates" if plural else "date"
    if annotation is str:
        for meta in metadata:
            forms = _STRING_KINDS.get(getattr(meta, "func", None))
            if forms is None:
                continue
            if forms[0] == "id" and ref is not None:
                target = _MODELS_BY_NAME[ref]
                noun = f"{title(target).lower()} {forms[1] if plural else forms[0]}"
                return f"{noun} → see {_link(target)}"
            if forms[0] == "category key":
                noun = forms[1] if plural else forms[0]
                return f"{noun} → see [Built-in data categories](#{CATEGORY_ANCHOR})"
            return forms[1] if plural else forms[0]
        return "strings" if plural else "string"
    return str(annotation)


_MODELS_BY_NAME: dict[str, type[BaseModel]] = {m.__name__: m for m in models_in_order()}


def _yaml_value(value: Any) -> str:
    """A default value as it would be written in YAML flow style."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def default_words(field: FieldInfo) -> str:
    """The "required or default" cell of a field."""
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "optional"
    if isinstance(value, BaseModel):
        changed = value.model_dump(mode="json", exclude_defaults=True)
        return f"`{_yaml_value(changed)}`" if changed else "each key's default"
    return f"`{_yaml_value(value)}`"


# ---- rendering -----------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _accepts_single(field: FieldInfo) -> bool:
    """Whether a list field also takes one value written alone (``retention: account``)."""
    if not _is_list(field.annotation):
        return False
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[(annotation, *field.metadata)]
    try:
        TypeAdapter(annotation).validate_python("a")
    except ValidationError:
        return False
    return True


def _section(model: type[BaseModel], places: list[str]) -> Iterator[str]:
    yield f"## {title(model)}"
    yield ""
    if places:
        yield "At " + ", ".join(f"`{p}`" for p in places) + "."
        yield ""
    doc = (model.__doc__ or "").strip()
    if doc:
        yield doc
        yield ""
    yield "| Key | Type | Required / default | Description |"
    yield "|---|---|---|---|"
    for name, field in model.model_fields.items():
        ref = REFERENCES.get(f"{model.__name__}.{name}")
        kind = type_words(field.annotation, list(field.metadata), ref=ref)
        if _accepts_single(field):
            kind += "; one may be written alone, without brackets"
        cells = [f"`{name}`", kind, default_words(field), description(model, name)]
        yield "| " + " | ".join(_cell(c) for c in cells) + " |"
    yield ""


def _durations() -> Iterator[str]:
    yield "### Durations"
    yield ""
    yield ("A *duration* is a calendar length in years, months and days, written in words "
           "(English or Norwegian) or in ISO 8601. A number without a unit is refused, since "
           "the unit would be a guess.")
    yield ""
    yield "| Written | Read as |"
    yield "|---|---|"
    for example in DURATION_EXAMPLES:
        yield f"| `{example}` | {Duration.parse(example)} |"
    yield ""
    units: dict[str, list[str]] = {}
    for word, unit in _UNITS.items():
        units.setdefault(unit, []).append(f"`{word}`")
    yield "Units (several may be combined, separated by spaces, commas, `and` or `og`):"
    yield ""
    for unit, words in units.items():
        yield f"- {unit}: {', '.join(words)}"
    yield ("- ISO 8601: `P1Y`, `P6M`, `P2W`, `P14D`, `P1Y6M` (years, months, weeks, days; "
           "no times)")
    yield "- no end: " + ", ".join(f"`{w}`" for w in sorted(UNLIMITED_WORDS))
    yield ""


def _value_types() -> Iterator[str]:
    yield "### Other values"
    yield ""
    yield "| Type | Example | Written as |"
    yield "|---|---|---|"
    for name, example, rule in VALUE_TYPES:
        yield f"| {name} | {example} | {rule} |"
    yield ""


def _categories() -> Iterator[str]:
    yield "## Built-in data categories"
    yield ""
    yield ("These keys can be used in `categories` lists without being declared. Their names "
           "appear in the privacy policy, and each maps to a concept of the W3C Data Privacy "
           "Vocabulary (`pd:` is https://w3id.org/dpv/pd#). *Special* marks the categories "
           "of GDPR Art. 9(1), and criminal-offence data (Art. 10), which need an Art. 9(2) "
           "condition or a statute. A service adds its own keys under "
           "[`categories`](#category), with names.")
    yield ""
    yield "| Key | Bokmål | English | DPV | Special |"
    yield "|---|---|---|---|---|"
    for c in BUILTIN_CATEGORIES.values():
        yield (f"| `{c.key}` | {c.nb} | {c.en} | {f'`{c.dpv}`' if c.dpv else '—'} | "
               f"{'yes' if c.special else ''} |")
    yield ""


def _contents(models: list[type[BaseModel]]) -> Iterator[str]:
    yield "## Contents"
    yield ""
    yield "- [Value types](#value-types)"
    yield f"- [Built-in data categories](#{CATEGORY_ANCHOR})"
    yield "- [A complete example](#a-complete-example)"
    yield "- Sections: " + ", ".join(_link(m) for m in models)
    yield ""


def render_reference() -> str:
    """The whole of docs/manifest.md."""
    models = models_in_order()
    places = _places(models)
    lines: list[str] = [INTRO.replace("{max_mb}", f"{DEFAULT_MAX_BYTES // 1_048_576}")]
    lines.extend(_contents(models))
    lines.append(TEXT_PROSE)
    lines.extend(_durations())
    lines.extend(_value_types())
    lines.extend(_categories())
    lines.extend([
        "## A complete example", "",
        "A small service with pupils under the consent age, bookkeeping and a newsletter:",
        "", "```yaml", EXAMPLE.rstrip("\n"), "```", "",
    ])
    for model in models:
        lines.extend(_section(model, places[model]))
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    # Bytes, so the file is UTF-8 whatever the terminal's encoding.
    sys.stdout.buffer.write(render_reference().encode("utf-8"))
