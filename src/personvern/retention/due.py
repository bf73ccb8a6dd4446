"""What is due at a sweep's ``now``: the rows each (rule, table) step takes, and whose they are.

A step's rows are one SQL condition on the service's table: the rule has fired, every
other purpose holding the table has ended, nobody asked to keep them, and they are not yet
acted on. Where only the engine's records can say a purpose has ended (consent, last
activity), rows are tied to the engine's subjects through the data map's identity columns.
The plan counts what is due and the run acts on it; nothing here changes any data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from personvern.law import Jurisdiction
from personvern.manifest.model import RetentionRule
from personvern.requests.datamap import SqlDataset
from personvern.requests.found import strangers
from personvern.requests.restrict import restricted_subjects
from personvern.retention import clauses, people
from personvern.retention.resolve import HOLD, Holding, Resolution, TableRules
from personvern.storage.engine import storage_errors
from personvern.storage.session import transaction

Idents = dict[str, dict[str, list[str]]]  # per subject, identity kind -> values


@dataclass
class Due:
    """What the resolved rules take at ``now``, read ``batch`` rows (or people) at a time."""

    res: Resolution
    j: Jurisdiction
    sessions: sessionmaker[Session]
    now: datetime
    batch: int = 1000

    @contextmanager
    def engine(self) -> Iterator[Session]:
        """One transaction on the engine's own database."""
        with transaction(self.sessions) as session:
            yield session

    @cached_property
    def restricted(self) -> tuple[frozenset[str], dict[str, list[str]]]:
        """The people with a restriction in force (GDPR Art. 18(1), (2): their data may
        only be stored, and they may need it kept for a legal claim) and their identities:
        no rule deletes, anonymises or restricts their rows until it is lifted."""
        with self.engine() as s:
            ids = restricted_subjects(s)
            idents = people.identities(s, ids) if ids else {}
        return frozenset(ids), people.merged(idents, ids)

    # ---- the steps, in the order they run ---------------------------------------------

    def steps(self) -> Iterator[tuple[RetentionRule, list[TableRules], list[TableRules]]]:
        """Rule by rule: the tables it dates by a column, then those the engine dates."""
        for rule in self.res.manifest.retention:
            tables = [tr for r, tr in self.res.steps() if r.id == rule.id]
            # Referring rows first: a parent's date column may be erased with the parent;
            # but tables dated by their children before those children go with the date.
            tables.sort(key=lambda tr: (holding(tr, rule).dating.kind != "children",
                                        *self._order(tr)))
            by_engine = [tr for tr in tables if holding(tr, rule).dating.kind == "engine"]
            yield rule, [tr for tr in tables if tr not in by_engine], by_engine

    def _order(self, tr: TableRules) -> tuple[str, int]:
        return tr.dataset, self.res.datasets[tr.dataset].deletion_order().index(tr.table)

    def undated(self) -> list[dict[str, str]]:
        """Purposes whose rule cannot be dated for a table: not enforced, with why."""
        return [{"dataset": tr.dataset, "table": tr.table, "purpose": pid, "rule": rid,
                 "why": why} for tr in self.res.tables for pid, rid, why in tr.undated]

    def strangers(self) -> list[dict[str, object]]:
        """What rules dated by the engine's records cannot reach, table by table: rows
        whose people the engine does not know (no consent, withdrawal, objection or
        activity of theirs is on record), and, for consent rules, known people with no
        consent on record at all (GDPR Art. 7(1): consent must be shown to be given)."""
        out: list[dict[str, object]] = []
        for tr in self.res.tables:
            rules = list(dict.fromkeys(h.rule.id for h in tr.holdings
                                       if h.dating.kind == "engine"))
            if not rules:
                continue
            ds = self.res.datasets[tr.dataset]
            spec = ds.mapped[tr.table]
            pending = None
            if spec.erase not in ("delete_row", "keep"):
                # A row an erasure masked keeps its key, whose person is gone: not a stranger.
                _, pending = clauses.erase_values(ds, spec, spec.erase)
            with self.engine() as s:
                found = strangers(s, ds, tr.table, where=pending)
                if found is None:
                    continue
                unconsented = self._unconsented(s, tr, found.owners)
            if found.rows or unconsented:
                out.append({"dataset": tr.dataset, "table": tr.table, "rules": rules,
                            "columns": found.columns, "rows": found.rows,
                            "examples": found.examples, "no_consent": unconsented})
        return out

    def _unconsented(self, s: Session, tr: TableRules, owners: set[str]
                     ) -> list[dict[str, object]]:
        """Per consent rule of the table, how many of its known people have no consent
        event at all for the rule's consent purposes."""
        out: list[dict[str, object]] = []
        for h in tr.holdings:
            purpose = next((p for p in self.res.manifest.purposes if p.id == h.purpose), None)
            if h.rule.trigger != "consent_withdrawn" or purpose is None \
                    or purpose.legal_basis != "consent" or not owners:
                continue
            if not all(p.legal_basis == "consent" for p in self.res.manifest.purposes
                       if p.id in tr.purposes()):
                # Another basis holds the rows too (an account's e-mail): a missing
                # newsletter consent says nothing about whether they may be kept.
                continue
            without = people.without_consent(s, sorted(owners), h.purpose)
            if without:
                out.append({"rule": h.rule.id, "purpose": h.purpose, "people": without})
        return out

    # ---- steps dated by a column ------------------------------------------------------

    def column_scope(self, rule: RetentionRule, tr: TableRules
                     ) -> tuple[ColumnElement[bool], list[str], bool] | None:
        """A column-dated step's rows, the other purposes only the engine's records can end
        (checked owner by owner), and whether the rows' owners are needed; None: no rows."""
        ds = self.res.datasets[tr.dataset]
        where = self.row_clause(rule, tr, ds)
        if where is None:
            return None
        others = self.engine_others(rule, tr)
        owned_via = _identity_path(ds, tr.table)
        need_owners = owned_via is not None and bool(
            others or self.erases_profile(rule, tr) or self.active_since(rule, tr))
        if need_owners and not others:
            with self.engine() as s:  # nobody registered with the engine: nobody to erase
                need_owners = people.has_identities(s)
        return where, others, need_owners

    def active_since(self, rule: RetentionRule, tr: TableRules) -> datetime | None:
        """For a last-activity rule dated by a column, its cutoff when the engine has
        recorded activity after it (``subject activity``, the API): a person's last
        activity is the latest from every source, so their rows wait. None otherwise."""
        if rule.trigger != "last_activity" \
                or _identity_path(self.res.datasets[tr.dataset], tr.table) is None:
            return None
        limit_at = clauses.cutoff(rule, self.now, self.j)
        if limit_at is None:
            return None
        with self.engine() as s:
            return limit_at if people.active_after(s, limit_at) else None

    def key_pages(self, tr: TableRules, where: ColumnElement[bool], others: list[str],
                  need_owners: bool, rule: RetentionRule | None = None
                  ) -> Iterator[tuple[list[Any], list[str], int]]:
        """Batches of a column step in key order: (keys taken, their owners, keys read)."""
        ds = self.res.datasets[tr.dataset]
        key = ds.tables[tr.table].c[ds.mapped[tr.table].key]
        active = self.active_since(rule, tr) if rule is not None else None
        last: Any = None
        while True:
            q = select(key).where(where)
            if last is not None:
                q = q.where(key > last)
            with storage_errors(ds.engine.url), ds.engine.connect() as conn:
                rows = conn.execute(q.order_by(key).limit(self.batch)).all()
            if not rows:
                return
            last = rows[-1][0]
            keys, subjects = self._batch_keys(ds, tr, [r[0] for r in rows], where, others,
                                              need_owners, active)
            yield keys, subjects, len(rows)

    def _batch_keys(self, ds: SqlDataset, tr: TableRules, keys: list[Any],
                    where: ColumnElement[bool], others: list[str], need_owners: bool,
                    active: datetime | None = None) -> tuple[list[Any], list[str]]:
        """The keys a batch takes and the subjects owning them (without the rows of people
        the engine saw active after ``active``)."""
        if need_owners:
            owners = self.owners(ds, tr.table, keys, where=where)
            if active is not None:
                with self.engine() as s:
                    busy = people.active_after(
                        s, active, sorted({o for own in owners.values() for o in own}))
                keys = [k for k in keys if not owners.get(k, set()) & busy]
                owners = {k: owners[k] for k in keys if k in owners}
            if others:
                return self._filter_by_others(keys, owners, others)
            return keys, sorted({s for ss in owners.values() for s in ss})
        if others:
            return [], []  # rows held by a purpose only the engine can end, not tied to it
        return keys, []

    # ---- steps dated by the engine's records ------------------------------------------

    def fired_pages(self, rule: RetentionRule) -> Iterator[list[str]]:
        """Pages of subjects whose ``rule`` has fired by the engine's records."""
        purposes = [p for p in self.res.purposes_of(rule.id) if p != HOLD]
        after = ""
        while True:
            with self.engine() as s:
                page, nxt = people.page_fired(s, self.res.manifest, rule, purposes,
                                              self.now, self.j, after, self.batch)
            page = [sid for sid in page if sid not in self.restricted[0]]  # Art. 18
            if page:
                yield page
            if nxt is None:
                return
            after = nxt

    def who_ended(self, tables: list[TableRules], page: list[str]
                  ) -> tuple[dict[str, set[str]], Idents]:
        """For a page of subjects: the purposes holding ``tables`` that have ended for each
        (by the engine's records), and their identities."""
        holders = {p for tr in tables for p in tr.purposes()}
        engine_rules = self.engine_rules()
        with self.engine() as s:
            ended = people.ended(s, self.res.manifest, self.j, page, holders, engine_rules,
                                 self.now)
            idents = people.identities(s, page)
        return ended, idents

    def page_rows(self, rule: RetentionRule, tables: list[TableRules], page: list[str],
                  ended: dict[str, set[str]], idents: Idents
                  ) -> Iterator[tuple[TableRules, ColumnElement[bool]]]:
        """The rows a page of subjects loses, table by table in deletion order: one
        condition for each group of them who ended the same purposes holding the table."""
        ds = self.res.datasets[tables[0].dataset]
        order = {name: i for i, name in enumerate(ds.deletion_order())}
        for tr in sorted(tables, key=lambda x: order[x.table]):
            groups: dict[frozenset[str], list[str]] = defaultdict(list)
            for sid in page:
                groups[frozenset(ended.get(sid, set()) & set(tr.purposes()))].append(sid)
            for ended_here, members in groups.items():
                if not ended_here:
                    continue
                where = self.row_clause(rule, tr, ds, engine_ended=ended_here)
                if where is None:
                    continue
                yield tr, and_(where, clauses.owned(ds, tr.table, people.merged(idents, members)))

    def gone(self, rule: RetentionRule, tables: list[TableRules], page: list[str],
             ended: dict[str, set[str]]) -> tuple[TableRules | None, list[str]]:
        """The table that identifies people (their profile), if the step erases it, and
        who of ``page`` loses their profile by it."""
        profile = next((tr for tr in tables if self.erases_profile(rule, tr)), None)
        if profile is None:
            return None, []
        # Every purpose holding the profile has ended for them (or ends by a date in the
        # rows, checked row by row): with no live profile row left they are gone, and the
        # engine forgets them too (or restricts them to a legal hold).
        mine = set(self.res.purposes_of(rule.id))
        return profile, [sid for sid in page if mine & ended.get(sid, set()) and all(
            p in ended.get(sid, set()) or any(h.dating.kind != "engine"
                                              for h in profile.of_purpose(p))
            for p in profile.purposes())]

    # ---- which rows, and what happens to them -----------------------------------------

    def row_clause(self, rule: RetentionRule, tr: TableRules, ds: SqlDataset,
                   engine_ended: frozenset[str] = frozenset(),
                   fired_here: ColumnElement[bool] | None = None, *, guarded: bool = True
                   ) -> ColumnElement[bool] | None:
        """Rows of the table this step acts on: the rule fired (column-dated; or
        ``fired_here``, a narrower form of it), every other purpose holding the table has
        ended, not kept on request, not yet acted on; and, to delete them, no row left
        refers to them (``guarded=False``: that last check left out)."""
        mine = set(self.res.purposes_of(rule.id))
        parts: list[ColumnElement[bool]] = []
        h = holding(tr, rule)
        if h.dating.kind != "engine":
            fired = fired_here if fired_here is not None else clauses.fired(
                ds, tr.table, rule, h.dating, self.now, self.j)
            assert fired is not None
            parts.append(fired)
        elif not (mine & engine_ended):
            return None
        for p in tr.purposes():
            if p in mine or p in engine_ended:
                continue
            cols = [c for hh in tr.of_purpose(p) if hh.dating.kind != "engine"
                    and (c := clauses.fired(ds, tr.table, hh.rule, hh.dating, self.now, self.j))
                    is not None]
            if cols:
                parts.append(or_(*cols))
            elif h.dating.kind == "engine":
                parts.append(false())  # held by a purpose that has not ended for them
        if self.restricted[1]:  # rows of people with a restriction in force (Art. 18)
            parts.append(not_(clauses.owned(ds, tr.table, self.restricted[1])))
        limit = clauses.cutoff(rule, self.now, self.j)
        kept = clauses.kept_on_request(ds, tr.table, rule, limit, self.j) \
            if limit is not None else None
        if kept is not None:
            parts.append(~kept)
        how = self.how(rule, tr)
        if how == "none":
            if rule.action != "restrict":
                return None
        elif how == "delete":
            guard = clauses.unreferenced(ds, tr.table) if guarded else None
            if guard is not None:
                parts.append(guard)
        else:
            _, pending = clauses.erase_values(ds, ds.mapped[tr.table], how)
            parts.append(pending)
        return and_(true(), *parts)

    def how(self, rule: RetentionRule, tr: TableRules) -> str:
        """delete, an erase action for the columns (mask, null, hash), or none."""
        spec = self.res.datasets[tr.dataset].mapped[tr.table]
        if rule.action == "restrict":
            return "none"
        if rule.action == "anonymise":
            return "mask" if spec.erase in ("delete_row", "keep") else spec.erase
        if spec.erase == "keep":
            return "delete" if spec.hold else "none"
        return "delete" if spec.erase == "delete_row" else spec.erase

    def erases_profile(self, rule: RetentionRule, tr: TableRules) -> bool:
        """Whether the step erases rows that identify people (so people may be gone)."""
        spec = self.res.datasets[tr.dataset].mapped[tr.table]
        return any(c.identity for c in spec.columns) and self.how(rule, tr) != "none"

    def drop_links(self, ds: SqlDataset, idents: Idents, gone: list[str]) -> dict[str, int]:
        """Delete the rows of link tables (no personal column, only references to people,
        like a guardian link) that belong to people whose profile has gone: no purpose
        holds such a row, so no rule would ever end it. Rows deleted per table."""
        links = [name for name, spec in ds.mapped.items()
                 if not any(c.categories or c.identity for c in spec.columns)
                 and any(e.table == name for e in ds.edges) and spec.erase != "keep"]
        if not links or not gone:
            return {}
        who = people.merged(idents, gone)
        out: dict[str, int] = {}
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            for name in sorted(links, key=ds.deletion_order().index):
                t = ds.tables[name]
                guard = clauses.unreferenced(ds, name)
                where = clauses.owned(ds, name, who)
                n = conn.execute(t.delete().where(where if guard is None else
                                                  and_(where, guard))).rowcount
                if n:
                    out[name] = n
        return out

    def engine_rules(self) -> dict[str, list[RetentionRule]]:
        """Per purpose, its rules dated by the engine's records."""
        out: dict[str, list[RetentionRule]] = defaultdict(list)
        for tr in self.res.tables:
            for h in tr.holdings:
                if h.dating.kind == "engine" and h.rule not in out[h.purpose]:
                    out[h.purpose].append(h.rule)
        return out

    def engine_others(self, rule: RetentionRule, tr: TableRules) -> list[str]:
        """Other purposes holding the table that only the engine's records can end."""
        mine = set(self.res.purposes_of(rule.id))
        return [p for p in tr.purposes() if p not in mine
                and all(h.dating.kind == "engine" for h in tr.of_purpose(p))]

    # ---- whose rows they are ----------------------------------------------------------

    def owners(self, ds: SqlDataset, table: str, keys: list[Any],
               session: Session | None = None, where: ColumnElement[bool] | None = None
               ) -> dict[Any, set[str]]:
        """Engine subjects owning each row, by the identity columns it leads to."""
        path = _identity_path(ds, table)
        if path is None or not keys:
            return {}
        edges, top = path
        t = ds.tables[table]
        cols = [c for c in ds.mapped[top].columns if c.identity]
        joined: Any = t
        current = t
        for e in edges:
            parent = ds.tables[e.target]
            joined = joined.join(parent, current.c[e.column] == parent.c[e.target_column])
            current = parent
        k = t.c[ds.mapped[table].key]
        # The keys come in key order: a range scan, filtered here, binds two values, not
        # thousands.
        q = select(k, *(current.c[c.name] for c in cols)).select_from(joined).where(
            k >= min(keys), k <= max(keys))
        if where is not None:  # the step's own condition: only the rows it takes come back
            q = q.where(where)
        taken = set(keys)
        pairs: dict[Any, list[tuple[str, str]]] = defaultdict(list)
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            for r in conn.execute(q):
                if r[0] not in taken:
                    continue
                for col, value in zip(cols, r[1:], strict=True):
                    if value is not None:
                        kind = "external_id" if col.identity == "user_id" else str(col.identity)
                        pairs[r[0]].append((kind, str(value).casefold() if kind == "email"
                                            else str(value)))
        wanted = [p for ps in pairs.values() for p in ps]
        if session is not None:
            found = people.owners_of(session, wanted)
        else:
            with self.engine() as s:
                found = people.owners_of(s, wanted)
        return {k: {found[p] for p in ps if p in found} for k, ps in pairs.items()}

    def _filter_by_others(self, keys: list[Any], owners: dict[Any, set[str]],
                          others: list[str]) -> tuple[list[Any], list[str]]:
        """Keys whose owners have ended every other purpose (by the engine's records); a
        row no subject of the engine owns is free of consent purposes only."""
        subjects = sorted({s for ss in owners.values() for s in ss})
        with self.engine() as s:
            ended = people.ended(s, self.res.manifest, self.j, subjects, others,
                                 self.engine_rules(), self.now)
        consent_only = all(_consent(self.res, p) for p in others)
        out, owning = [], set()
        for k in keys:
            own = owners.get(k, set())
            if (own and all(set(others) <= ended.get(s, set()) for s in own)) or (
                    not own and consent_only):
                out.append(k)
                owning.update(own)
        return out, sorted(owning)

    def live_owners(self, ds: SqlDataset, tr: TableRules, idents: Idents, page: list[str]
                    ) -> set[str]:
        """Subjects of ``page`` who still have a row in ``tr`` not yet acted on."""
        spec = ds.mapped[tr.table]
        t = ds.tables[tr.table]
        how = "delete" if spec.erase in ("delete_row", "keep") else spec.erase
        pending: ColumnElement[bool] | None = None
        if how != "delete":
            _, pending = clauses.erase_values(ds, spec, how)
        live: set[str] = set()
        ids = [c for c in spec.columns if c.identity]
        if not ids or not page:
            return live
        lookup: dict[tuple[str, str], str] = {}
        for sid in page:
            for kind, values in idents.get(sid, {}).items():
                for v in values:
                    lookup[(kind, v)] = sid
        where = clauses.owned(ds, tr.table, people.merged(idents, page))
        if pending is not None:
            where = and_(where, pending)
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            for r in conn.execute(select(*(t.c[c.name] for c in ids)).where(where)):
                for col, value in zip(ids, r, strict=True):
                    if value is None:
                        continue
                    kind = "external_id" if col.identity == "user_id" else str(col.identity)
                    text = str(value).casefold() if kind == "email" else str(value)
                    if (kind, text) in lookup:
                        live.add(lookup[(kind, text)])
        return live

    def held(self, session: Session, ds: SqlDataset, idents: Idents, subjects: list[str]
             ) -> dict[str, list[str]]:
        """Per subject, the purposes whose legal hold still keeps rows of theirs (they are
        restricted to those): one query per held table for the whole batch."""
        held: dict[str, list[str]] = defaultdict(list)
        if not subjects:
            return held
        merged = people.merged(idents, subjects)
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            for spec in ds.spec.tables:
                if not spec.hold:
                    continue
                t = ds.tables[spec.name]
                keys = list(conn.scalars(select(t.c[spec.key]).where(
                    clauses.owned(ds, spec.name, merged))))
                purposes = self.res.purposes_of(spec.hold)
                for owners in self.owners(ds, spec.name, keys, session).values():
                    for sid in owners:
                        held[sid] += [p for p in purposes if p not in held[sid]]
        return held


def holding(tr: TableRules, rule: RetentionRule) -> Holding:
    """The holding by which ``rule`` covers the table."""
    return next(h for h in tr.holdings if h.rule.id == rule.id)


def engine_dated(rule: RetentionRule, tr: TableRules) -> bool:
    """Whether the engine's records, not a column, date ``rule`` for the table."""
    return holding(tr, rule).dating.kind == "engine"


def by_dataset(trs: list[TableRules]) -> list[list[TableRules]]:
    """The tables grouped by dataset, in the order the datasets first come."""
    out: dict[str, list[TableRules]] = defaultdict(list)
    for tr in trs:
        out[tr.dataset].append(tr)
    return list(out.values())


def _consent(res: Resolution, purpose_id: str) -> bool:
    p = next((p for p in res.manifest.purposes if p.id == purpose_id), None)
    return p is not None and p.legal_basis == "consent"


def _identity_path(ds: SqlDataset, table: str) -> tuple[tuple[Any, ...], str] | None:
    """The references from ``table`` up to the nearest table with identity columns."""
    frontier: list[tuple[str, tuple[Any, ...]]] = [(table, ())]
    seen = {table}
    while frontier:
        nxt: list[tuple[str, tuple[Any, ...]]] = []
        for name, path in frontier:
            if any(c.identity for c in ds.mapped[name].columns):
                return path, name
            for e in ds.edges:
                if e.table == name and e.target not in seen:
                    seen.add(e.target)
                    nxt.append((e.target, (*path, e)))
        frontier = nxt
    return None
