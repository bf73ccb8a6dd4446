"""The run: a sweep that deletes, anonymises or restricts what is due, in audited batches.

Work goes in set-based batches per (rule, table) step. A batch is recorded as pending in
the engine before the service's data changes and marked done together with the engine's
side (erasing or restricting subjects, the audit event), so a crash anywhere is finished
by the next run: the service's statements re-check their condition and change nothing
twice, and the pending batch's engine side is done then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, func, select, true, update
from sqlalchemy.orm import Session

from personvern.audit import append_audit
from personvern.errors import InvalidInput
from personvern.manifest.model import RetentionRule
from personvern.requests.datamap import Edge, SqlDataset
from personvern.retention import clauses, people
from personvern.retention.due import Due, by_dataset, engine_dated, holding
from personvern.retention.notices import queue_due
from personvern.retention.planning import EXAMPLES, Report, StepResult
from personvern.retention.resolve import HOLD, TableRules
from personvern.retention.tables import RetentionBatch, RetentionRestriction, RetentionSweep
from personvern.storage.engine import scrub_erased, storage_errors

ACTOR = "retention"  # the actor of a sweep's audit events; its history finds them by it
Progress = Callable[[str, int], None]


@dataclass
class Executor:
    """One sweep for real: what a crash left first, then every step in recorded batches."""

    due: Due
    progress: Progress | None = None
    by: str | None = None  # who or what started the sweep, for its history
    # PostgreSQL datasets: rewrite the tables swept (VACUUM FULL) so no byte stays.
    vacuum: bool = False
    sweep_id: int | None = None
    # A plan: the sweep rehearsed in transactions rolled back after (retention.rehearsal);
    # the files are not rewritten, since nothing is kept.
    dry_run: bool = False
    report: Report = field(init=False)

    def __post_init__(self) -> None:
        self.report = Report(self.due.now, dry_run=self.dry_run)

    def run(self) -> Report:
        """Open the sweep, run every step, queue the notices, release holds, close it."""
        self.report.undated += self.due.undated()
        self.report.unmapped += self.due.res.unmapped()
        self.report.unheld += self.due.res.unheld()
        # Before the steps: what the sweep cannot reach as it finds the data.
        self.report.strangers = self.due.strangers()
        self.report.restricted = len(self.due.restricted[0])
        self._begin()
        for rule, by_column, by_engine in self.due.steps():
            for tr in by_column:
                self._column_step(rule, tr)
            if by_engine:
                self._engine_step(rule, by_engine)
        self.report.notices += queue_due(self.due)
        self._release()
        if not self.dry_run:
            self._scrub()
        self._finish()
        return self.report

    # ---- the sweep's own record ---------------------------------------------------------

    def _begin(self) -> None:
        """Refuse a clock gone backwards, finish what a crash left, record the new sweep."""
        now = self.due.now
        with self.due.engine() as s:
            last = s.scalar(select(func.max(RetentionSweep.now)))
            if last is not None and now < last:
                raise InvalidInput(
                    f"the clock went backwards: a sweep already ran at {last.isoformat()}, "
                    f"later than --now {now.isoformat()}; nothing was changed")
            nows = dict(s.execute(select(RetentionSweep.id, RetentionSweep.now).where(
                RetentionSweep.finished_at.is_(None))).tuples().all())
            # The pending batches by the index on state (0017), not every batch recorded.
            pending = [(b.id, b.sweep_id, b.step, list(b.keys), list(b.subject_ids))
                       for b in s.scalars(select(RetentionBatch).where(
                           RetentionBatch.state == "pending").order_by(RetentionBatch.id))]
            if not pending:
                # Nothing to finish (as a rule): the sweeps a crash left open are closed and
                # the new one recorded in this transaction, not three more.
                if nows:
                    self._close_open(s)
                self._record_sweep(s)
                return
        self.report.resumed_batches = self._resume(pending, nows)
        with self.due.engine() as s:
            self._close_open(s)
            self._record_sweep(s)

    def _record_sweep(self, s: Session) -> None:
        """Record the new sweep and its start in the audit trail."""
        now, batch = self.due.now, self.due.batch
        sweep = RetentionSweep(now=now, started_at=now, batch_size=batch, totals={})
        s.add(sweep)
        s.flush()
        self.sweep_id = self.report.sweep_id = sweep.id
        append_audit(s, lambda: now, ACTOR, "retention.sweep.start",
                     f"sweep:{sweep.id}", {"now": now.isoformat(), "batch": batch,
                                            "by": self.by})

    def _finish(self) -> None:
        """Close the sweep with its totals per step and the notices queued."""
        now = self.due.now
        totals: dict[str, int] = defaultdict(int)
        for st in self.report.steps:
            totals[f"{st.rule}:{st.dataset}.{st.table}"] += st.rows
        with self.due.engine() as s:
            # One UPDATE: loading the sweep's row first only to change it was a SELECT more.
            s.execute(update(RetentionSweep).where(RetentionSweep.id == self.sweep_id).values(
                finished_at=now, totals={**totals, "notices": self.report.notices}))
            append_audit(s, lambda: now, ACTOR, "retention.sweep.finish",
                         f"sweep:{self.sweep_id}", {"rows": sum(totals.values()),
                                                    "notices": self.report.notices})

    def _scrub(self) -> None:
        """Rewrite each SQLite dataset the sweep changed, so its erased rows leave no byte."""
        touched = {st.dataset for st in self.report.steps if st.rows}
        if self.report.resumed_batches:  # what a crashed sweep changed is not in the report
            touched = set(self.due.res.datasets)
        for ds_id in sorted(touched):
            ds = self.due.res.datasets[ds_id]
            tables = [st.table for st in self.report.steps if st.dataset == ds_id]
            with storage_errors(ds.engine.url):
                left = scrub_erased(ds.engine, tables, vacuum=self.vacuum)
            if left:
                self.report.left_until_vacuum[ds_id] = left

    def _resume(self, pending: list[tuple[int, int, str, list[Any], list[str]]],
                nows: dict[int, datetime]) -> int:
        """Finish the pending batches of sweeps a crash left open (``nows``: each open
        sweep's "now"); how many there were."""
        due, now = self.due, self.due.now
        for batch_id, sweep_id, step, keys, subjects in pending:
            rule_id, ds_id, table, *how = step.split("|")
            rule = due.res.manifest.retention_rule(rule_id)
            if rule is None:  # the rule left the manifest: nothing to finish by it
                continue
            if how == ["direct"]:  # the next sweep takes these rows again if still due
                with due.engine() as s:
                    b = s.get(RetentionBatch, batch_id)
                    if b is not None:
                        b.state, b.done_at = "done", now
                continue
            # The batch is finished as its own sweep would have: at that sweep's "now".
            redo = Executor(replace(due, now=nows.get(sweep_id, now)), sweep_id=sweep_id)
            if table == "*":
                trs = [tr for r, tr in due.res.steps()
                       if r.id == rule_id and tr.dataset == ds_id]
                redo._engine_page(rule, trs, subjects, batch_id)
            else:
                tr = next(t for t in due.res.tables if t.dataset == ds_id and t.table == table)
                redo._column_batch(rule, tr, keys, how == ["range"], subjects, batch_id)
        return len(pending)

    def _close_open(self, s: Session) -> None:
        """Close the sweeps a crash left open, marked interrupted."""
        for sw in s.scalars(select(RetentionSweep).where(RetentionSweep.finished_at.is_(None))):
            sw.finished_at = self.due.now
            sw.totals = {**(sw.totals or {}), "interrupted": True}

    def _release(self) -> None:
        """Erase subjects kept only for a legal hold once the hold's rows are gone."""
        due, now = self.due, self.due.now
        with due.engine() as s:
            restricted = [r.subject_id for r in s.scalars(select(RetentionRestriction))
                          if (rule := due.res.manifest.retention_rule(r.rule)) is None
                          or rule.action != "restrict"]  # a restrict rule's is for good
        done: list[str] = []
        for start in range(0, len(restricted), due.batch):
            chunk = restricted[start:start + due.batch]
            with due.engine() as s:
                idents = people.identities(s, chunk)
                still: set[str] = set()
                for ds in due.res.datasets.values():
                    still.update(due.held(s, ds, idents, chunk))
            done += [sid for sid in chunk if sid not in still]
        if done:
            with due.engine() as s:
                people.erase_subjects(s, done, now)
                append_audit(s, lambda: now, ACTOR, "retention.release", "subjects",
                             {"sweep": self.sweep_id, "erased_subjects": len(done)})

    # ---- steps dated by a column ------------------------------------------------------

    def _column_step(self, rule: RetentionRule, tr: TableRules) -> None:
        """A column-dated step: direct statements when no engine subject is touched, else
        batches of keys read first, each recorded pending before it is applied."""
        due = self.due
        result = StepResult.of(due, rule, tr)
        scope = due.column_scope(rule, tr)
        if scope is None:
            return
        where, others, need_owners = scope
        if not need_owners and not others and due.how(rule, tr) != "none":
            self._direct(rule, tr, where, result)
            if result.rows:
                self.report.steps.append(result)
            return
        for keys, subjects, scanned in due.key_pages(tr, where, others, need_owners, rule):
            if not keys:
                continue
            result.examples += keys[:EXAMPLES - len(result.examples)]
            # Every row of the range is taken: the batch is the range (no long IN list).
            whole = len(keys) == scanned
            recorded = [keys[0], keys[-1]] if whole else keys
            with due.engine() as s:
                b = RetentionBatch(sweep_id=self.sweep_id, step=f"{rule.id}|{tr.dataset}|"
                                   f"{tr.table}|{'range' if whole else 'keys'}", seq=0,
                                   state="pending", keys=recorded, subject_ids=subjects, rows=0)
                s.add(b)
                s.flush()
                batch_id = b.id
            self._column_batch(rule, tr, recorded, whole, subjects, batch_id, result)
            if scanned < due.batch:
                break
        if result.rows or result.note:
            self.report.steps.append(result)

    def _column_batch(self, rule: RetentionRule, tr: TableRules, keys: list[Any], ranged: bool,
                      subjects: list[str], batch_id: int,
                      result: StepResult | None = None) -> None:
        """Apply one pending batch to the service (the condition checked again, so applying
        it twice changes nothing), then the engine's side; mark it done."""
        ds = self.due.res.datasets[tr.dataset]
        key = ds.tables[tr.table].c[ds.mapped[tr.table].key]
        where = self.due.row_clause(rule, tr, ds)
        n = 0
        if where is not None and keys:
            scope = and_(key >= keys[0], key <= keys[-1]) if ranged else key.in_(keys)
            with storage_errors(ds.engine.url), ds.engine.begin() as conn:
                n = self._apply(conn, rule, tr, and_(scope, where),
                                parts=result.parts if result is not None else None)
        self._engine_side(rule, tr, subjects, batch_id, n, result)

    # ---- column steps with no engine side: one statement per batch ----------------------

    def _direct(self, rule: RetentionRule, tr: TableRules, where: ColumnElement[bool],
                result: StepResult) -> None:
        """A step with no engine side: each batch is one statement on the service, the
        rows chosen by a key range read just before (no keys travel to the database).
        Re-applying a batch is harmless: the condition is checked again."""
        ds = self.due.res.datasets[tr.dataset]
        key = ds.tables[tr.table].c[ds.mapped[tr.table].key]
        dating = holding(tr, rule).dating
        if len(dating.path) == 1:
            self._direct_by_parent(rule, tr, result)
            return
        # Each batch is a window of the next ``batch`` due rows in key order after the last
        # key the batch before took: the planner walks the key (a range from the cursor,
        # linear over the sweep), and a batch changes one stretch of the table's pages,
        # not a few rows on every page (rows in date order lie all over the table, and
        # each batch's commit would write most of its pages again). The window leaves the
        # guard for rows still referred to out (a probe of every referring table per row,
        # the costliest part of the walk): the statement checks it, and a batch whose
        # rows it keeps is smaller, never larger. The range, not the rows' keys returned,
        # moves the cursor: RETURNING every key cost the users' step about what the
        # window's walk costs.
        due_rows = self.due.row_clause(rule, tr, ds, guarded=False)
        assert due_rows is not None  # ``where`` is the same clause with the guard

        def chosen(last: Any, upper: Any) -> ColumnElement[bool]:
            return and_(key <= upper, where) if last is None \
                else and_(key > last, key <= upper, where)

        def next_last(last: Any) -> tuple[Any, bool]:
            return self._window(ds, key, due_rows, last)

        def smallest(rows: ColumnElement[bool], n: int) -> ColumnElement[bool]:
            # A walk of the range from its start that stops at the n-th row.
            return key.in_(select(key).where(rows).order_by(key).limit(n).scalar_subquery())

        self._direct_batches(rule, tr, result, chosen, next_last, smallest)

    def _window(self, ds: SqlDataset, key: Any, rows: ColumnElement[bool], last: Any
                ) -> tuple[Any, bool]:
        """The last key of the next ``batch`` rows matching ``rows`` after the key ``last``
        in key order (None when there are none), and whether there are ``batch`` of them
        (a shorter window is the last: no walk of the rest of the table follows only to
        find the next one empty)."""
        window = select(key).where(rows)
        if last is not None:
            window = window.where(key > last)
        ids = window.order_by(key).limit(self.due.batch).subquery()
        with storage_errors(ds.engine.url), ds.engine.connect() as conn:
            upper, size = conn.execute(select(func.max(ids.c[0]), func.count())
                                       .select_from(ids)).one()
        return upper, size == self.due.batch

    def _direct_by_parent(self, rule: RetentionRule, tr: TableRules, result: StepResult
                          ) -> None:
        """Rows dated by the table they refer to (sessions by their user): batches walk the
        parents in key order, a window of ``batch`` parents whose date has passed at a
        time, and take their rows; the whole list of dated parents is never rebuilt."""
        due = self.due
        ds = due.res.datasets[tr.dataset]
        dating = holding(tr, rule).dating
        edge = dating.path[0]
        parent = ds.tables[edge.target]
        pkey = parent.c[edge.target_column]
        pfired = clauses.fired(ds, edge.target, rule, replace(dating, path=()), due.now, due.j)
        assert pfired is not None
        child = ds.tables[tr.table].c[edge.column]

        def chosen(last: Any, upper: Any) -> ColumnElement[bool]:
            # The window's parents by their key range (its last key read just before), not
            # the window walked again with its LIMIT.
            ids = select(pkey).where(pfired, pkey <= upper)
            if last is not None:
                ids = ids.where(pkey > last)
            where = due.row_clause(rule, tr, ds, fired_here=child.in_(ids))
            assert where is not None
            return where

        def next_last(last: Any) -> tuple[Any, bool]:
            return self._window(ds, pkey, pfired, last)

        self._direct_batches(rule, tr, result, chosen, next_last)

    def _direct_batches(self, rule: RetentionRule, tr: TableRules, result: StepResult,
                        chosen: Callable[[Any, Any], ColumnElement[bool]],
                        next_last: Callable[[Any], tuple[Any, bool]],
                        smallest: Callable[[ColumnElement[bool], int], ColumnElement[bool]]
                        | None = None) -> None:
        """Run the batches: record pending, one statement, record done with the next.
        ``chosen(last, upper)``: the batch's rows after the cursor ``last`` up to
        ``upper``, the window's last key by ``next_last`` (with whether the window is
        full: if not, it is the last). ``smallest(rows, n)``: the n rows of ``rows``
        with the smallest keys, where that is cheap to read."""
        ds = self.due.res.datasets[tr.dataset]
        last: Any = None
        pending: tuple[int, int] | None = None  # (batch id, rows) of the batch before
        while True:
            upper, full = next_last(last)
            if upper is None:
                break
            with self.due.engine() as s:  # one engine commit per batch: close one, open the next
                if pending is not None:
                    self._done(s, rule, tr, *pending)
                b = RetentionBatch(sweep_id=self.sweep_id, step=f"{rule.id}|{tr.dataset}|"
                                   f"{tr.table}|direct", seq=0, state="pending",
                                   keys=[last], subject_ids=[], rows=0)
                s.add(b)
                s.flush()
                batch_id = b.id
            # The rows' keys come back only while the step still wants examples; else the
            # count is all (RETURNING keeps every key).
            wanted = EXAMPLES - len(result.examples)
            rows = chosen(last, upper)
            with storage_errors(ds.engine.url), ds.engine.begin() as conn:
                if wanted > 0 and smallest is not None:
                    # The examples' rows first, their keys returned, then the rest counted,
                    # in the same transaction: the same rows, examples and count as one
                    # statement returning every key for three (replayed, a first batch of
                    # 9,922 users: 70 ms, as with no keys returned, against 76).
                    got = self._apply(conn, rule, tr, smallest(rows, wanted), returning=True,
                                      parts=result.parts)
                    n = len(got) + int(self._apply(conn, rule, tr, rows, parts=result.parts))
                else:
                    got = self._apply(conn, rule, tr, rows, returning=wanted > 0,
                                      parts=result.parts)
                    n = len(got) if isinstance(got, list) else int(got)
            if isinstance(got, list):
                result.examples += sorted(got)[:wanted]
            pending = (batch_id, n)
            result.rows += n
            if self.progress is not None:
                self.progress(f"{rule.id}: {tr.dataset}.{tr.table}", n)
            if not full:
                break
            last = upper
        if pending is not None:
            with self.due.engine() as s:
                self._done(s, rule, tr, *pending)

    def _done(self, s: Session, rule: RetentionRule, tr: TableRules, batch_id: int,
              rows: int) -> None:
        """Mark a batch done and audit it (no engine side: nobody to erase)."""
        now = self.due.now
        # One UPDATE: loading the batch's row first only to change it was a SELECT more.
        # On the table, not the class: the session holds no batch to synchronise, and
        # the ORM's bulk UPDATE would cost twice the CPU of the statement (0.3 ms a batch).
        t = cast(Table, RetentionBatch.__table__)
        s.connection().execute(update(t).where(t.c.id == batch_id)
                               .values(state="done", rows=rows, done_at=now))
        append_audit(s, lambda: now, ACTOR, "retention.batch", f"{tr.dataset}.{tr.table}",
                     {"sweep": self.sweep_id, "rule": rule.id, "action": rule.action,
                      "rows": rows, "erased_subjects": 0, "restricted_subjects": 0})

    # ---- steps dated by the engine's records ------------------------------------------

    def _engine_step(self, rule: RetentionRule, trs: list[TableRules]) -> None:
        """An engine-dated step: pages of people whose rule fired, each page recorded
        pending, then applied to every covered table of the dataset at once."""
        for tables in by_dataset(trs):
            results = {tr.table: StepResult.of(self.due, rule, tr) for tr in tables}
            for page in self.due.fired_pages(rule):
                with self.due.engine() as s:
                    b = RetentionBatch(sweep_id=self.sweep_id,
                                       step=f"{rule.id}|{tables[0].dataset}|*", seq=0,
                                       state="pending", keys=[], subject_ids=page, rows=0)
                    s.add(b)
                    s.flush()
                    batch_id = b.id
                self._engine_page(rule, tables, page, batch_id, results)
            for tr in tables:
                r = results[tr.table]
                if r.rows or r.erased_subjects or r.restricted_subjects or r.note:
                    self.report.steps.append(r)

    def _engine_page(self, rule: RetentionRule, tables: list[TableRules], page: list[str],
                     batch_id: int, results: dict[str, StepResult] | None = None) -> None:
        """One page of subjects whose rule fired: their rows in every covered table (one
        transaction on the service), then the engine's side."""
        if not tables:
            return
        ds = self.due.res.datasets[tables[0].dataset]
        ended, idents = self.due.who_ended(tables, page)
        total = 0
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            for tr, scoped in self.due.page_rows(rule, tables, page, ended, idents):
                n = self._apply(conn, rule, tr, scoped,
                                parts=results[tr.table].parts if results is not None else None)
                total += n
                if results is not None:
                    results[tr.table].rows += n
        profile, gone = self.due.gone(rule, tables, page, ended)
        target = profile or tables[0]
        res = results.get(target.table) if results else None
        self._engine_side(rule, target, gone, batch_id, total, res)

    # ---- the engine's side of a batch --------------------------------------------------

    def _engine_side(self, rule: RetentionRule, tr: TableRules, subjects: list[str],
                     batch_id: int, rows: int, result: StepResult | None) -> None:
        """Erase or restrict the subjects whose profile went, audit, mark the batch done."""
        due, now = self.due, self.due.now
        ds = due.res.datasets[tr.dataset]
        erase: list[str] = []
        restrict: dict[str, list[str]] = {}
        with due.engine() as s:
            alive = sorted(s.scalars(select(people.S.c.id).where(
                people.S.c.id.in_(subjects), people.S.c.erased_at.is_(None)))) if subjects \
                else []
            idents = people.identities(s, alive)
            # Only people with no live row left in any table that identifies them are gone.
            remaining = set().union(*(due.live_owners(ds, t, idents, alive)
                                      for t in due.res.tables if t.dataset == tr.dataset))
            gone = [a for a in alive if a not in remaining]
            holds = due.held(s, ds, idents, gone)
            for sid in gone:
                held = holds.get(sid, [])
                if rule.action == "restrict" or held:
                    restrict[sid] = held or [p for p in due.res.purposes_of(rule.id)
                                             if p != HOLD]
                else:
                    erase.append(sid)
            # Before the engine forgets them: their links (a guardian link) go with their
            # profile, whether they are erased or only kept restricted for a legal hold.
            links = due.drop_links(ds, idents, gone)
            people.erase_subjects(s, erase, now)
            newly = people.restrict_subjects(
                s, restrict, rule.id, now,
                f"retention rule {rule.id}: other purposes have ended")
            b = s.get(RetentionBatch, batch_id)
            if b is not None:
                b.state, b.rows, b.done_at = "done", rows, now
            append_audit(s, lambda: now, ACTOR, "retention.batch",
                         f"{tr.dataset}.{tr.table}",
                         {"sweep": self.sweep_id, "rule": rule.id, "action": rule.action,
                          "rows": rows, "erased_subjects": len(erase),
                          "restricted_subjects": newly, "links": links})
        if result is not None:
            # An engine-dated page counted its rows table by table already.
            result.rows += rows if result.dataset == tr.dataset \
                and not engine_dated(rule, tr) else 0
            result.erased_subjects += len(erase)
            result.restricted_subjects += newly
            for name, n in links.items():
                result.links[name] = result.links.get(name, 0) + n
        if self.progress is not None:
            self.progress(f"{rule.id}: {tr.dataset}.{tr.table}", rows)

    def _apply(self, conn: Connection, rule: RetentionRule, tr: TableRules,
               where: ColumnElement[bool], returning: bool = False,
               parts: dict[str, int] | None = None) -> Any:
        """Delete or erase the rows, and their parts with them (``parts`` counts those per
        table); the rows' count, or (``returning``) their keys."""
        ds = self.due.res.datasets[tr.dataset]
        spec = ds.mapped[tr.table]
        t = ds.tables[tr.table]
        key = t.c[spec.key]
        how = self.due.how(rule, tr)
        if how == "none":
            n = int(conn.execute(select(func.count()).select_from(t).where(where)).scalar_one())
            return [] if returning else n
        # Read before the rows change: a deleted row no longer says which part was its.
        owned = {e: self._parts_of(conn, t, e, where) for e in tr.parts}
        if how == "delete":
            stmt: Any = delete(t).where(where)
        else:
            values, _ = clauses.erase_values(ds, spec, how)
            stmt = update(t).where(where).values(values)
        if returning:
            # The driver's rows as they are: one integer each, no Row objects to build.
            raw = conn.execute(stmt.returning(key)).cursor
            out: Any = [r[0] for r in raw.fetchall()] if raw is not None else []
        else:
            out = int(conn.execute(stmt).rowcount)
        for e, keys in owned.items():
            n = self._erase_parts(conn, ds, e, keys, deleted=how == "delete")
            if n and parts is not None:
                parts[e.target] = parts.get(e.target, 0) + n
        return out

    @staticmethod
    def _parts_of(conn: Connection, t: Table, e: Edge, where: ColumnElement[bool]
                  ) -> list[Any]:
        """The parts the rows pointed at, except those a row that stays points at too (a
        flat two people share stays until the last of them goes)."""
        col = t.c[e.column]
        mine = {r[0] for r in conn.execute(select(col).where(where, col.is_not(None))
                                           .distinct())}
        if not mine:
            return []
        # A row the condition does not choose (false or unknown) keeps its part.
        shared = {r[0] for r in conn.execute(select(col).where(
            col.in_(list(mine)), where.is_not(true())).distinct())}
        return sorted(mine - shared)

    @staticmethod
    def _erase_parts(conn: Connection, ds: SqlDataset, e: Edge, keys: list[Any], *,
                     deleted: bool) -> int:
        """Erase the part rows ``keys`` as their table's ``erase:`` says: deleted when the
        rows pointing at them were deleted too, masked when those rows stay (PV094)."""
        spec = ds.mapped[e.target]
        target = ds.tables[e.target]
        if not keys or spec.erase == "keep":
            return 0
        n = 0
        for start in range(0, len(keys), 500):
            chosen = target.c[e.target_column].in_(keys[start:start + 500])
            if deleted and spec.erase == "delete_row":
                n += int(conn.execute(delete(target).where(chosen)).rowcount)
            else:
                how = "mask" if spec.erase == "delete_row" else spec.erase
                values, _ = clauses.erase_values(ds, spec, how)
                if values:
                    n += int(conn.execute(update(target).where(chosen).values(values)).rowcount)
        return n
