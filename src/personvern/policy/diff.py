"""What changed between two versions of the policy, in plain words, material or not.

``diff(old, new)`` compares two manifests and explains each change in bokmål and
English ("ny databehandler: Sentry (USA, standardkontraktsklausuler)"). A change is
*material* when people would want to know before it happens, because more of their
data goes further or stays longer: a new purpose, recipient, third country, category
of data or marketing channel, a changed legal basis, longer retention, profiling or
automated decisions switched on. Wording, contact details and shorter retention are
not material. A material change that touches a purpose resting on consent is marked
``consent``: consent given before it took effect no longer counts.

The sentences live in the ``diff`` part of the phrase catalogues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from personvern.law import get_jurisdiction, is_eea
from personvern.manifest.model import (
    Channel,
    Commitment,
    Cookie,
    Manifest,
    Purpose,
    Recipient,
    RetentionRule,
)
from personvern.manifest.types import Duration
from personvern.policy.wording.commitments import commitment_runs
from personvern.policy.wording.context import Context
from personvern.policy.wording.data import rule_phrase
from personvern.policy.wording.phrases import LANGS, Phrases, lower_first
from personvern.policy.wording.rights import channel_runs

Words = str | Callable[[str], str]


@dataclass(frozen=True)
class Change:
    """One change, explained in both languages."""

    kind: str
    material: bool
    nb: str
    en: str
    purposes: tuple[str, ...] = ()
    consent: bool = False

    def text(self, lang: str) -> str:
        """The explanation in ``lang``."""
        return self.nb if lang == "nb" else self.en

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape stored with a version and printed by ``policy diff --json``."""
        return {"kind": self.kind, "material": self.material, "nb": self.nb, "en": self.en,
                "purposes": list(self.purposes), "consent": self.consent}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        """A change read back from a stored version."""
        return cls(str(data["kind"]), bool(data["material"]), str(data["nb"]), str(data["en"]),
                   tuple(data.get("purposes", ())), bool(data.get("consent", False)))


def _length(rule: RetentionRule, withdrawal_days: int) -> float:
    """How long the rule keeps data, in days, for comparing two rules with one trigger."""
    return rule.duration.approx_days() + (withdrawal_days if rule.plus_withdrawal_period else 0)


def _single_unit(d: Duration) -> str | None:
    units = [u for u, n in (("years", d.years), ("months", d.months), ("days", d.days)) if n]
    return units[0] if len(units) == 1 and not d.unlimited else None


class _Differ:
    """Collects the changes between ``old`` and ``new``."""

    def __init__(self, old: Manifest, new: Manifest) -> None:
        self.old, self.new = old, new
        self.phrases: dict[str, Phrases] = {lang: Phrases(lang) for lang in LANGS}
        # The policy's own wording of a category, a retention rule or a channel, per side.
        self.contexts: dict[str, dict[str, Context]] = {
            side: {lang: Context(m, lang) for lang in LANGS}
            for side, m in (("old", old), ("new", new))
        }
        self.withdrawal = get_jurisdiction(new.jurisdiction.country).withdrawal_period_days
        self.consent_purposes = {p.id for p in new.purposes if p.legal_basis == "consent"}
        self.changes: list[Change] = []

    def add(self, kind: str, material: bool, purposes: Sequence[str], **values: Words) -> None:
        texts = {}
        for lang in LANGS:
            filled = {k: v(lang) if callable(v) else v for k, v in values.items()}
            texts[lang] = self.phrases[lang].text(f"diff.{kind}", **filled)
        consent = material and any(p in self.consent_purposes for p in purposes)
        self.changes.append(Change(kind, material, texts["nb"], texts["en"], tuple(purposes),
                                   consent))

    # words

    def name(self, p: Purpose) -> Words:
        return p.name.get

    def quoted(self, names: Sequence[Purpose]) -> Words:
        def words(lang: str) -> str:
            q = "«{}»" if lang == "nb" else "“{}”"
            return self.phrases[lang].plain_join([q.format(p.name.get(lang)) for p in names])
        return words

    def basis(self, basis: str | None) -> Words:
        def words(lang: str) -> str:
            p = self.phrases[lang]
            return lower_first(p.text(f"basis.{basis}") if basis else p.text("not_stated"))
        return words

    def categories(self, keys: Sequence[str]) -> Words:
        def words(lang: str) -> str:
            names = [lower_first(self.contexts["new"][lang].category_name(k)) for k in keys]
            return self.phrases[lang].plain_join(names)
        return words

    def where(self, r: Recipient) -> Words:
        """``USA, standardkontraktsklausuler`` / ``Norge`` / ``land ikke oppgitt``."""
        def words(lang: str) -> str:
            p = self.phrases[lang]
            mechanism = r.transfer.mechanism if r.transfer else None
            if r.country is not None and is_eea(r.country):
                return p.country(r.country)
            country = p.country(r.country) if r.country else p.text("diff.country_unknown")
            if mechanism is None and r.country is None:
                return country
            safeguard = p.text("diff.mechanism." + (mechanism or "none"))
            return f"{country}, {safeguard}"
        return words

    def mechanism(self, r: Recipient) -> Words:
        mechanism = r.transfer.mechanism if r.transfer else "none"
        return lambda lang: self.phrases[lang].text(f"diff.mechanism.{mechanism}")

    # sections

    def run(self) -> list[Change]:
        self.controller()
        self.purposes()
        self.retention()
        self.recipients()
        self.cookies()
        self.rights()
        self.notices()
        self.commitments()
        if not self.changes and self.old.model_dump(mode="json") != self.new.model_dump(
                mode="json"):
            self.add("wording_general", False, ())
        return self.changes

    def controller(self) -> None:
        o, n = self.old.controller, self.new.controller
        # Another organisation number is another controller; one added or dropped is not.
        if o.orgnr != n.orgnr and o.orgnr is not None and n.orgnr is not None:
            self.add("controller_changed", True, sorted(self.consent_purposes), name=n.name,
                     orgnr=n.orgnr)
        elif o.name != n.name:
            self.add("controller_renamed", False, (), name=n.name)
        what = [v for f in ("email", "phone", "address", "website")
                if (v := getattr(n, f)) and v != getattr(o, f)]
        if what:
            self.add("contact_changed", False, (), what=", ".join(what))
        if (o.dpo, o.privacy_contact, o.representative) != (n.dpo, n.privacy_contact,
                                                            n.representative):
            self.add("dpo_changed", False, ())
        if self.old.service != self.new.service or self.old.security != self.new.security:
            self.add("wording_general" if self.old.service != self.new.service
                     else "security_changed", False, ())
        if self.old.children != self.new.children:
            self.add("children_changed", False, ())

    def purposes(self) -> None:
        old = {p.id: p for p in self.old.purposes}
        for p in self.new.purposes:
            o = old.get(p.id)
            if o is None:
                self.add("purpose_added", True, [p.id], name=self.name(p),
                         basis=self.basis(p.legal_basis))
            else:
                self.purpose(o, p)
        new_ids = {p.id for p in self.new.purposes}
        for o in self.old.purposes:
            if o.id not in new_ids:
                self.add("purpose_removed", False, (), name=self.name(o))

    def purpose(self, o: Purpose, p: Purpose) -> None:
        ids = [p.id]
        if o.name != p.name:
            self.add("purpose_renamed", False, ids, name=self.name(p),
                     old=o.name.get)
        if o.legal_basis != p.legal_basis:
            self.add("basis_changed", True, ids, name=self.name(p),
                     new=self.basis(p.legal_basis), old=self.basis(o.legal_basis))
        added = [k for k in p.categories if k not in o.categories]
        if added:
            self.add("category_added", True, ids, name=self.name(p),
                     categories=self.categories(added))
        removed = [k for k in o.categories if k not in p.categories]
        if removed:
            self.add("category_removed", False, ids, name=self.name(p),
                     categories=self.categories(removed))
        subjects = [s for s in p.subjects if s not in o.subjects]
        if subjects:
            by_id = {s.id: s for s in self.new.subjects}
            self.add("subjects_added", False, ids, name=self.name(p), subjects=lambda lang: (
                self.phrases[lang].plain_join([lower_first(by_id[s].name.get(lang))
                                               for s in subjects if s in by_id])))
        old_recipients = {r.id for r in self.old.recipients}
        for rid in p.recipients:
            r = self.new.recipient(rid)
            if rid not in o.recipients and rid in old_recipients and r is not None:
                self.add("recipient_for_purpose", True, ids, name=r.name, purpose=self.name(p))
        self.purpose_flags(o, p)
        # A new basis brings its own interest, statute or consent text: not news twice.
        same_basis = o.legal_basis == p.legal_basis
        if o.description != p.description or (same_basis and (
                o.legitimate_interest, o.legal_obligation, o.consent) != (
                p.legitimate_interest, p.legal_obligation, p.consent)):
            self.add("wording", False, ids, name=self.name(p))

    def purpose_flags(self, o: Purpose, p: Purpose) -> None:
        ids = [p.id]
        if p.profiling != o.profiling:
            self.add("profiling_added" if p.profiling else "profiling_removed", p.profiling, ids,
                     name=self.name(p))

        def deciding(x: Purpose) -> bool:
            return bool(x.automated_decisions and x.automated_decisions.legal_or_similar_effect)

        if deciding(p) != deciding(o):
            self.add("automated_added" if deciding(p) else "automated_removed", deciding(p), ids,
                     name=self.name(p))
        if p.third_party_sharing and not o.third_party_sharing:
            self.add("sharing_added", True, ids, name=self.name(p))
        old_channels = o.marketing.channels if o.marketing else []
        new_channels = p.marketing.channels if p.marketing else []
        channels = [c for c in new_channels if c not in old_channels]
        if channels:
            self.add("marketing_channels", True, ids, name=self.name(p), channels=lambda lang: (
                self.phrases[lang].plain_join(
                    [self.phrases[lang].text(f"channels.{c}") for c in channels])))
        if (p.marketing and p.marketing.existing_customer_exception) and not (
                o.marketing and o.marketing.existing_customer_exception):
            self.add("marketing_exception", True, ids, name=self.name(p))

    def retention(self) -> None:
        """Storage periods per purpose; purposes with the same change share one sentence."""
        old = {p.id: p for p in self.old.purposes}
        groups: dict[tuple[Any, ...], tuple[list[RetentionRule], list[RetentionRule],
                                            list[Purpose]]] = {}
        for p in self.new.purposes:
            o = old.get(p.id)
            if o is None:
                continue
            before = [r for r in map(self.old.retention_rule, o.retention) if r is not None]
            after = [r for r in map(self.new.retention_rule, p.retention) if r is not None]
            sig = [sorted((r.trigger, str(r.duration), r.action, r.plus_withdrawal_period)
                          for r in rules) for rules in (before, after)]
            if sig[0] != sig[1]:
                key = (tuple(o.retention), tuple(p.retention))
                groups.setdefault(key, (before, after, []))[2].append(p)
        for before, after, purposes in groups.values():
            self.retention_change(purposes, before, after)

    def retention_change(self, purposes: list[Purpose], before: list[RetentionRule],
                         after: list[RetentionRule]) -> None:
        ids = [p.id for p in purposes]
        material = self.kept_longer(before, after)
        if len(before) == len(after) == 1:
            o, n = before[0], after[0]
            unit = _single_unit(n.duration)
            same = (o.trigger, o.action, o.plus_withdrawal_period) == (
                n.trigger, n.action, n.plus_withdrawal_period)
            if same and unit and _single_unit(o.duration):
                def old_words(lang: str) -> str:
                    p = self.phrases[lang]
                    if _single_unit(o.duration) == unit:
                        return str(getattr(o.duration, unit))
                    return p.duration(o.duration, words=False)
                self.add("retention_length", material, ids, names=self.quoted(purposes),
                         new=lambda lang: self.phrases[lang].duration(n.duration, words=False),
                         old=old_words,
                         trigger=lambda lang: self.phrases[lang].text(f"trigger_after.{n.trigger}"))
                return

        def phrase(rules: list[RetentionRule], side: str) -> Words:
            def words(lang: str) -> str:
                ctx = self.contexts[side][lang]
                if not rules:
                    return self.phrases[lang].text("not_stated").lower()
                return self.phrases[lang].plain_join([rule_phrase(ctx, r) for r in rules], "or")
            return words

        self.add("retention_changed", material, ids, names=self.quoted(purposes),
                 new=phrase(after, "new"), old=phrase(before, "old"))

    def kept_longer(self, before: list[RetentionRule], after: list[RetentionRule]) -> bool:
        """Whether data may now be kept longer: a limit of the old rules is gone or weaker."""
        if not after:
            return bool(before)
        for o in before:
            covered = any(
                n.trigger == o.trigger
                and _length(n, self.withdrawal) <= _length(o, self.withdrawal)
                and not (n.action == "restrict" and o.action != "restrict")
                for n in after
            )
            if not covered:
                return True
        return False

    def recipients(self) -> None:
        old = {r.id: r for r in self.old.recipients}
        for r in self.new.recipients:
            users = [p.id for p in self.new.purposes if r.id in p.recipients]
            o = old.get(r.id)
            if o is None:
                self.add("recipient_added", True, users, name=r.name, where=self.where(r),
                         role=self.role(r))
                continue
            self.recipient(o, r, users)
        new_ids = {r.id for r in self.new.recipients}
        for o in self.old.recipients:
            if o.id not in new_ids:
                self.add("recipient_removed", False, (), name=o.name)

    def role(self, r: Recipient) -> Words:
        # The default role ("processor") is no statement (Art. 13(1)(e)): a recipient the
        # manifest gives no role is only "a recipient" in a notice that goes to everyone.
        key = r.role if r.role_stated else "unstated"
        return lambda lang: self.phrases[lang].text(f"diff.role.{key}")

    def recipient(self, o: Recipient, r: Recipient, users: list[str]) -> None:
        old_role = o.role if o.role_stated else None
        new_role = r.role if r.role_stated else None
        if old_role != new_role:
            kind = ("recipient_role_dropped" if new_role is None else "recipient_role_stated"
                    if old_role is None else "recipient_role")
            self.add(kind, True, users, name=r.name, role=self.role(r), old=self.role(o))
        third = r.country is not None and not is_eea(r.country)
        old_mechanism = o.transfer.mechanism if o.transfer else None
        mechanism = r.transfer.mechanism if r.transfer else None
        if r.country != o.country:
            if third:
                self.add("third_country", True, users, name=r.name,
                         country=lambda lang: self.phrases[lang].country(r.country or ""),
                         mechanism=self.mechanism(r))
                return
            if r.country is not None:
                self.add("country_changed", False, users, name=r.name,
                         country=lambda lang: self.phrases[lang].country(r.country or ""),
                         old=lambda lang: (self.phrases[lang].country(o.country) if o.country
                                           else self.phrases[lang].text("diff.country_unknown")))
        if mechanism != old_mechanism and (third or r.country is None):
            weaker = mechanism in {None, "none", "consent_derogation", "contract_derogation"}
            self.add("transfer_changed", weaker, users, name=r.name, new=self.mechanism(r),
                     old=self.mechanism(o))
        if (o.name, o.service, o.dpa_signed, o.sub_processors, o.privacy_policy) != (
                r.name, r.service, r.dpa_signed, r.sub_processors, r.privacy_policy):
            self.add("wording", False, (), name=lambda lang: r.name)

    def cookies(self) -> None:
        def key(c: Cookie) -> tuple[Any, ...]:
            return tuple(sorted(c.name.root.items())), c.provider

        old = {key(c): c for c in self.old.cookies}
        for c in self.new.cookies:
            users = [p.id for p in self.new.purposes if c.category in p.cookie_categories]
            o = old.get(key(c))
            category = self.cookie_category(c.category)
            optional = c.category != "necessary"
            if o is None:
                self.add("cookie_added", optional, users, name=c.name.get, provider=c.provider,
                         category=category)
                continue
            if o.category != c.category:
                self.add("cookie_added", optional, users, name=c.name.get, provider=c.provider,
                         category=category)
            elif o.lifetime != c.lifetime and c.lifetime is not None:
                before = o.lifetime.approx_days() if isinstance(o.lifetime, Duration) else 0.0
                after = c.lifetime.approx_days() if isinstance(c.lifetime, Duration) else 0.0
                self.add("cookie_lifetime", optional and after > before, users, name=c.name.get,
                         new=self.lifetime(c.lifetime), old=self.lifetime(o.lifetime))
        new_keys = {key(c) for c in self.new.cookies}
        for o in self.old.cookies:
            if key(o) not in new_keys:
                self.add("cookie_removed", False, (), name=o.name.get, provider=o.provider)
        if self.old.cookie_consent != self.new.cookie_consent:
            self.add("cookie_consent_changed", False, ())

    def cookie_category(self, category: str) -> Words:
        return lambda lang: lower_first(self.phrases[lang].text(f"cookie_category.{category}"))

    def lifetime(self, value: Duration | str | None) -> Words:
        def words(lang: str) -> str:
            p = self.phrases[lang]
            if value is None:
                return p.text("not_stated").lower()
            if isinstance(value, Duration):
                return p.duration(value)
            return lower_first(p.text("cookie_session"))
        return words

    def rights(self) -> None:
        def key(ch: Channel) -> tuple[Any, ...]:
            label = tuple(sorted(ch.label.root.items())) if ch.label else None
            return ch.type, ch.address, label, tuple(ch.rights or ())

        old = {key(c): c for c in self.old.rights.channels}
        new = {key(c): c for c in self.new.rights.channels}
        for k, ch in new.items():
            if k not in old:
                self.add("channel_added", False, (), how=self.channel(ch, "new"))
        for k, ch in old.items():
            if k not in new:
                self.add("channel_removed", False, (), how=self.channel(ch, "old"))
        o, n = self.old.rights.deadline, self.new.rights.deadline
        if o != n:
            def days(d: Any) -> float:
                return ((d.months or 0) * 30.44 + (d.working_days or 0) * 1.4
                        + (d.virkedager or 0) * 7 / 6 + (d.days or 0))

            def words(d: Any) -> Words:
                def inner(lang: str) -> str:
                    p = self.phrases[lang]
                    if d.months is not None:
                        return p.amount("months", d.months)
                    if d.working_days is not None:
                        return p.amount("working_days", d.working_days)
                    if d.virkedager is not None:
                        return p.amount("virkedager", d.virkedager)
                    return p.amount("days", d.days or 0)
                return inner

            self.add("deadline_changed", days(n) > days(o), (), new=words(n), old=words(o))

    def channel(self, ch: Channel, side: str) -> Words:
        return lambda lang: "".join(r.text for r in channel_runs(self.contexts[side][lang], ch))

    def notices(self) -> None:
        o, n = self.old.policy_changes, self.new.policy_changes
        if (o.notice_days or 0) != (n.notice_days or 0):
            def days(value: int | None) -> Words:
                return lambda lang: self.phrases[lang].amount("days", value or 0)
            self.add("notice_changed", False, (), new=days(n.notice_days), old=days(o.notice_days))
        if o.email_on_material_change != n.email_on_material_change:
            self.add("email_notice" if n.email_on_material_change else "email_notice_removed",
                     False, ())


    def commitments(self) -> None:
        """A promise withdrawn is material: people relied on it; one added or reworded is
        not."""
        def words(side: str, c: Commitment) -> Words:
            return lambda lang: "".join(
                r.text for r in commitment_runs(self.contexts[side][lang], c)).rstrip(".")

        old = {c.kind: c for c in self.old.commitments}
        new = {c.kind: c for c in self.new.commitments}
        for kind, c in new.items():
            if kind not in old:
                self.add("commitment_added", False, (), text=words("new", c))
            elif old[kind] != c:
                self.add("commitment_changed", False, (), text=words("new", c))
        for kind, c in old.items():
            if kind not in new:
                self.add("commitment_withdrawn", True, c.purposes, text=words("old", c))


def diff(old: Manifest, new: Manifest) -> list[Change]:
    """The changes from ``old`` to ``new``, each explained in nb and en and classified."""
    return _Differ(old, new).run()


def first_version() -> Change:
    """The one "change" of version 1: there is nothing before it to compare with."""
    phrases = {lang: Phrases(lang) for lang in LANGS}
    return Change("first_version", False, phrases["nb"].text("diff.first_version"),
                  phrases["en"].text("diff.first_version"))
