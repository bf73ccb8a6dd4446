"""What every section's wording shares: the manifest, the language and the small helpers.

A :class:`Context` is made once per manifest and language; the section functions in
:mod:`personvern.policy.wording` read it and never change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from personvern.law import Jurisdiction, get_jurisdiction
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.model import Contact, Manifest
from personvern.manifest.types import Text
from personvern.policy.completeness import ELEMENTS, Missing
from personvern.policy.document import Inline, Run, link, tel_href, url_run
from personvern.policy.wording.phrases import Phrases, lower_first


class Context:
    """One manifest in one language: its phrases, its jurisdiction and what it lacks."""

    def __init__(self, m: Manifest, lang: str, missing: Sequence[Missing] = (),
                 version: int | None = None, effective: date | None = None,
                 draft: bool = False) -> None:
        self.m = m
        self.draft = draft
        self.lang = lang
        self.p = Phrases(lang)
        self.j: Jurisdiction = get_jurisdiction(m.jurisdiction.country)
        self.missing = missing
        self.version = version
        self.effective = effective
        self.categories = {c.id: c for c in m.categories}
        self.subjects = {s.id: s for s in m.subjects}
        self.recipients = {r.id: r for r in m.recipients}

    def t(self, text: Text | None) -> str:
        """A manifest text in this language; nothing for a text not given."""
        return "" if text is None else text.get(self.lang)

    def gap(self, element: str) -> Inline:
        """The draft's marker where a missing Art. 13/14 ``element`` would be."""
        e = ELEMENTS[element]
        what = e.nb if self.lang == "nb" else e.en
        return (Run(self.p.text("missing", what=what), missing=True),)

    def category_name(self, key: str) -> str:
        """A data category's name: the manifest's own, else the built-in one, else its key."""
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
            items = items[:1] + [lower_first(n) for n in items[1:]]
        conj = f" {self.p.get('and')} "
        # "a, b og c og d" would be ambiguous when an item has its own "og".
        if any(conj in n for n in items):
            return "; ".join(items)
        return self.p.plain_join(items)

    def purpose_names(self, ids: Sequence[str], *, capital: bool = True) -> str:
        """The purposes ``ids`` as a reader takes them in: ``Alle formålene``, ``Alle
        formålene som bygger på samtykke`` or ``Alle formålene unntatt X`` where that is
        exactly the set, else their names."""
        chosen = [x for x in self.m.purposes if x.id in set(ids)]
        rest = [x for x in self.m.purposes if x.id not in set(ids)]
        consent = [x for x in self.m.purposes if x.legal_basis == "consent"]
        if len(chosen) > 1 and not rest:
            text = self.p.text("purposes_all")
        elif len(chosen) > 1 and chosen == consent:
            text = self.p.text("purposes_all_consent")
        elif len(chosen) > 2 and len(rest) <= 2:
            text = self.p.text("purposes_all_except", names=self.names(
                [lower_first(self.t(x.name)) for x in rest]))
        else:
            text = self.names([self.t(x.name) for x in chosen])
            return text if capital else lower_first(text)
        return text[:1].upper() + text[1:] if capital else text

    def quoted(self, name: str) -> str:
        """A name in this language's quotation marks."""
        return f"«{name}»" if self.lang == "nb" else f"“{name}”"

    def heading(self, key: str) -> str:
        """A section heading (also the text of links to that section)."""
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
            parts.append(self.p.say("reach_phone", value=link(phone, tel_href(phone))))
        if address:
            parts.append(self.p.say("reach_address", value=address))
        if url:
            parts.append(self.p.say("reach_url", value=url_run(url)))
        return self.p.join(parts, "or")

    def controller_contacts(self) -> Inline:
        """How to reach the controller."""
        c = self.m.controller
        return self.contacts(None, email=c.email, phone=c.phone, address=c.address,
                             url=c.website)
