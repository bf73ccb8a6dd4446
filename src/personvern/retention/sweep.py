"""Sweeps: ``plan(now)`` says what retention would do, rule by rule; ``run(now)`` does it.

Work goes in set-based batches per (rule, table) step. A batch is recorded as pending in
the engine before the service's data changes and marked done together with the engine's
side (erasing or restricting subjects, the audit event), so a crash anywhere is finished
by the next run: the service's statements re-check their condition and change nothing
twice, and the pending batch's engine side is done then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, false, func, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from personvern.errors import InvalidInput
from personvern.law import Jurisdiction
from personvern.manifest.model import RetentionRule
from personvern.requests.datamap import SqlDataset
from personvern.retention import clauses, people
from personvern.retention.resolve import HOLD, Resolution, TableRules
from personvern.retention.tables import RetentionBatch, RetentionSweep
from personvern.storage.audit import append_audit
from personvern.storage.engine import storage_errors

ACTOR = "retention"
EXAMPLES = 3
Progress = Callable[[str, int], None]


@dataclass
class StepResult:
    """What one (rule, table) step did or would do."""

    rule: str
    dataset: str
    table: str
    action: str
    date_from: str
    rows: int = 0
    examples: list[Any] = field(default_factory=list)
    erased_subjects: int = 0
    restricted_subjects: int = 0
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(self.__dict__)


@dataclass
class Report:
    """A plan or a run: the steps, notices queued, and what no rule can date."""

    now: datetime
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    notices: int = 0
    undated: list[dict[str, str]] = field(default_factory=list)
    resumed_batches: int = 0
    sweep_id: int | None = None

    def as_dict(self, res: Resolution, lang: str = "en") -> dict[str, Any]:
        """Rule by rule, with the reason in words."""
        rules = []
        for rule in res.manifest.retention:
            steps = [s.as_dict() for s in self.steps if s.rule == rule.id]
            if not steps:
                continue
            rules.append({"rule": rule.id, "reason": reason(rule, res, lang),
                          "action": rule.action, "rows": sum(s["rows"] for s in steps),
                          "tables": steps})
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "sweep": self.sweep_id,
                "rules": rules, "notices": self.notices, "undated": self.undated,
                "resumed_batches": self.resumed_batches}


def reason(rule: RetentionRule, res: Resolution, lang: str = "en") -> str:
    """Why the rule acts, in words: what it says, its trigger, period and statute."""
    from personvern.requests.fulfil import rule_text

    extra = " plus the right-of-withdrawal period" if rule.plus_withdrawal_period else ""
    if rule.trigger == "fiscal_year_end":
        when = (f"{rule.duration} after the end of the fiscal year of the document's date"
                + (" (at least the bookkeeping years of the law)" if rule.bookkeeping else ""))
    else:
        when = f"{rule.duration} after {rule.trigger.replace('_', ' ')}{extra}"
    text = f"{rule_text(rule, lang)} [{when}; then {rule.action}"
    purposes = [p for p in res.purposes_of(rule.id) if p != HOLD]
    if purposes:
        text += f"; purposes: {', '.join(purposes)}"
    if rule.statute:
        text += f"; {rule.statute}"
    return text + "]"


@dataclass
class Sweeper:
    """One plan or run over the resolved rules."""

    res: Resolution
    j: Jurisdiction
    sessions: sessionmaker[Session]
    now: datetime
    batch: int = 1000
    dry_run: bool = True
    progress: Progress | None = None
    by: str | None = None  # who or what started the sweep, for its history
    report: Report = field(init=False)
    # A plan changes nothing, so a row an earlier step would take is not counted twice.
    planned: dict[tuple[str, str], set[Any]] = field(default_factory=lambda: defaultdict(set))
    sweep_id: int | None = None

    def __post_init__(self) -> None:
        self.report = Report(self.now, self.dry_run)

    # ---- the engine's transactions ----------------------------------------------------

    @contextmanager
    def engine(self) -> Iterator[Session]:
        """One engine transaction."""
        from personvern.storage.session import transaction

        with transaction(self.sessions) as session:
            yield session

    # ---- the whole sweep --------------------------------------------------------------

    def execute(self) -> Report:
        """Plan (dry run) or run every step, then the notices."""
        for tr in self.res.tables:
            for pid, rid, why in tr.undated:
                self.report.undated.append({"dataset": tr.dataset, "table": tr.table,
                                            "purpose": pid, "rule": rid, "why": why})
        if not self.dry_run:
            self._begin()
        for rule in self.res.manifest.retention:
            tables = [tr for r, tr in self.res.steps() if r.id == rule.id]
            # Referring rows first: a parent's date column may be erased with the parent.
            tables.sort(key=self._order)
            engine_dated = [tr for tr in tables if _holding(tr, rule).dating.kind == "engine"]
            for tr in tables:
                if tr not in engine_dated:
                    self._column_step(rule, tr)
            if engine_dated:
                self._engine_step(rule, engine_dated)
        self._notices()
        if not self.dry_run:
            self._release()
            self._finish()
        return self.report

    def _order(self, tr: TableRules) -> tuple[str, int]:
        ds = self.res.datasets[tr.dataset]
        return tr.dataset, ds.deletion_order().index(tr.table)

    def _release(self) -> None:
        """Erase subjects kept only for a legal hold once the hold's rows are gone."""
        from personvern.retention.tables import RetentionRestriction

        with self.engine() as s:
            restricted = [r.subject_id for r in s.scalars(select(RetentionRestriction))
                          if (rule := self.res.manifest.retention_rule(r.rule)) is None
                          or rule.action != "restrict"]  # a restrict rule's is for good
        done: list[str] = []
        for start in range(0, len(restricted), self.batch):
            chunk = restricted[start:start + self.batch]
            with self.engine() as s:
                idents = people.identities(s, chunk)
                still: set[str] = set()
                for ds in self.res.datasets.values():
                    still.update(self._held(s, ds, idents, chunk))
            done += [sid for sid in chunk if sid not in still]
        if done:
            with self.engine() as s:
                people.erase_subjects(s, done, self.now)
                append_audit(s, lambda: self.now, ACTOR, "retention.release", "subjects",
                             {"sweep": self.sweep_id, "erased_subjects": len(done)})

    def _begin(self) -> None:
        with self.engine() as s:
            last = s.scalar(select(func.max(RetentionSweep.now)))
            if last is not None and self.now < last:
                raise InvalidInput(
                    f"the clock went backwards: a sweep already ran at {last.isoformat()}, "
                    f"later than --now {self.now.isoformat()}; nothing was changed")
        self.report.resumed_batches = self._resume()
        with self.engine() as s:
            sweep = RetentionSweep(now=self.now, started_at=self.now, batch_size=self.batch,
                                   totals={})
            s.add(sweep)
            s.flush()
            self.sweep_id = self.report.sweep_id = sweep.id
            append_audit(s, lambda: self.now, ACTOR, "retention.sweep.start",
                         f"sweep:{sweep.id}", {"now": self.now.isoformat(),
                                                "batch": self.batch, "by": self.by})

    def _finish(self) -> None:
        totals: dict[str, int] = defaultdict(int)
        for st in self.report.steps:
            totals[f"{st.rule}:{st.dataset}.{st.table}"] += st.rows
        with self.engine() as s:
            sweep = s.get(RetentionSweep, self.sweep_id)
            assert sweep is not None
            sweep.finished_at = self.now
            sweep.totals = {**totals, "notices": self.report.notices}
            append_audit(s, lambda: self.now, ACTOR, "retention.sweep.finish",
                         f"sweep:{sweep.id}", {"rows": sum(totals.values()),
                                               "notices": self.report.notices})

    def _resume(self) -> int:
        """Finish the pending batches of sweeps a crash left open; close those sweeps."""
        with self.engine() as s:
            open_sweeps = list(s.scalars(select(RetentionSweep).where(
                RetentionSweep.finished_at.is_(None)).order_by(RetentionSweep.id)))
            pending = [(b.id, b.sweep_id, b.step, list(b.keys), list(b.subject_ids))
                       for b in s.scalars(select(RetentionBatch).where(
                           RetentionBatch.state == "pending").order_by(RetentionBatch.id))]
            nows = {sw.id: sw.now for sw in open_sweeps}
        for batch_id, sweep_id, step, keys, subjects in pending:
            rule_id, ds_id, table, *how = step.split("|")
            rule = self.res.manifest.retention_rule(rule_id)
            if rule is None:  # the rule left the manifest: nothing to finish by it
                continue
            redo = Sweeper(self.res, self.j, self.sessions, nows.get(sweep_id, self.now),
                           self.batch, dry_run=False)
            redo.sweep_id = sweep_id
            if how == ["direct"]:  # the next sweep takes these rows again if still due
                with self.engine() as s:
                    b = s.get(RetentionBatch, batch_id)
                    if b is not None:
                        b.state, b.done_at = "done", self.now
                continue
            if table == "*":
                trs = [tr for r, tr in self.res.steps()
                       if r.id == rule_id and tr.dataset == ds_id]
                redo._engine_page(rule, trs, subjects, batch_id)
            else:
                tr = next(t for t in self.res.tables if t.dataset == ds_id and t.table == table)
                redo._column_batch(rule, tr, keys, how == ["range"], subjects, batch_id)
        with self.engine() as s:
            for sw in s.scalars(select(RetentionSweep).where(
                    RetentionSweep.finished_at.is_(None))):
                sw.finished_at = self.now
                sw.totals = {**(sw.totals or {}), "interrupted": True}
        return len(pending)

    # ---- steps dated by a column ------------------------------------------------------

    def _column_step(self, rule: RetentionRule, tr: TableRules) -> None:
        ds = self.res.datasets[tr.dataset]
        spec = ds.mapped[tr.table]
        t = ds.tables[tr.table]
        result = self._result(rule, tr)
        where = self._row_clause(rule, tr, ds)
        if where is None:
            return
        key = t.c[spec.key]
        others = self._engine_others(rule, tr)
        owned_via = _identity_path(ds, tr.table)
        need_owners = owned_via is not None and bool(others or self._erases_profile(rule, tr))
        if need_owners and not others:
            with self.engine() as s:  # nobody registered with the engine: nobody to erase
                need_owners = people.has_identities(s)
        if not self.dry_run and not need_owners and not others and self._how(rule, tr) != "none":
            self._direct(rule, tr, where, result)
            if result.rows:
                self.report.steps.append(result)
            return
        last: Any = None
        while True:
            q = select(key).where(where)
            if last is not None:
                q = q.where(key > last)
            with storage_errors(ds.engine.url), ds.engine.connect() as conn:
                rows = conn.execute(q.order_by(key).limit(self.batch)).all()
            if not rows:
                break
            last = rows[-1][0]
            keys, subjects = self._batch_keys(ds, tr, [r[0] for r in rows], where, others,
                                              need_owners)
            if not keys:
                continue
            if self.dry_run:
                seen = self.planned[(tr.dataset, tr.table)]
                keys = [k for k in keys if k not in seen]
                seen.update(keys)
                result.rows += len(keys)
                result.examples += keys[:EXAMPLES - len(result.examples)]
                continue
            result.examples += keys[:EXAMPLES - len(result.examples)]
            # Every row of the range is taken: the batch is the range (no long IN list).
            whole = len(keys) == len(rows)
            recorded = [keys[0], keys[-1]] if whole else keys
            with self.engine() as s:
                b = RetentionBatch(sweep_id=self.sweep_id, step=f"{rule.id}|{tr.dataset}|"
                                   f"{tr.table}|{'range' if whole else 'keys'}", seq=0,
                                   state="pending", keys=recorded, subject_ids=subjects, rows=0)
                s.add(b)
                s.flush()
                batch_id = b.id
            self._column_batch(rule, tr, recorded, whole, subjects, batch_id, result)
            if len(rows) < self.batch:
                break
        if result.rows or result.note:
            self.report.steps.append(result)

    def _batch_keys(self, ds: SqlDataset, tr: TableRules, keys: list[Any],
                    where: ColumnElement[bool], others: list[str], need_owners: bool
                    ) -> tuple[list[Any], list[str]]:
        """The keys a batch takes and the subjects owning them."""
        if need_owners:
            owners = self._owners(ds, tr.table, keys, where=where)
            if others:
                return self._filter_by_others(keys, owners, others)
            return keys, sorted({s for ss in owners.values() for s in ss})
        if others:
            return [], []  # rows held by a purpose only the engine can end, not tied to it
        return keys, []

    def _direct(self, rule: RetentionRule, tr: TableRules, where: ColumnElement[bool],
                result: StepResult) -> None:
        """A step with no engine side: each batch is one statement on the service, the
        rows chosen by a subquery and their keys returned (no keys travel to the
        database). Re-applying a batch is harmless: the condition is checked again."""
        ds = self.res.datasets[tr.dataset]
        t = ds.tables[tr.table]
        key = t.c[ds.mapped[tr.table].key]
        dating = _holding(tr, rule).dating
        if len(dating.path) == 1:
            self._direct_by_parent(rule, tr, result)
            return
        # Rows done no longer match (deleted, or erased: the condition says "not yet
        # erased"), so each batch takes the next rows the planner finds through its index;
        # no key order and no cursor (sorting every match for every batch is quadratic).
        chosen = key.in_(select(key).where(where).limit(self.batch).scalar_subquery())
        self._direct_batches(rule, tr, result, lambda _last: chosen)

    def _direct_by_parent(self, rule: RetentionRule, tr: TableRules, result: StepResult
                          ) -> None:
        """Rows dated by the table they refer to (sessions by their user): batches walk the
        parents in key order, a window of ``batch`` parents whose date has passed at a
        time, and take their rows; the whole list of dated parents is never rebuilt."""
        ds = self.res.datasets[tr.dataset]
        dating = _holding(tr, rule).dating
        edge = dating.path[0]
        parent = ds.tables[edge.target]
        pkey = parent.c[edge.target_column]
        pfired = clauses.fired(ds, edge.target, rule, replace(dating, path=()), self.now, self.j)
        assert pfired is not None
        child = ds.tables[tr.table].c[edge.column]

        def chosen(last: Any) -> ColumnElement[bool]:
            window = select(pkey).where(pfired)
            if last is not None:
                window = window.where(pkey > last)
            ids = window.order_by(pkey).limit(self.batch).subquery()
            where = self._row_clause(rule, tr, ds, fired_here=child.in_(select(ids.c[0])))
            assert where is not None
            return where

        def next_last(last: Any) -> Any:
            window = select(pkey).where(pfired)
            if last is not None:
                window = window.where(pkey > last)
            ids = window.order_by(pkey).limit(self.batch).subquery()
            with storage_errors(ds.engine.url), ds.engine.connect() as conn:
                return conn.scalar(select(func.max(ids.c[0])))

        self._direct_batches(rule, tr, result, chosen, next_last)

    def _direct_batches(self, rule: RetentionRule, tr: TableRules, result: StepResult,
                        chosen: Callable[[Any], ColumnElement[bool]],
                        next_last: Callable[[Any], Any] | None = None) -> None:
        """Run the batches: record pending, one statement, record done with the next."""
        ds = self.res.datasets[tr.dataset]
        last: Any = None
        pending: tuple[int, int] | None = None  # (batch id, rows) of the batch before
        while True:
            upper = next_last(last) if next_last is not None else None
            if next_last is not None and upper is None:
                break
            with self.engine() as s:  # one engine commit per batch: close one, open the next
                if pending is not None:
                    self._done(s, rule, tr, *pending)
                b = RetentionBatch(sweep_id=self.sweep_id, step=f"{rule.id}|{tr.dataset}|"
                                   f"{tr.table}|direct", seq=0, state="pending",
                                   keys=[last], subject_ids=[], rows=0)
                s.add(b)
                s.flush()
                batch_id = b.id
            with storage_errors(ds.engine.url), ds.engine.begin() as conn:
                got = self._apply(conn, rule, tr, chosen(last), returning=True)
            assert isinstance(got, list)
            pending = (batch_id, len(got))
            result.rows += len(got)
            result.examples += sorted(got)[:EXAMPLES - len(result.examples)]
            if self.progress is not None:
                self.progress(f"{rule.id}: {tr.dataset}.{tr.table}", len(got))
            if next_last is not None:
                last = upper
            elif len(got) < self.batch:
                break
            else:
                last = max(got)
        if pending is not None:
            with self.engine() as s:
                self._done(s, rule, tr, *pending)

    def _done(self, s: Session, rule: RetentionRule, tr: TableRules, batch_id: int,
              rows: int) -> None:
        """Mark a batch done and audit it (no engine side: nobody to erase)."""
        b = s.get(RetentionBatch, batch_id)
        if b is not None:
            b.state, b.rows, b.done_at = "done", rows, self.now
        append_audit(s, lambda: self.now, ACTOR, "retention.batch", f"{tr.dataset}.{tr.table}",
                     {"sweep": self.sweep_id, "rule": rule.id, "action": rule.action,
                      "rows": rows, "erased_subjects": 0, "restricted_subjects": 0})

    def _column_batch(self, rule: RetentionRule, tr: TableRules, keys: list[Any], ranged: bool,
                      subjects: list[str], batch_id: int,
                      result: StepResult | None = None) -> None:
        """Apply one pending batch to the service (the condition checked again, so applying
        it twice changes nothing), then the engine's side; mark it done."""
        ds = self.res.datasets[tr.dataset]
        key = ds.tables[tr.table].c[ds.mapped[tr.table].key]
        where = self._row_clause(rule, tr, ds)
        n = 0
        if where is not None and keys:
            scope = and_(key >= keys[0], key <= keys[-1]) if ranged else key.in_(keys)
            with storage_errors(ds.engine.url), ds.engine.begin() as conn:
                n = self._apply(conn, rule, tr, and_(scope, where))
        self._engine_side(rule, tr, subjects, batch_id, n, result)

    # ---- steps dated by the engine's records ----------------------------------------

    def _engine_step(self, rule: RetentionRule, trs: list[TableRules]) -> None:
        purposes = [p for p in self.res.purposes_of(rule.id) if p != HOLD]
        by_ds: dict[str, list[TableRules]] = defaultdict(list)
        for tr in trs:
            by_ds[tr.dataset].append(tr)
        for ds_id, tables in by_ds.items():
            results = {tr.table: self._result(rule, tr) for tr in tables}
            after = ""
            while True:
                with self.engine() as s:
                    page, nxt = people.page_fired(s, self.res.manifest, rule, purposes,
                                                  self.now, self.j, after, self.batch)
                if page:
                    if self.dry_run:
                        self._engine_page(rule, tables, page, None, results)
                    else:
                        with self.engine() as s:
                            b = RetentionBatch(sweep_id=self.sweep_id, step=f"{rule.id}|{ds_id}|*",
                                               seq=0, state="pending", keys=[], subject_ids=page,
                                               rows=0)
                            s.add(b)
                            s.flush()
                            batch_id = b.id
                        self._engine_page(rule, tables, page, batch_id, results)
                if nxt is None:
                    break
                after = nxt
            for tr in tables:
                r = results[tr.table]
                if r.rows or r.erased_subjects or r.restricted_subjects or r.note:
                    self.report.steps.append(r)

    def _engine_page(self, rule: RetentionRule, tables: list[TableRules], page: list[str],
                     batch_id: int | None, results: dict[str, StepResult] | None = None) -> None:
        """One page of subjects whose rule fired: their rows in every covered table."""
        if not tables:
            return
        ds = self.res.datasets[tables[0].dataset]
        holders = {p for tr in tables for p in tr.purposes()}
        engine_rules = self._engine_rules()
        with self.engine() as s:
            ended = people.ended(s, self.res.manifest, self.j, page, holders, engine_rules,
                                 self.now)
            idents = people.identities(s, page)
        total = 0
        order = {name: i for i, name in enumerate(ds.deletion_order())}
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            for tr in sorted(tables, key=lambda x: order[x.table]):
                groups: dict[frozenset[str], list[str]] = defaultdict(list)
                for sid in page:
                    groups[frozenset(ended.get(sid, set()) & set(tr.purposes()))].append(sid)
                for ended_here, members in groups.items():
                    if not ended_here:
                        continue
                    where = self._row_clause(rule, tr, ds, engine_ended=ended_here)
                    if where is None:
                        continue
                    scoped = and_(where, clauses.owned(ds, tr.table,
                                                       people.merged(idents, members)))
                    if self.dry_run:
                        n, ex = self._count(conn, tr, scoped)
                    else:
                        n, ex = self._apply(conn, rule, tr, scoped), []
                    total += n
                    if results is not None:
                        r = results[tr.table]
                        r.rows += n
                        r.examples += ex[:EXAMPLES - len(r.examples)]
        profile = next((tr for tr in tables if self._erases_profile(rule, tr)), None)
        gone: list[str] = []
        if profile is not None:
            # Every purpose holding the profile has ended for them (or ends by a date in
            # the rows, checked row by row above): with no live profile row left they are
            # gone, and the engine forgets them too (or restricts them to a legal hold).
            mine = set(self.res.purposes_of(rule.id))
            candidates = [sid for sid in page if mine & ended.get(sid, set()) and all(
                p in ended.get(sid, set()) or any(h.dating.kind == "column"
                                                  for h in profile.of_purpose(p))
                for p in profile.purposes())]
            gone = candidates
        if self.dry_run:
            if results is not None and profile is not None:
                results[profile.table].erased_subjects += len(gone)
            return
        target = profile or tables[0]
        res = results.get(target.table) if results else None
        self._engine_side(rule, target, gone, batch_id, total, res)

    # ---- the engine's side of a batch --------------------------------------------------

    def _engine_side(self, rule: RetentionRule, tr: TableRules, subjects: list[str],
                     batch_id: int | None, rows: int, result: StepResult | None) -> None:
        """Erase or restrict the subjects whose profile went, audit, mark the batch done."""
        if self.dry_run:
            return
        ds = self.res.datasets[tr.dataset]
        erase: list[str] = []
        restrict: dict[str, list[str]] = {}
        with self.engine() as s:
            alive = sorted(s.scalars(select(people.S.c.id).where(
                people.S.c.id.in_(subjects), people.S.c.erased_at.is_(None)))) if subjects \
                else []
            idents = people.identities(s, alive)
            # Only people with no live row left in any table that identifies them are gone.
            remaining = set().union(*(self._live_owners(ds, t, idents, alive)
                                      for t in self.res.tables if t.dataset == tr.dataset))
            gone = [a for a in alive if a not in remaining]
            holds = self._held(s, ds, idents, gone)
            for sid in gone:
                held = holds.get(sid, [])
                if rule.action == "restrict" or held:
                    restrict[sid] = held or [p for p in self.res.purposes_of(rule.id)
                                             if p != HOLD]
                else:
                    erase.append(sid)
            people.erase_subjects(s, erase, self.now)
            newly = people.restrict_subjects(
                s, restrict, rule.id, self.now,
                f"retention rule {rule.id}: other purposes have ended")
            if batch_id is not None:
                b = s.get(RetentionBatch, batch_id)
                if b is not None:
                    b.state, b.rows, b.done_at = "done", rows, self.now
            append_audit(s, lambda: self.now, ACTOR, "retention.batch",
                         f"{tr.dataset}.{tr.table}",
                         {"sweep": self.sweep_id, "rule": rule.id, "action": rule.action,
                          "rows": rows, "erased_subjects": len(erase),
                          "restricted_subjects": newly})
        if result is not None:
            result.rows += rows if batch_id is not None and result.dataset == tr.dataset \
                and not _engine_dated(rule, tr) else 0
            result.erased_subjects += len(erase)
            result.restricted_subjects += newly
        if self.progress is not None:
            self.progress(f"{rule.id}: {tr.dataset}.{tr.table}", rows)

    def _held(self, session: Session, ds: SqlDataset, idents: dict[str, dict[str, list[str]]],
              subjects: list[str]) -> dict[str, list[str]]:
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
                for owners in self._owners(ds, spec.name, keys, session).values():
                    for sid in owners:
                        held[sid] += [p for p in purposes if p not in held[sid]]
        return held

    # ---- pieces ------------------------------------------------------------------------

    def _result(self, rule: RetentionRule, tr: TableRules) -> StepResult:
        h = _holding(tr, rule)
        return StepResult(rule.id, tr.dataset, tr.table, self._action_words(rule, tr),
                          h.dating.describe())

    def _engine_rules(self) -> dict[str, list[RetentionRule]]:
        out: dict[str, list[RetentionRule]] = defaultdict(list)
        for tr in self.res.tables:
            for h in tr.holdings:
                if h.dating.kind == "engine" and h.rule not in out[h.purpose]:
                    out[h.purpose].append(h.rule)
        return out

    def _engine_others(self, rule: RetentionRule, tr: TableRules) -> list[str]:
        """Other purposes holding the table that only the engine's records can end."""
        mine = set(self.res.purposes_of(rule.id))
        return [p for p in tr.purposes() if p not in mine
                and all(h.dating.kind == "engine" for h in tr.of_purpose(p))]

    def _row_clause(self, rule: RetentionRule, tr: TableRules, ds: SqlDataset,
                    engine_ended: frozenset[str] = frozenset(),
                    fired_here: ColumnElement[bool] | None = None
                    ) -> ColumnElement[bool] | None:
        """Rows of the table this step acts on: the rule fired (column-dated; or
        ``fired_here``, a narrower form of it), every other purpose holding the table has
        ended, not kept on request, not yet acted on."""
        mine = set(self.res.purposes_of(rule.id))
        parts: list[ColumnElement[bool]] = []
        h = _holding(tr, rule)
        if h.dating.kind == "column":
            fired = fired_here if fired_here is not None else clauses.fired(
                ds, tr.table, rule, h.dating, self.now, self.j)
            assert fired is not None
            parts.append(fired)
        elif not (mine & engine_ended):
            return None
        for p in tr.purposes():
            if p in mine or p in engine_ended:
                continue
            cols = [c for hh in tr.of_purpose(p) if hh.dating.kind == "column"
                    and (c := clauses.fired(ds, tr.table, hh.rule, hh.dating, self.now, self.j))
                    is not None]
            if cols:
                from sqlalchemy import or_

                parts.append(or_(*cols))
            elif h.dating.kind == "engine":
                parts.append(false())  # held by a purpose that has not ended for them
        kept = clauses.kept_on_request(ds, tr.table, rule)
        if kept is not None:
            parts.append(~kept)
        how = self._how(rule, tr)
        if how == "none":
            if rule.action != "restrict":
                return None
        elif how == "delete":
            guard = clauses.unreferenced(ds, tr.table)
            if guard is not None:
                parts.append(guard)
        else:
            _, pending = clauses.erase_values(ds, ds.mapped[tr.table], how)
            parts.append(pending)
        return and_(true(), *parts)

    def _how(self, rule: RetentionRule, tr: TableRules) -> str:
        """delete, an erase action for the columns (mask, null, hash), or none."""
        spec = self.res.datasets[tr.dataset].mapped[tr.table]
        if rule.action == "restrict":
            return "none"
        if rule.action == "anonymise":
            return "mask" if spec.erase in ("delete_row", "keep") else spec.erase
        if spec.erase == "keep":
            return "delete" if spec.hold else "none"
        return "delete" if spec.erase == "delete_row" else spec.erase

    def _action_words(self, rule: RetentionRule, tr: TableRules) -> str:
        how = self._how(rule, tr)
        if rule.action == "restrict":
            return "restrict (kept; no use but storage and the purposes still holding it)"
        return {"delete": "delete rows", "none": "nothing (the data map keeps these rows)"}.get(
            how, f"erase personal columns ({how})")

    def _erases_profile(self, rule: RetentionRule, tr: TableRules) -> bool:
        spec = self.res.datasets[tr.dataset].mapped[tr.table]
        return any(c.identity for c in spec.columns) and self._how(rule, tr) != "none"

    def _apply(self, conn: Connection, rule: RetentionRule, tr: TableRules,
               where: ColumnElement[bool], returning: bool = False) -> Any:
        """Delete or erase the rows; their count, or (``returning``) their keys."""
        ds = self.res.datasets[tr.dataset]
        spec = ds.mapped[tr.table]
        t = ds.tables[tr.table]
        key = t.c[spec.key]
        how = self._how(rule, tr)
        if how == "none":
            n = int(conn.execute(select(func.count()).select_from(t).where(where)).scalar_one())
            return [] if returning else n
        if how == "delete":
            stmt: Any = delete(t).where(where)
        else:
            values, _ = clauses.erase_values(ds, spec, how)
            stmt = update(t).where(where).values(values)
        if returning:
            # The driver's rows as they are: one integer each, no Row objects to build.
            raw = conn.execute(stmt.returning(key)).cursor
            return [r[0] for r in raw.fetchall()] if raw is not None else []
        return int(conn.execute(stmt).rowcount)

    def _count(self, conn: Connection, tr: TableRules, where: ColumnElement[bool]
               ) -> tuple[int, list[Any]]:
        """How many rows a step would take that no earlier step of the plan took."""
        ds = self.res.datasets[tr.dataset]
        t = ds.tables[tr.table]
        key = t.c[ds.mapped[tr.table].key]
        seen = self.planned[(tr.dataset, tr.table)]
        keys = [k for k in conn.scalars(select(key).where(where).order_by(key)) if k not in seen]
        seen.update(keys)
        return len(keys), keys[:EXAMPLES]

    def _owners(self, ds: SqlDataset, table: str, keys: list[Any],
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
                                 self._engine_rules(), self.now)
        consent_only = all(_consent(self.res, p) for p in others)
        out, owning = [], set()
        for k in keys:
            own = owners.get(k, set())
            if (own and all(set(others) <= ended.get(s, set()) for s in own)) or (
                    not own and consent_only):
                out.append(k)
                owning.update(own)
        return out, sorted(owning)

    def _live_owners(self, ds: SqlDataset, tr: TableRules, idents: dict[str, dict[str, list[str]]],
                     page: list[str]) -> set[str]:
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

    # ---- notices before an inactivity deletion ------------------------------------------

    def _notices(self) -> None:
        """Warn people ``notice_before`` an inactivity deletion: dated by the engine, or by
        a column of a table that identifies them by e-mail."""
        from personvern.retention.notices import queue_notices, queue_row_notices, window

        for rule in self.res.manifest.retention:
            if rule.notice_before is None or rule.trigger != "last_activity":
                continue
            holdings = [(tr, h) for tr in self.res.tables for h in tr.holdings
                        if h.rule.id == rule.id]
            if any(h.dating.kind == "engine" for _, h in holdings):
                with self.engine() as s:
                    self.report.notices += queue_notices(
                        s, self.res.manifest, self.j, rule, self.now, dry_run=self.dry_run)
            span = window(rule, self.now, self.j)
            for tr, h in holdings:
                ds = self.res.datasets[tr.dataset]
                spec = ds.mapped[tr.table]
                email = next((c.name for c in spec.columns if c.identity == "email"), None)
                if span is None or email is None or h.dating.kind != "column" \
                        or h.dating.table != tr.table or h.dating.path:
                    continue
                t = ds.tables[tr.table]
                date_col = t.c[str(h.dating.column)]
                with storage_errors(ds.engine.url), ds.engine.connect() as conn:
                    rows = [(r[0], r[1], r[2]) for r in conn.execute(
                        select(t.c[spec.key], t.c[email], date_col).where(
                            date_col > span[0], date_col <= span[1],
                            t.c[email].not_like(clauses.MASK + "%")))]
                with self.engine() as s:
                    self.report.notices += queue_row_notices(
                        s, self.res.manifest, self.j, rule, self.now, rows,
                        f"{tr.dataset}.{tr.table}", dry_run=self.dry_run)


def _holding(tr: TableRules, rule: RetentionRule) -> Any:
    return next(h for h in tr.holdings if h.rule.id == rule.id)


def _engine_dated(rule: RetentionRule, tr: TableRules) -> bool:
    return bool(_holding(tr, rule).dating.kind == "engine")


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
