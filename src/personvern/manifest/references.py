"""Cross-references inside a manifest: every id used must be declared, once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.model import Dataset, Manifest

Loc = tuple[str | int, ...]


def reference_problems(m: Manifest) -> list[tuple[Loc, str]]:
    """Each unknown reference or duplicate id, with where it is."""
    return [*_duplicates(m), *_unknown_references(m)]


def _duplicates(m: Manifest) -> Iterator[tuple[Loc, str]]:
    sections: dict[str, Sequence[Any]] = {
        "subjects": m.subjects, "categories": m.categories, "purposes": m.purposes,
        "retention": m.retention, "recipients": m.recipients, "datasets": m.datasets,
    }
    for section, items in sections.items():
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in seen:
                yield (section, i, "id"), (
                    f"duplicate id {item.id!r} (already used by {section}[{seen[item.id]}])"
                )
            else:
                seen[item.id] = i
    cookies: dict[tuple[str, str], int] = {}
    for i, cookie in enumerate(m.cookies):
        # The same name in any language is the same cookie.
        for name in set(cookie.name.root.values()):
            key = (name, cookie.provider)
            if key in cookies and cookies[key] != i:
                yield ("cookies", i, "name"), (
                    f"duplicate cookie {name!r} from {cookie.provider} "
                    f"(already cookies[{cookies[key]}])"
                )
                break
            cookies.setdefault(key, i)


def _unknown(kind: str, value: str, known: Sequence[str]) -> str:
    import difflib

    hint = difflib.get_close_matches(value, known, n=1)
    if hint:
        return f"unknown {kind} {value!r}; did you mean {hint[0]!r}?"
    listed = ", ".join(sorted(known)) if known else f"none declared in {kind}s"
    return f"unknown {kind} {value!r}; declared: {listed}"


def _unknown_references(m: Manifest) -> Iterator[tuple[Loc, str]]:
    categories = set(BUILTIN_CATEGORIES) | {c.id for c in m.categories}
    subjects = [s.id for s in m.subjects]
    retention = [r.id for r in m.retention]
    recipients = [r.id for r in m.recipients]

    for i, cat in enumerate(m.categories):
        if cat.id not in BUILTIN_CATEGORIES and cat.name is None:
            yield ("categories", i, "id"), (
                f"{cat.id!r} is not a built-in category; give it a name"
            )

    def check_categories(loc: Loc, keys: Sequence[str]) -> Iterator[tuple[Loc, str]]:
        for j, key in enumerate(keys):
            if key not in categories:
                yield (*loc, j), _unknown("category", key, sorted(categories))

    for i, p in enumerate(m.purposes):
        yield from check_categories(("purposes", i, "categories"), p.categories)
        for j, s in enumerate(p.subjects):
            if s not in subjects:
                yield ("purposes", i, "subjects", j), _unknown("subject", s, subjects)
        for rule_id in p.retention:
            if rule_id not in retention:
                yield ("purposes", i, "retention"), _unknown("retention rule", rule_id, retention)
        for j, r in enumerate(p.recipients):
            if r not in recipients:
                yield ("purposes", i, "recipients", j), _unknown("recipient", r, recipients)
    for i, rec in enumerate(m.recipients):
        yield from check_categories(("recipients", i, "categories"), rec.categories)
    for i, cookie in enumerate(m.cookies):
        if cookie.recipient is not None and cookie.recipient not in recipients:
            yield ("cookies", i, "recipient"), _unknown("recipient", cookie.recipient, recipients)
    if m.processor_for is not None:
        purpose_ids = [p.id for p in m.purposes]
        for j, pid in enumerate(m.processor_for.purposes):
            if pid not in purpose_ids:
                yield ("processor_for", "purposes", j), _unknown("purpose", pid, purpose_ids)
        for j, sid in enumerate(m.processor_for.subjects):
            if sid not in subjects:
                yield ("processor_for", "subjects", j), _unknown("subject", sid, subjects)
    purpose_ids = [p.id for p in m.purposes]
    for i, promise in enumerate(m.commitments):
        for j, pid in enumerate(promise.purposes):
            if pid not in purpose_ids:
                yield ("commitments", i, "purposes", j), _unknown("purpose", pid, purpose_ids)
    guardian = m.children.guardian_subject
    if guardian is not None and guardian not in subjects:
        yield ("children", "guardian_subject"), _unknown("subject", guardian, subjects)
    for d, ds in enumerate(m.datasets):
        yield from _dataset_problems(("datasets", d), ds, retention, recipients,
                                     [p.id for p in m.purposes])
        for t, table in enumerate(ds.tables):
            for c, col in enumerate(table.columns):
                yield from check_categories(
                    ("datasets", d, "tables", t, "columns", c, "categories"), col.categories
                )


def _dataset_problems(
    loc: Loc, ds: Any, retention: Sequence[str], recipients: Sequence[str],
    purposes: Sequence[str],
) -> Iterator[tuple[Loc, str]]:
    """A dataset's own consistency: its kind's fields, table names, references, holds."""
    if ds.kind == "http" and not ds.callback:
        yield (*loc, "id"), f"dataset {ds.id!r} of kind http needs a callback URL"
    if ds.kind == "manual" and not (ds.recipient or ds.contact):
        yield (*loc, "id"), f"dataset {ds.id!r} of kind manual needs a recipient or contact"
    if ds.recipient is not None and ds.recipient not in recipients:
        yield (*loc, "recipient"), _unknown("recipient", ds.recipient, recipients)
    tables = {t.name: t for t in ds.tables}
    for t, table in enumerate(ds.tables):
        tloc = (*loc, "tables", t)
        if table.hold is not None and table.hold not in retention:
            yield (*tloc, "hold"), _unknown("retention rule", table.hold, retention)
        for j, pid in enumerate(table.purposes or ()):
            if pid not in purposes:
                yield (*tloc, "purposes", j), _unknown("purpose", pid, purposes)
        for c, col in enumerate(table.columns):
            if col.hold is not None and col.hold not in retention:
                yield (*tloc, "columns", c, "hold"), _unknown("retention rule", col.hold, retention)
        for r, ref in enumerate(table.references):
            target_table, _, target_col = ref.to.partition(".")
            if not target_col:
                yield (*tloc, "references", r, "to"), (
                    f"{ref.to!r} must name table.column, e.g. users.id"
                )
            elif target_table not in tables:
                yield (*tloc, "references", r, "to"), _unknown(
                    "table", target_table, list(tables)
                )
            if ref.part and not ref.owner:
                yield (*tloc, "references", r, "part"), (
                    "a reference is either part of this row's (part: true) or only names "
                    "someone (owner: false), not both")


def special_keys(m: Manifest) -> set[str]:
    """Category keys that are Art. 9(1) special categories (built-in or declared so)."""
    declared = {c.id: c.special for c in m.categories if c.special is not None}
    keys = {k for k, c in BUILTIN_CATEGORIES.items() if c.special}
    keys |= {k for k, special in declared.items() if special}
    keys -= {k for k, special in declared.items() if not special}
    return keys


def is_special(key: str, special: set[str]) -> bool:
    """Whether a category key is, or lies under, one of the special keys."""
    return any(key == s or key.startswith(s + ".") for s in special)


def reachable_tables(ds: Dataset) -> set[str]:
    """The tables of ``ds`` a person's rows can be found in: those with an identity column
    or marked as an organisation's, every table referring to one of them, and every part
    (``part: true``) of one. Access and erasure walk the same way."""
    reached = {t.name for t in ds.tables
               if t.organisation or any(c.identity for c in t.columns)}
    grown = True
    while grown:
        grown = False
        for t in ds.tables:
            if t.name not in reached and any(
                    r.to.partition(".")[0] in reached for r in t.references if not r.part):
                reached.add(t.name)
                grown = True
            parts = {r.to.partition(".")[0] for r in t.references if r.part}
            if t.name in reached and parts - reached:
                reached |= parts
                grown = True
    return reached
