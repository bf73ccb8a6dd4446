"""The privacy policy, written from the manifest in bokmål and English, as HTML and Markdown.

Writing happens in two steps. :class:`PolicyWriter` turns the manifest into a small document
model (sections of paragraphs, lists, fact lists and tables, made of text runs) in one
language. Every sentence comes from that language's phrase catalogue
(``templates/nb.yaml``, ``templates/en.yaml``), and each is chosen by what the manifest
says, so none is false for it: "we transfer nothing outside the EEA" appears only when
every recipient's country is in the EEA, and the rights listed are those the legal bases
give (:func:`personvern.rights.basis.rights_given`). Then one Jinja2 template per
format writes the model: HTML autoescaped, Markdown escaped by its own filter. Both
formats therefore carry the same content.

A manifest missing an element Art. 13/14 requires is refused (``InvalidInput`` listing
what is missing); ``draft=True`` writes it anyway, marked as a draft, with each gap shown
where the text would be. Drafts are for authors; :func:`personvern.policy.versions.publish`
never publishes one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from string import Formatter
from typing import Any, ClassVar, Literal, cast
from zoneinfo import ZoneInfo

from personvern.errors import InvalidInput
from personvern.escaping import md_escape
from personvern.law import Jurisdiction, get_jurisdiction, is_eea
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.model import (
    LEGAL_BASIS_ARTICLE,
    Channel,
    Contact,
    Manifest,
    Purpose,
    Recipient,
    RetentionRule,
)
from personvern.manifest.types import Duration, Text
from personvern.policy.completeness import (
    ELEMENTS,
    Missing,
    describe_missing,
    missing_elements,
    transfer_safeguard_missing,
)
from personvern.rights.acting import consent_age
from personvern.rights.basis import RIGHTS, Objection, objection, rights_given

Lang = Literal["nb", "en"]
Fmt = Literal["html", "md"]
LANGS: tuple[Lang, ...] = ("nb", "en")
FORMATS: tuple[Fmt, ...] = ("html", "md")
TEMPLATES = Path(__file__).parent / "templates"

_SAFE_HREF = re.compile(r"^(https?://|mailto:|tel:|#)", re.IGNORECASE)


# ---- the document model ----------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """A piece of text: plain, a link, bold, or a gap marker in a draft."""

    text: str
    href: str | None = None
    strong: bool = False
    missing: bool = False


Inline = tuple[Run, ...]
Value = str | Run | Sequence[Run]


@dataclass
class Paragraph:
    """A paragraph of runs."""

    runs: Inline
    kind: ClassVar[str] = "p"


@dataclass
class Bullets:
    """An unordered list."""

    items: list[Inline]
    kind: ClassVar[str] = "ul"


@dataclass
class Facts:
    """Label-value pairs (a definition list in HTML)."""

    items: list[tuple[str, Inline]]
    kind: ClassVar[str] = "dl"


@dataclass
class Table:
    """A table with a caption, column headers, and rows whose first cell heads the row."""

    caption: str
    headers: list[str]
    rows: list[list[Inline]]
    kind: ClassVar[str] = "table"


@dataclass
class Subsection:
    """A titled part of a section (one purpose, one right)."""

    id: str
    heading: str
    blocks: list[Block]
    kind: ClassVar[str] = "sub"


Block = Paragraph | Bullets | Facts | Table | Subsection


@dataclass
class Section:
    """A top-level section with its anchor id."""

    id: str
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """The whole policy in one language, ready for a format template."""

    lang: str
    title: str
    meta: list[str]
    toc_label: str
    lead: list[Inline]
    sections: list[Section]
    draft_title: str | None = None
    draft_lead: str | None = None
    draft_items: list[str] = field(default_factory=list)


# ---- phrases ---------------------------------------------------------------------

@functools.cache
def _catalogue(lang: str) -> dict[str, Any]:
    import yaml

    with (TEMPLATES / f"{lang}.yaml").open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def _runs(value: Value) -> Inline:
    if isinstance(value, str):
        return (Run(value),) if value else ()
    if isinstance(value, Run):
        return (value,)
    return tuple(value)


def capitalise(runs: Inline) -> Inline:
    """The runs with the first letter upper-cased (a cell or a sentence start)."""
    if not runs or not runs[0].text:
        return runs
    first = runs[0]
    text = first.text[0].upper() + first.text[1:]
    return (Run(text, first.href, first.strong, first.missing), *runs[1:])


class Phrases:
    """The phrase catalogue of one language, and the small grammar around it."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.data = _catalogue(lang)

    def get(self, key: str) -> Any:
        """The raw catalogue entry at a dotted ``key``."""
        node: Any = self.data
        for part in key.split("."):
            node = node[part]
        return node

    def text(self, key: str, **values: object) -> str:
        """A phrase as plain text, its fields filled in."""
        return str(self.get(key)).format(**values)

    def say(self, key: str, **values: Value) -> Inline:
        """A phrase as runs: fields may be links or other runs, kept as they are."""
        out: list[Run] = []
        for literal, name, _spec, _conv in Formatter().parse(str(self.get(key))):
            if literal:
                out.append(Run(literal))
            if name is not None:
                out.extend(_runs(values[name]))
        return tuple(out)

    def join(self, items: Sequence[Value], conj: str = "and") -> Inline:
        """``a, b and c`` in this language (``conj`` is "and" or "or")."""
        parts = [_runs(i) for i in items if _runs(i)]
        out: list[Run] = []
        for n, part in enumerate(parts):
            if n and n == len(parts) - 1:
                out.append(Run(f" {self.get(conj)} "))
            elif n:
                out.append(Run(self.get("list_sep")))
            out.extend(part)
        return tuple(out)

    def plain_join(self, items: Sequence[str], conj: str = "and") -> str:
        """:meth:`join` for plain strings."""
        return "".join(r.text for r in self.join(items, conj))

    def number(self, n: int) -> str:
        """A number in words up to twelve, as house style writes running text."""
        words: list[str | None] = self.get("numbers")
        word = words[n] if 0 < n < len(words) else None
        return word or str(n)

    def amount(self, unit: str, n: int, *, words: bool = True) -> str:
        """``to år``, ``6 months``, ``14 virkedager``."""
        forms = self.get(f"units.{unit}")
        if n == 1:
            return str(forms["one"])
        return str(forms["many"]).format(n=self.number(n) if words else n)

    def duration(self, d: Duration, *, words: bool = True) -> str:
        """A duration in words: ``to år``, ``three years and six months``."""
        if d.unlimited:
            return str(self.get("unlimited"))
        parts = [
            self.amount(unit, n, words=words)
            for unit, n in (("years", d.years), ("months", d.months), ("days", d.days)) if n
        ]
        return self.plain_join(parts) if parts else self.amount("days", 0, words=words)

    def date(self, d: date) -> str:
        """``1. mars 2027`` / ``1 March 2027``."""
        return self.text("date", day=d.day, month=self.get("months")[d.month - 1], year=d.year)

    def country(self, code: str) -> str:
        """The country's name, or its ISO code when the catalogue has none."""
        return str(self.get("countries").get(code, code))


def link(text: str, href: str | None) -> Run:
    """A link run; an address that is not http(s), mailto, tel or an anchor stays text."""
    if href is not None and _SAFE_HREF.match(href):
        return Run(text, href)
    return Run(text)


def url_run(value: str) -> Run:
    """A web address as a link; bare domains get https://."""
    href = value if "://" in value else f"https://{value}"
    return link(value, href if " " not in value else None)


# ---- the writer ------------------------------------------------------------------

class PolicyWriter:
    """Builds the :class:`Document` for one manifest in one language."""

    def __init__(self, m: Manifest, lang: str, missing: list[Missing],
                 version: int | None, effective: date | None) -> None:
        self.m = m
        self.lang = lang
        self.p = Phrases(lang)
        self.j: Jurisdiction = get_jurisdiction(m.jurisdiction.country)
        self.missing = missing
        self.version = version
        self.effective = effective
        self.categories = {c.id: c for c in m.categories}
        self.subjects = {s.id: s for s in m.subjects}
        self.recipients = {r.id: r for r in m.recipients}

    # small helpers

    def t(self, text: Text | None) -> str:
        return "" if text is None else text.get(self.lang)

    def gap(self, element: str) -> Inline:
        e = ELEMENTS[element]
        what = e.nb if self.lang == "nb" else e.en
        return (Run(self.p.text("missing", what=what), missing=True),)

    def category_name(self, key: str) -> str:
        declared = self.categories.get(key)
        if declared is not None and declared.name is not None:
            return self.t(declared.name)
        builtin = BUILTIN_CATEGORIES.get(key)
        if builtin is not None:
            return builtin.nb if self.lang == "nb" else builtin.en
        return key

    def names(self, names: Sequence[str], *, lower: bool = True) -> str:
        """``Navn, e-postadresse og telefonnummer``; ``;`` between items holding "og"."""
        items = [n for n in names if n]
        if lower:
            items = items[:1] + [_lower_first(n) for n in items[1:]]
        conj = f" {self.p.get('and')} "
        if any(conj in n for n in items):
            return "; ".join(items)
        return self.p.plain_join(items)

    def quoted(self, name: str) -> str:
        return f"«{name}»" if self.lang == "nb" else f"“{name}”"

    def heading(self, key: str) -> str:
        return self.p.text(key)

    def contacts(self, c: Contact | None, *, email: str | None = None,
                 phone: str | None = None, address: str | None = None,
                 url: str | None = None) -> Inline:
        """How to reach someone: ``på e-post x eller på telefon y``."""
        if c is not None:
            email, phone, address, url = c.email, c.phone, c.address, c.url
        parts: list[Inline] = []
        if email:
            parts.append(self.p.say("reach_email", value=link(email, f"mailto:{email}")))
        if phone:
            tel = "tel:" + re.sub(r"[^\d+]", "", phone)
            parts.append(self.p.say("reach_phone", value=link(phone, tel)))
        if address:
            parts.append(self.p.say("reach_address", value=address))
        if url:
            parts.append(self.p.say("reach_url", value=url_run(url)))
        return self.p.join(parts, "or")

    def controller_contacts(self) -> Inline:
        c = self.m.controller
        return self.contacts(None, email=c.email, phone=c.phone, address=c.address,
                             url=c.website)

    # sections

    def document(self) -> Document:
        p, m = self.p, self.m
        meta = []
        if self.version is not None:
            meta.append(p.text("meta_version", version=self.version))
        if self.effective is not None:
            meta.append(p.text("meta_effective", date=p.date(self.effective)))
        lead = [p.say("intro", controller=m.controller.name, service=m.service.name)]
        if m.service.description is not None:
            lead.append(_runs(self.t(m.service.description)))
        lead.append(p.say("articles_note"))
        sections = [
            self.controller_section(), self.purposes_section(), self.categories_section(),
            self.retention_section(), self.recipients_section(), self.cookies_section(),
            self.children_section(), self.automated_section(), self.rights_section(),
            self.complaint_section(), self.security_section(), self.changes_section(),
        ]
        doc = Document(self.lang, p.text("title", service=m.service.name), meta,
                       p.text("toc"), lead, [s for s in sections if s is not None])
        if self.missing:
            doc.draft_title = p.text("draft_title")
            doc.draft_lead = p.text("draft_lead")
            doc.draft_items = [
                p.text("draft_item", what=getattr(ELEMENTS[x.element], self.lang),
                       path=x.path, article=x.article)
                for x in self.missing
            ]
        return doc

    def controller_section(self) -> Section:
        p, c = self.p, self.m.controller
        orgnr = f"{c.orgnr[:3]} {c.orgnr[3:6]} {c.orgnr[6:]}"
        s = Section("controller", self.heading("controller_heading"))
        s.blocks.append(Paragraph(p.say("controller_is", controller=c.name, orgnr=orgnr)))
        items: list[Inline] = []
        if c.email:
            items.append(p.say("contact_email", value=link(c.email, f"mailto:{c.email}")))
        if c.phone:
            tel = "tel:" + re.sub(r"[^\d+]", "", c.phone)
            items.append(p.say("contact_phone", value=link(c.phone, tel)))
        if c.address:
            items.append(p.say("contact_address", value=c.address))
        if c.website:
            items.append(p.say("contact_website", value=url_run(c.website)))
        if not (c.email or c.phone or c.address):
            items.append(self.gap("controller_contact"))
        s.blocks += [Paragraph(p.say("contact_lead")), Bullets(items)]
        if c.dpo is not None:
            reach = self.contacts(c.dpo) or self.gap("dpo_contact")
            key = "dpo_named" if c.dpo.name else "dpo_unnamed"
            s.blocks.append(Paragraph(p.say(key, name=c.dpo.name or "", contacts=reach)))
        if c.privacy_contact is not None:
            pc = c.privacy_contact
            runs = list(p.say("privacy_contact_named", name=pc.name) if pc.name
                        else p.say("privacy_contact_unnamed"))
            reach = self.contacts(pc)
            runs.append(Run(" "))
            runs += (p.say("privacy_contact_reach", contacts=reach) if reach
                     else p.say("privacy_contact_via_us"))
            s.blocks.append(Paragraph(tuple(runs)))
        if c.representative is not None:
            rep = c.representative
            s.blocks.append(Paragraph(p.say("representative", name=rep.name or "",
                                            contacts=self.contacts(rep))))
        return s

    # purposes

    def basis_label(self, purpose: Purpose) -> Inline:
        p, basis = self.p, purpose.legal_basis
        if basis is None:
            return self.gap("legal_basis")
        article = p.text("basis_article", letter=LEGAL_BASIS_ARTICLE[basis])
        name = p.text(f"basis.{basis}")
        statute = purpose.legal_obligation.statute if purpose.legal_obligation else None
        if basis == "legal_obligation" and statute:
            return p.say("basis_with_statute", basis=name, statute=statute, article=article)
        return p.say("basis_with_article", basis=name, article=article)

    def retention_of(self, rule_ids: Sequence[str]) -> Inline:
        """``Slettes når du trekker samtykket eller to år etter siste aktivitet, ...``."""
        rules = [r for r in (self.m.retention_rule(i) for i in rule_ids) if r is not None]
        if not rules:
            return self.gap("retention")
        p = self.p
        same_action = len({r.action for r in rules}) == 1
        parts: list[str] = []
        for n, r in enumerate(rules):
            phrase = self.rule_phrase(r)
            if same_action and n:
                phrase = phrase.removeprefix(p.text(f"action.{r.action}") + " ")
            parts.append(phrase)
        text = p.plain_join(parts, "or")
        if len(rules) > 1:
            text += ", " + p.text("whichever_first")
        return capitalise((Run(text),))

    def rule_phrase(self, r: RetentionRule) -> str:
        """One rule in words: ``slettes to år etter siste aktivitet``."""
        p = self.p
        action = p.text(f"action.{r.action}")
        if r.duration.unlimited:
            return p.text("retention_unlimited")
        withdrawal = p.amount("days", self.j.withdrawal_period_days)
        zero = r.duration == Duration()
        if zero:
            phrase = p.text("retention_when", action=action,
                            trigger=p.text(f"trigger_when.{r.trigger}"))
            if r.plus_withdrawal_period:
                phrase += " " + p.text("retention_withdrawal", days=withdrawal)
        else:
            phrase = p.text("retention_after", action=action, duration=p.duration(r.duration),
                            trigger=p.text(f"trigger_after.{r.trigger}"))
            if r.plus_withdrawal_period:
                phrase += " " + p.text("retention_withdrawal_after", days=withdrawal)
        if r.statute:
            phrase += " " + p.text("retention_statute", statute=r.statute)
        return phrase

    def required(self, purpose: Purpose) -> Inline:
        """Art. 13(2)(e): whether the person must provide the data, and what if not."""
        basis, needed = purpose.legal_basis, purpose.necessary_for_service
        if purpose.required is not None:
            if basis == "contract":
                key = "contract_yes" if purpose.required else "contract_no"
            elif basis == "legal_obligation" and purpose.required:
                key = "law_yes"
            else:
                key = "plain_yes" if purpose.required else "plain_no"
        elif basis == "contract":
            key = "contract_yes" if needed else "contract_no"
        elif basis == "legal_obligation":
            key = "law_yes"
        elif basis == "consent":
            key = "consent_needed" if needed else "consent_free"
        elif basis is None:
            return self.gap("legal_basis")
        else:
            key = "other_no"
        return self.p.say(f"required.{key}")

    def purposes_section(self) -> Section:
        p, m = self.p, self.m
        s = Section("purposes", self.heading("purposes_heading"))
        if not m.purposes:
            s.blocks.append(Paragraph(self.gap("purposes")))
            return s
        s.blocks.append(Paragraph(p.say("purposes_lead")))
        rows = [
            [(link(self.t(x.name), f"#purpose-{x.id}"),), self.basis_label(x),
             self.retention_of(x.retention)]
            for x in m.purposes
        ]
        s.blocks.append(Table(p.text("purposes_caption"), list(p.get("purposes_headers")), rows))
        s.blocks += [self.purpose_detail(x) for x in m.purposes]
        return s

    def purpose_detail(self, x: Purpose) -> Subsection:
        p = self.p
        blocks: list[Block] = []
        if x.description is not None:
            blocks.append(Paragraph(_runs(self.t(x.description))))
        facts: list[tuple[str, Inline]] = [(p.text("fact_basis"), self.basis_label(x))]
        if x.legal_basis == "legitimate_interests":
            li = x.legitimate_interest
            facts.append((p.text("fact_interest"),
                          _runs(self.t(li.interest)) if li else self.gap("legitimate_interest")))
            if li is not None and li.balancing is not None:
                facts.append((p.text("fact_balancing"), _runs(self.t(li.balancing))))
        if x.special_categories is not None:
            letter, name = p.get(f"art9.{x.special_categories.condition}")
            facts.append((p.text("fact_special"),
                          p.say("special_condition", letter=letter, name=name)))
        elif any(e.element == "special_condition" and e.loc[1:2] == (self.m.purposes.index(x),)
                 for e in self.missing):
            facts.append((p.text("fact_special"), self.gap("special_condition")))
        categories = [self.category_name(k) for k in x.categories]
        facts.append((p.text("fact_categories"),
                      _runs(self.names(categories)) if categories else self.gap("categories")))
        if x.subjects:
            names = [self.t(self.subjects[i].name) for i in x.subjects if i in self.subjects]
            facts.append((p.text("fact_subjects"), _runs(self.names(names))))
        facts.append((p.text("fact_retention"), self.retention_of(x.retention)))
        if x.recipients:
            names = [self.recipients[i].name for i in x.recipients if i in self.recipients]
            facts.append((p.text("fact_recipients"), _runs(self.names(names, lower=False))))
        elif x.third_party_sharing:
            facts.append((p.text("fact_recipients"), self.gap("recipients")))
        if x.marketing is not None and x.marketing.channels:
            channels = [p.text(f"channels.{c}") for c in x.marketing.channels]
            facts.append((p.text("fact_marketing"), capitalise(_runs(self.names(channels)))))
        if x.profiling:
            facts.append((p.text("fact_profiling"), p.say(
                "profiling_yes", section=link(self.heading("automated_heading"), "#automated"))))
        facts.append((p.text("fact_required"), self.required(x)))
        blocks.append(Facts(facts))
        blocks += [Paragraph(runs) for runs in self.basis_text(x)]
        return Subsection(f"purpose-{x.id}", self.t(x.name), blocks)

    def basis_text(self, x: Purpose) -> list[Inline]:
        """The sentences that explain the basis: consent and withdrawal, the law, objection."""
        p = self.p
        rights = link(self.heading("rights_heading"), "#rights")
        out: list[Inline] = []
        if x.legal_basis == "consent":
            sentences = [p.say("consent_text")]
            c = x.consent
            if c is not None and c.bundled:
                sentences.append(p.say("consent_bundled"))
            if c is not None and c.explicit:
                sentences.append(p.say("consent_explicit"))
            if c is not None and c.expires_after is not None:
                sentences.append(p.say("consent_expires", duration=p.duration(c.expires_after)))
            if c is not None and c.how_to_withdraw is not None:
                sentences.append(p.say("consent_how", how=self.t(c.how_to_withdraw)))
            else:
                sentences.append(p.say("consent_how_channels",
                                       channels=self.how("withdraw_consent")))
            out.append(_sentences(sentences))
        elif x.legal_basis == "contract":
            out.append(p.say("contract_text"))
        elif x.legal_basis == "legal_obligation":
            lo = x.legal_obligation
            sentences = [p.say("obligation_statute_text", statute=lo.statute) if lo
                         else p.say("obligation_text")]
            if lo is not None and lo.description is not None:
                sentences.append(_runs(self.t(lo.description)))
            out.append(_sentences(sentences))
        elif x.legal_basis == "vital_interests":
            out.append(p.say("vital_text"))
        elif x.legal_basis == "public_task":
            out.append(p.say("public_text"))
        elif x.legal_basis == "legitimate_interests":
            out.append(p.say("interest_text", rights=rights))
        mk = x.marketing
        if mk is not None:
            sentences = []
            if mk.existing_customer_exception and x.legal_basis != "consent":
                sentences.append(p.say("marketing_existing",
                                       statute=self.j.marketing_source.citation))
                if mk.similar_products_only:
                    sentences.append(p.say("marketing_similar"))
                if mk.opt_out_at_collection:
                    sentences.append(p.say("marketing_opt_out_collection"))
            else:
                sentences.append(p.say("marketing_objection"))
            if mk.opt_out_in_every_message:
                sentences.append(p.say("marketing_opt_out_message"))
            out.append(_sentences(sentences))
        if x.third_party_sharing and x.recipients:
            out.append(p.say("sharing_text",
                             section=link(self.heading("recipients_heading"), "#recipients")))
        return out

    # data

    def categories_section(self) -> Section:
        p, m = self.p, self.m
        s = Section("data", self.heading("categories_heading"))
        keys: list[str] = []
        for x in m.purposes:
            keys += [k for k in x.categories if k not in keys]
        keys += [c.id for c in m.categories if c.id not in keys]
        rows = []
        for key in keys:
            declared = self.categories.get(key)
            detail = self.t(declared.description) if declared else ""
            builtin = BUILTIN_CATEGORIES.get(key)
            special = declared.special if declared and declared.special is not None else (
                builtin.special if builtin else False)
            if special:
                detail = f"{detail} {p.text('special_mark')}".strip()
            source = (self.t(declared.source) if declared and declared.source
                      else p.text("source_you"))
            rows.append([_runs(self.category_name(key)), _runs(detail), _runs(source)])
        if rows:
            s.blocks.append(Paragraph(p.say("categories_lead")))
            s.blocks.append(Table(p.text("categories_caption"),
                                  list(p.get("categories_headers")), rows))
        else:
            s.blocks.append(Paragraph(self.gap("categories")))
        if m.subjects:
            s.blocks.append(Paragraph(p.say("subjects_lead")))
            items = []
            for subj in m.subjects:
                runs: list[Run] = [Run(self.t(subj.name), strong=True)]
                if subj.description is not None:
                    runs.append(Run(f": {self.t(subj.description)}"))
                items.append(tuple(runs))
            s.blocks.append(Bullets(items))
        return s

    def retention_section(self) -> Section:
        p, m = self.p, self.m
        s = Section("retention", self.heading("retention_heading"))
        s.blocks.append(Paragraph(p.say("retention_lead")))
        rows = []
        for r in m.retention:
            users = [self.t(x.name) for x in m.purposes if r.id in x.retention]
            notes = [self.t(r.description)] if r.description else []
            notes += [p.text("retention_exception", text=self.t(c.description))
                      for c in r.conditions]
            if r.notice_before is not None:
                notes.append(p.text("retention_notice", duration=p.duration(r.notice_before)))
            rows.append([capitalise(_runs(self.rule_phrase(r))),
                         _runs(self.names(users)), _runs(" ".join(_period(n) for n in notes))])
        for x in m.purposes:
            if not x.retention:
                rows.append([self.gap("retention"), _runs(self.t(x.name)), ()])
        if rows:
            s.blocks.append(Table(p.text("retention_caption"),
                                  list(p.get("retention_headers")), rows))
        return s

    # recipients

    def safeguard(self, r: Recipient) -> str | None:
        """The transfer safeguard in words; None when one is needed but not given."""
        p = self.p
        mechanism = r.transfer.mechanism if r.transfer else None
        if transfer_safeguard_missing(r.country, mechanism):
            return None
        if r.country is not None and is_eea(r.country):
            return p.text("in_eea")
        if mechanism is not None:
            return p.text(f"mechanism.{mechanism}")
        return p.text("not_stated")

    def transfer_cell(self, r: Recipient) -> Inline:
        text = self.safeguard(r)
        if text is None:
            return self.gap("transfer_safeguard")
        if r.transfer is not None and r.transfer.note is not None:
            text = f"{_period(text)} {self.t(r.transfer.note)}"
        return _runs(text)

    def recipients_section(self) -> Section:
        p, m = self.p, self.m
        s = Section("recipients", self.heading("recipients_heading"))
        if not m.recipients:
            s.blocks.append(Paragraph(p.say("recipients_none")))
            return s
        s.blocks.append(Paragraph(p.say("recipients_lead")))
        rows = []
        for r in m.recipients:
            what: list[Run] = [Run(_period(self.t(r.service)))]
            purposes = [self.t(x.name) for x in m.purposes if r.id in x.recipients]
            if purposes:
                what.append(Run(" " + p.text("for_purposes", purposes=self.names(purposes))))
            if isinstance(r.dpa_signed, date):
                what.append(Run(" " + p.text("dpa_dated", date=p.date(r.dpa_signed))))
            elif r.dpa_signed is True:
                what.append(Run(" " + p.text("dpa_yes")))
            if r.sub_processors is not None:
                what.append(Run(" " + p.text(f"sub.{r.sub_processors}")))
            if r.privacy_policy:
                what += [Run(" "), link(p.text("their_policy"), r.privacy_policy)]
            country = p.country(r.country) if r.country else p.text("not_stated")
            rows.append([_runs(r.name), _runs(p.text(f"role.{r.role}")), tuple(what),
                         _runs(country), self.transfer_cell(r)])
        s.blocks.append(Table(p.text("recipients_caption"),
                              list(p.get("recipients_headers")), rows))
        notes: list[Inline] = []
        if any(r.role in {"processor", "sub_processor"} for r in m.recipients):
            notes.append(p.say("processors_text"))
        third = [r for r in m.recipients if r.country is not None and not is_eea(r.country)]
        if all(r.country is not None and is_eea(r.country) for r in m.recipients):
            notes.append(p.say("no_transfers"))
        elif third:
            items = [
                p.text("transfer_item", name=r.name, country=p.country(r.country or ""),
                       mechanism=_lower_first(self.safeguard(r) or p.text("not_stated")))
                for r in third
            ]
            notes.append(p.say("transfers_text", list=p.plain_join(items)))
            if any(r.transfer and r.transfer.mechanism in {"scc", "bcr"} for r in third):
                notes.append(p.say("transfers_copy"))
        joint = [r for r in m.recipients if r.role == "joint_controller"]
        if joint:
            sentences = [p.say("joint_text")]
            if all(r.joint_arrangement for r in joint):
                sentences.append(p.say("joint_arrangement"))
            notes.append(_sentences(sentences))
        notes.append(p.say("art19"))
        s.blocks += [Paragraph(n) for n in notes]
        return s

    # cookies

    def cookies_section(self) -> Section | None:
        p, m = self.p, self.m
        if not m.cookies:
            return None
        s = Section("cookies", self.heading("cookies_heading"))
        s.blocks.append(Paragraph(p.say("cookies_lead")))
        rows = []
        for c in m.cookies:
            provider = p.text("third_party", provider=c.provider) if c.third_party else c.provider
            if c.lifetime == "session":
                lifetime = p.text("cookie_session")
            elif c.lifetime is None:
                lifetime = p.text("not_stated")
            else:
                lifetime = capitalise(_runs(p.duration(c.lifetime)))[0].text
            rows.append([_runs(c.name), _runs(provider),
                         _runs(p.text(f"cookie_category.{c.category}")),
                         _runs(self.t(c.purpose)), _runs(lifetime)])
        s.blocks.append(Table(p.text("cookies_caption"), list(p.get("cookies_headers")), rows))
        sentences: list[Inline] = []
        if any(c.category == "necessary" for c in m.cookies):
            sentences.append(p.say("cookies_necessary", statute=self.j.cookie_source.citation))
        cc = m.cookie_consent
        if any(c.category != "necessary" for c in m.cookies) and cc is not None:
            group = "cookies_consent" if any(c.category == "necessary" for c in m.cookies) \
                else "cookies_consent_all"
            sentences.append(p.say(f"{group}.{cc.mechanism}"))
            if cc.mechanism in {"banner", "checkboxes"} and cc.reject_as_easy_as_accept:
                sentences.append(p.say("cookies_easy"))
            sentences.append(p.say(f"cookies_withdraw.{cc.withdraw}"))
            if cc.expires_after is not None:
                sentences.append(p.say("cookies_expires",
                                       duration=p.duration(cc.expires_after)))
        if sentences:
            s.blocks.append(Paragraph(_sentences(sentences)))
        return s

    # children, automated decisions

    def children_section(self) -> Section | None:
        p, m = self.p, self.m
        if not (m.children.present or any(x.includes_children for x in m.subjects)):
            return None
        age = consent_age(m, self.j)
        s = Section("children", self.heading("children_heading"))
        sentences = [p.say("children_present"),
                     p.say("children_law", age=str(age),
                           statute=self.j.child_consent_source.citation)]
        if m.children.guardian_consent:
            sentences.append(p.say("children_guardian", age=str(age)))
        if m.children.verification is not None:
            sentences.append(p.say("children_verification",
                                   text=self.t(m.children.verification)))
        s.blocks.append(Paragraph(_sentences(sentences)))
        s.blocks.append(Paragraph(p.say("children_rights", age=str(age))))
        return s

    def automated_section(self) -> Section:
        p, m = self.p, self.m
        s = Section("automated", self.heading("automated_heading"))
        deciding = [x for x in m.purposes
                    if x.automated_decisions and x.automated_decisions.legal_or_similar_effect]
        for x in deciding:
            ad = x.automated_decisions
            assert ad is not None
            logic: Inline = _runs(self.t(ad.logic)) if ad.logic else self.gap("automated_logic")
            sentences = [p.say("automated_yes", purpose=self.t(x.name), logic=logic)]
            if ad.human_review:
                sentences.append(p.say("automated_review"))
            s.blocks.append(Paragraph(_sentences(sentences)))
        if not deciding:
            s.blocks.append(Paragraph(p.say("automated_none")))
        profiling = [self.quoted(self.t(x.name)) for x in m.purposes if x.profiling]
        if profiling:
            s.blocks.append(Paragraph(p.say("profiling_used", purposes=self.names(profiling))))
        else:
            s.blocks.append(Paragraph(p.say("profiling_none")))
        return s

    # rights

    def channel_runs(self, ch: Channel) -> Inline:
        p, address = self.p, ch.address
        if ch.type == "email" and address:
            return p.say("channel.email", address=link(address, f"mailto:{address}"))
        if ch.type == "phone" and address:
            return p.say("channel.phone", address=link(address,
                                                        "tel:" + re.sub(r"[^\d+]", "", address)))
        if address:
            value: Value = url_run(address) if address.startswith(("http://", "https://")) \
                else address
            return p.say(f"channel.{ch.type}", address=value)
        if ch.type in {"portal", "in_app", "web_form"}:
            return p.say(f"channel.{ch.type}_default")
        return self.p.say("contact_us", contacts=self.controller_contacts())

    def how(self, right: str) -> Inline:
        """The ways to use ``right``: the channels that serve it, else our contact details."""
        serving = [ch for ch in self.m.rights.channels if ch.rights is None or right in ch.rights]
        if not serving:
            contacts = self.controller_contacts()
            return self.p.say("contact_us", contacts=contacts) if contacts \
                else self.gap("controller_contact")
        return self.p.join([self.channel_runs(ch) for ch in serving], "or")

    def rights_section(self) -> Section:
        p, m = self.p, self.m
        s = Section("rights", self.heading("rights_heading"))
        s.blocks.append(Paragraph(p.say("rights_lead")))
        given = rights_given(m.purposes)
        bases = {x.legal_basis for x in m.purposes}
        objections = {objection(x) for x in m.purposes}
        for right in RIGHTS:
            if right not in given:
                continue
            sentences: list[Inline] = []
            if right == "objection":
                if Objection.WEIGHED in objections:
                    sentences.append(p.say("right_text.objection_interest"))
                if Objection.ABSOLUTE in objections:
                    sentences.append(p.say("right_text.objection_marketing"))
            else:
                sentences.append(p.say(f"right_text.{right}"))
            if right == "erasure" and "legal_obligation" in bases:
                sentences.append(p.say("erasure_kept"))
            how = self.how(right)
            blocks: list[Block] = [Paragraph(_sentences(sentences)),
                                   Paragraph(p.say("right_how", channels=how))]
            s.blocks.append(Subsection(f"right-{right}", p.text(f"right.{right}"), blocks))
        d = m.rights.deadline
        if d.months is not None:
            deadline = p.amount("months", d.months)
            s.blocks.append(Paragraph(p.say(
                "deadline_month" if d.months == self.j.response_months else "deadline_other",
                deadline=deadline)))
        else:
            unit, n = ("working_days", d.working_days) if d.working_days is not None \
                else ("days", d.days or 0)
            s.blocks.append(Paragraph(p.say("deadline_other", deadline=p.amount(unit, n))))
        if m.rights.identity_verification is not None:
            s.blocks.append(Paragraph(p.say(
                "verification", text=self.t(m.rights.identity_verification))))
        if any(x.marketing or x.third_party_sharing for x in m.purposes) or any(
                c.category != "necessary" for c in m.cookies):
            s.blocks.append(Paragraph(p.say("gpc")))
        return s

    def complaint_section(self) -> Section:
        p, a = self.p, self.j.authority
        s = Section("complaints", p.text("complaint_heading", authority=a.name))
        s.blocks.append(Paragraph(p.say("complaint_text", authority=a.name)))
        s.blocks.append(Bullets([
            p.say("complaint_address", address=a.address),
            p.say("complaint_website", website=url_run(a.website)),
            p.say("complaint_form", url=url_run(a.complaint_url)),
        ]))
        return s

    def security_section(self) -> Section | None:
        if self.m.security is None:
            return None
        s = Section("security", self.heading("security_heading"))
        s.blocks.append(Paragraph(_runs(self.t(self.m.security))))
        return s

    def changes_section(self) -> Section:
        p, pc = self.p, self.m.policy_changes
        s = Section("changes", self.heading("changes_heading"))
        sentences = [p.say("changes_notice", days=p.amount("days", pc.notice_days))
                     if pc.notice_days else p.say("changes_plain")]
        if pc.email_on_material_change:
            sentences.append(p.say("changes_email"))
        if any(x.legal_basis == "consent" for x in self.m.purposes):
            sentences.append(p.say("changes_consent"))
        if self.effective is not None:
            sentences.append(p.say("changes_effective", date=p.date(self.effective)))
        s.blocks.append(Paragraph(_sentences(sentences)))
        return s


def _lower_first(name: str) -> str:
    """``Postadresse`` as ``postadresse`` inside a list; ``IP-adresse`` stays as it is."""
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def _period(text: str) -> str:
    """``text`` ending with a full stop (or the question or exclamation mark it has)."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?" else text + "."


def _sentences(parts: Iterable[Inline]) -> Inline:
    """Sentences joined by a space into one paragraph."""
    out: list[Run] = []
    for part in parts:
        if not part:
            continue
        if out:
            out.append(Run(" "))
        out.extend(part)
    return tuple(out)


# ---- templates -------------------------------------------------------------------

def md_href(href: str) -> str:
    """A link target, in angle brackets when it holds spaces or parentheses."""
    return f"<{href}>" if any(ch in href for ch in " ()<>") else href


@functools.cache
def environment(fmt: str) -> Any:
    """The Jinja2 environment for ``fmt``: HTML is autoescaped, Markdown uses ``md``."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=fmt == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["md_href"] = md_href
    return env


# ---- the public functions --------------------------------------------------------

def check_choice(lang: str, fmt: str) -> None:
    """InvalidInput for a language or format the policy is not written in."""
    if lang not in LANGS:
        raise InvalidInput(f"unknown language {lang!r}; the policy is written in nb or en")
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; choose html or md")


def build_document(manifest: Manifest, lang: str, *, draft: bool = False,
                   version: int | None = None,
                   effective: date | datetime | None = None) -> Document:
    """The policy as a document model; InvalidInput when an element is missing (unless draft)."""
    check_choice(lang, "html")
    missing = missing_elements(manifest)
    if missing and not draft:
        raise InvalidInput(describe_missing(missing))
    if isinstance(effective, datetime):
        zone = ZoneInfo(get_jurisdiction(manifest.jurisdiction.country).timezone)
        effective = effective.astimezone(zone).date()
    if effective is None:
        effective = manifest.policy_changes.effective_from
    return PolicyWriter(manifest, lang, missing, version, effective).document()


def render_policy(manifest: Manifest, lang: str, fmt: str, *, draft: bool = False,
                  version: int | None = None,
                  effective: date | datetime | None = None) -> str:
    """The privacy policy for ``manifest`` in ``lang`` ("nb" or "en") as ``fmt`` ("html",
    "md"). Raises InvalidInput listing the missing Art. 13/14 elements, and writes nothing,
    when the manifest lacks any; ``draft=True`` writes it marked as a draft instead."""
    check_choice(lang, fmt)
    doc = build_document(manifest, lang, draft=draft, version=version, effective=effective)
    template = environment(fmt).get_template(f"policy.{fmt}.j2")
    return cast(str, template.render(doc=doc))


def render_documents(manifest: Manifest, *, version: int | None = None,
                     effective: date | datetime | None = None) -> dict[str, dict[str, str]]:
    """Every language and format: ``{"nb": {"html": ..., "md": ...}, "en": {...}}``."""
    out: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        doc = build_document(manifest, lang, version=version, effective=effective)
        out[lang] = {fmt: cast(str, environment(fmt).get_template(f"policy.{fmt}.j2")
                               .render(doc=doc)) for fmt in FORMATS}
    return out
