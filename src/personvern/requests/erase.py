"""Erasure (Art. 17): the person's rows deleted or masked as the data map says, rows under
a legal hold kept and restricted, then the engine forgets the person.

Per dataset, a plan is made whole before anything runs (:class:`_Plan`): which rows are
kept under an active hold (and the rows they point at), which are deleted, which columns
are nulled, masked or hashed. It runs in one transaction per dataset, children first.
The answer says what was kept, why and until when. The engine's side (:func:`forget`)
deletes what the engine holds on the person and, last, destroys their key.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Delete,
    RootTransaction,
    String,
    Update,
    bindparam,
    case,
    delete,
    func,
    or_,
    type_coerce,
    update,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from personvern.consent.tables import (
    CookieChoice,
    Guardianship,
    Identity,
    LedgerEvidence,
    Membership,
    Subject,
)
from personvern.errors import ConfigurationError
from personvern.keys.shred import shred_subject, shred_subjects
from personvern.law import Jurisdiction
from personvern.manifest.model import RetentionRule
from personvern.manifest.model import Table as MappedTable
from personvern.requests.datamap import Found, SqlDataset
from personvern.requests.deadlines import receipt_date
from personvern.requests.information import rule_text
from personvern.requests.jobs import Env, Job, walk_ids
from personvern.requests.tables import Request
from personvern.sessions.erased import ending_statements
from personvern.storage.engine import scrub_erased, storage_errors
from personvern.storage.locks import sent_together

if TYPE_CHECKING:
    from personvern.consent.service import ConsentContext


# ---- legal holds ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Hold:
    """Why a row is kept despite erasure, and until when (None: no date to compute it)."""

    rule: str
    until: date | None
    via: str | None = None


def hold_until(rule: RetentionRule, j: Jurisdiction, on: date | None) -> date | None:
    """The last day a row dated ``on`` is kept under ``rule``.

    Bookkeeping (bokføringsloven § 13): ``bookkeeping_years`` after the end of the
    fiscal year of the row's date, the fiscal year being the calendar year (the
    default in Norway; the manifest has no field for another year end yet).
    """
    if on is None or rule.duration.unlimited:
        return None
    if rule.bookkeeping or rule.trigger == "fiscal_year_end":
        year_end = date(on.year, 12, 31)
        if rule.bookkeeping:
            return year_end + relativedelta(years=j.bookkeeping_years)
        return year_end + relativedelta(years=rule.duration.years, months=rule.duration.months,
                                        days=rule.duration.days)
    if rule.trigger == "collected":
        return on + relativedelta(years=rule.duration.years, months=rule.duration.months,
                                  days=rule.duration.days)
    return None  # the trigger (end of contract, ...) is not in the row: keep, say so


def row_date(table: SqlTable, row: dict[str, Any]) -> date | None:
    """The row's date for a hold: its first date or timestamp column with a value."""
    for col in table.columns:
        if isinstance(col.type, (Date, DateTime)):
            value = row.get(col.name)
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
    return None


# ---- the plan: what happens to each row, decided before anything runs ---------------------

def _row_action(spec: MappedTable) -> str:
    """What erasure does to a row that no active hold keeps."""
    if spec.erase == "keep":
        return "delete_row" if spec.hold else "keep"  # a hold that ended no longer keeps it
    return spec.erase


class _Plan:
    """What erasure will do to one dataset; checked whole before anything runs."""

    def __init__(self) -> None:
        self.kept: dict[str, dict[Any, Hold]] = defaultdict(dict)
        self.deletes: dict[str, list[Any]] = defaultdict(list)
        self.updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Others' rows naming the person: the naming columns set to null, before any
        # delete (they point at rows the deletes remove).
        self.unlinks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.untouched: dict[str, int] = defaultdict(int)


def _plan(ds: SqlDataset, found: Found, env: Env) -> _Plan:
    """The plan for the person's rows in ``ds``: kept, deleted, or changed column by column."""
    today = receipt_date(env.clock(), env.jurisdiction)
    plan = _Plan()

    def active(rule_id: str, table: str, row: dict[str, Any]) -> Hold | None:
        rule = env.manifest.retention_rule(rule_id)
        if rule is None:
            raise ConfigurationError(f"hold {rule_id!r} names no retention rule")
        until = hold_until(rule, env.jurisdiction, row_date(ds.tables[table], row))
        return Hold(rule.id, until) if until is None or until >= today else None

    for table, rows in found.rows.items():
        spec = ds.mapped[table]
        if spec.hold:
            for key, row in rows.items():
                if key in found.named.get(table, {}):
                    continue
                hold = active(spec.hold, table, row)
                if hold:
                    plan.kept[table][key] = hold
    _keep_referenced(ds, found, plan)
    for table, rows in found.rows.items():
        spec = ds.mapped[table]
        t = ds.tables[table]
        for key, row in rows.items():
            if key in plan.kept.get(table, {}):
                continue
            if key in found.named.get(table, {}):
                # Another's row that names the person (a message sent to them): it loses
                # the link to them and stays with its owner.
                plan.unlinks[table].append({"_key": key, **{
                    c: _unlinked(t, c, ds.spec.id) for c in sorted(found.named[table][key])}})
                continue
            action = _row_action(spec)
            held_cols = {c.name for c in spec.columns if c.hold and active(c.hold, table, row)}
            if action == "delete_row" and not held_cols:
                plan.deletes[table].append(key)
                continue
            if action == "keep":
                plan.untouched[table] += 1
                continue
            values = {}
            for c in spec.columns:
                how = c.erase or (action if action != "delete_row" else "mask")
                if c.name == spec.key or c.name in held_cols or how == "keep":
                    continue
                values[c.name] = _erased_value(t, c.name, how, row.get(c.name), ds.spec.id)
            if values:
                plan.updates[table].append({"_key": key, **values})
    return plan


def _keep_referenced(ds: SqlDataset, found: Found, plan: _Plan) -> None:
    """A row a kept row points at stays too, if erasure would delete it (foreign keys)."""
    changed = True
    while changed:
        changed = False
        for e in [*ds.edges, *ds.parts]:
            kept_children = plan.kept.get(e.table)
            if not kept_children or _row_action(ds.mapped[e.target]) != "delete_row":
                continue
            targets = found.rows.get(e.target, {})
            for child_key, hold in list(kept_children.items()):
                value = found.rows[e.table][child_key].get(e.column)
                for t_key, t_row in targets.items():
                    if t_row.get(e.target_column) == value and t_key not in plan.kept[e.target]:
                        plan.kept[e.target][t_key] = Hold(hold.rule, hold.until, via=e.table)
                        changed = True


def _unlinked(table: SqlTable, column: str, ds_id: str) -> Any:
    """Null for a column that names the erased person; ConfigurationError if it cannot be."""
    if not table.c[column].nullable:
        raise ConfigurationError(
            f"{ds_id}.{table.name}.{column} names the person (owner: false) but cannot be set "
            "to null (NOT NULL); make the column nullable, or map the row as theirs")
    return None


def _erased_value(table: SqlTable, column: str, how: str, value: Any, ds_id: str) -> Any:
    """The value an erased column gets; ConfigurationError if the column cannot take it."""
    col = table.c[column]
    is_text = isinstance(col.type, String)
    if how == "null" and (col.nullable or not is_text):
        if not col.nullable:
            raise ConfigurationError(f"{ds_id}.{table.name}.{column} cannot be set to null "
                                     "(NOT NULL); map it with erase: mask or keep")
        return None
    if not is_text:
        if not col.nullable:
            raise ConfigurationError(f"{ds_id}.{table.name}.{column} ({col.type}) cannot be "
                                     f"{how}ed and is NOT NULL; map it with erase: keep or null")
        return None
    length = getattr(col.type, "length", None) or 255
    if how == "hash" and value is not None:
        text = "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()
    else:  # mask, or null on a NOT NULL text column: a unique placeholder (unique columns)
        text = f"slettet-{secrets.token_hex(6)}"
    return text[:length]


# ---- the work on the datasets ---------------------------------------------------------------

# What an erasure is about to change, by request id, before a dataset commits it.
Intend = Callable[[dict[str, dict[str, dict[str, int]]]], None]
# Leaves no byte of erased rows of these tables (scrub_erased); the tables still holding some.
Scrub = Callable[..., list[str]]


def erase(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    """Erase the person's rows in every dataset (the proof follows the answer, as a job)."""
    intend: Intend | None = None
    if env.intend is not None:
        tell = env.intend

        def intend(counts: dict[str, dict[str, dict[str, int]]]) -> None:
            tell(counts[job.request_id])
    return erase_many([job], env, datasets, intend=intend)[job.request_id]


def erase_many(jobs: Sequence[Job], env: Env, datasets: Sequence[SqlDataset], *,
               intend: Intend | None = None, scrub: Scrub | None = None
               ) -> dict[str, dict[str, Any]]:
    """Erase the rows of every person of ``jobs`` in every dataset, set-based: each
    person's plan is made as for one erasure, then per dataset one transaction runs them
    together, a DELETE or UPDATE per table for all (chunked by key), and the files are
    scrubbed once (by ``scrub``, default :func:`scrub_erased`: a batch scrubs once for
    all its chunks). What each person's erasure did is returned by request id."""
    per_job = _results(jobs)
    until_vacuum: dict[str, list[str]] = {}
    for ds in datasets:
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            planned = _plan_in(ds, conn, jobs, env)
            if intend is not None:
                intend({rid: _counts(ds.spec.id, plan) for rid, plan in planned.plans.items()})
            _apply_in(conn, planned)
        _after_commit(planned, env, per_job, until_vacuum, scrub)
    return {j.request_id: _done(j, per_job[j.request_id], until_vacuum) for j in jobs}


# While Erasure.plan runs, the caller holds the engine's audit lock (the plan is kept in
# its opening transaction). A dataset table the service has locked (a migration's ALTER
# TABLE) must make the plan fail fast, leaving the request waiting, rather than stall
# every audited action behind it. Erasure.apply, after that commit, waits as usual.
PLAN_LOCK_TIMEOUT = "2s"


class Erasure:
    """One person's erasure in steps, for a caller that records the plan in a transaction
    of its own before any dataset changes: made with each dataset connected and its
    transaction open, :meth:`plan` finds the rows and returns what will change,
    :meth:`apply` changes and commits each dataset and returns what :func:`erase` would;
    :meth:`close` rolls back whatever is still open (on failure)."""

    def __init__(self, env: Env, datasets: Sequence[SqlDataset]) -> None:
        self.env = env
        self._job: Job | None = None
        self._open: list[tuple[SqlDataset, Connection, RootTransaction]] = []
        self._planned: list[_Planned] = []
        try:
            for ds in datasets:
                with storage_errors(ds.engine.url):
                    conn = ds.engine.connect()
                    if conn.dialect.name == "postgresql":
                        # psycopg would send BEGIN and wait for it alone; in autocommit it
                        # sends nothing of its own, so BEGIN goes with the lock timeout in
                        # one simple query. Its commit and rollback still end the block
                        # (they look at the server's transaction status); the pool puts
                        # the connection back out of autocommit when it is returned.
                        conn.execution_options(isolation_level="AUTOCOMMIT")
                        self._open.append((ds, conn, conn.begin()))
                        conn.exec_driver_sql(
                            f"BEGIN; SET LOCAL lock_timeout = '{PLAN_LOCK_TIMEOUT}'")
                    else:
                        self._open.append((ds, conn, conn.begin()))
        except BaseException:
            self.close()
            raise

    def plan(self, job: Job) -> dict[str, dict[str, int]]:
        """Find the person's rows and plan their erasure in every dataset; what the plans
        will delete and change, per dataset table (as :data:`Intend` is told)."""
        self._job = job
        counts: dict[str, dict[str, int]] = {"deleted": {}, "changed": {}}
        for ds, conn, _ in self._open:
            with storage_errors(ds.engine.url):
                planned = _plan_in(ds, conn, [job], self.env)
            self._planned.append(planned)
            for key, per_table in _counts(ds.spec.id, planned.plans[job.request_id]).items():
                counts[key].update(per_table)
        return counts

    def apply(self) -> dict[str, Any]:
        """Carry out the plans, each dataset committed in turn, then scrubbed."""
        assert self._job is not None, "plan first"
        per_job = _results([self._job])
        until_vacuum: dict[str, list[str]] = {}
        try:
            for (ds, conn, tx), planned in list(zip(self._open, self._planned, strict=True)):
                with storage_errors(ds.engine.url):
                    # No engine lock is held now: the changes wait for locks as usual.
                    _apply_in(conn, planned, "SET LOCAL lock_timeout = DEFAULT"
                              if conn.dialect.name == "postgresql" else None)
                    tx.commit()
                self._open.pop(0)
                conn.close()
                _after_commit(planned, self.env, per_job, until_vacuum)
        except BaseException:
            self.close()
            raise
        return _done(self._job, per_job[self._job.request_id], until_vacuum)

    def close(self) -> None:
        """Roll back and release every dataset connection still open."""
        while self._open:
            _, conn, _ = self._open.pop()
            with contextlib.suppress(Exception):  # closing is all that is left to do
                conn.close()


@dataclass
class _Planned:
    """One dataset's plans, each person's and merged, made in its open transaction."""

    ds: SqlDataset
    plans: dict[str, _Plan]
    merged: _Plan


def _results(jobs: Sequence[Job]) -> dict[str, dict[str, Any]]:
    """Each person's result so far, empty, by request id."""
    return {j.request_id: {"deleted": {}, "changed": {}, "kept": [], "untouched": {},
                           "kept_keys": {}} for j in jobs}


def _plan_in(ds: SqlDataset, conn: Connection, jobs: Sequence[Job], env: Env) -> _Planned:
    """Each person's plan for ``ds``, made from their own rows as for one erasure, after
    one walk for everyone (a query per table and round)."""
    found = ds.find_many(conn, {j.request_id: walk_ids(j, ds) for j in jobs})
    plans = {j.request_id: _plan(ds, found[j.request_id], env) for j in jobs}
    return _Planned(ds, plans, _merge(plans.values()))


def _apply_in(conn: Connection, planned: _Planned, first: str | None = None) -> None:
    """Run the merged plan in the dataset's open transaction (after ``first``, a statement
    of no parameters), its statements sent together and answered at the end on
    PostgreSQL (:func:`sent_together`: one round trip; nothing reads their results)."""
    try:
        with sent_together(conn):
            if first is not None:
                conn.exec_driver_sql(first)
            _apply(conn, planned.ds, planned.merged)
    except IntegrityError as exc:
        raise ConfigurationError(
            f"dataset {planned.ds.spec.id!r}: erasing broke a foreign key the data map does "
            f"not follow; add it as a reference ({str(exc.orig).splitlines()[0]})"
        ) from None


def _after_commit(planned: _Planned, env: Env, per_job: dict[str, dict[str, Any]],
                  until_vacuum: dict[str, list[str]], scrub: Scrub | None = None) -> None:
    """Once the dataset committed: its files scrubbed (by ``scrub``, default
    :func:`scrub_erased`), each person's result added up."""
    ds, merged, name = planned.ds, planned.merged, planned.ds.spec.id
    if merged.deletes or merged.updates or merged.unlinks:  # no copy left in file or WAL
        with storage_errors(ds.engine.url):
            left = (scrub or scrub_erased)(
                ds.engine, [*merged.deletes, *merged.updates, *merged.unlinks],
                vacuum=env.vacuum)
        if left:
            until_vacuum[name] = left
    for rid, plan in planned.plans.items():
        mine = per_job[rid]
        counted = _counts(name, plan)
        mine["deleted"].update(counted["deleted"])
        mine["changed"].update(counted["changed"])
        mine["untouched"].update({f"{name}.{t}": n for t, n in plan.untouched.items()})
        mine["kept_keys"][name] = {t: set(k) for t, k in plan.kept.items() if k}
        mine["kept"] += _describe_kept(name, plan, env)


def _merge(plans: Iterable[_Plan]) -> _Plan:
    """The plans of several people as one: each row once; a row one of them keeps under a
    hold is deleted for none of them (the hold wins, as it would one person at a time)."""
    merged = _Plan()
    for plan in plans:
        for table, kept in plan.kept.items():
            merged.kept[table].update(kept)
    have: dict[str, set[Any]] = defaultdict(set)  # kept as they grow: not rebuilt per plan
    for plan in plans:
        for table, keys in plan.deletes.items():
            mine = [k for k in dict.fromkeys(keys) if k not in have[table]
                    and k not in merged.kept.get(table, {})]
            have[table].update(mine)
            merged.deletes[table] += mine
        for source, target in ((plan.updates, merged.updates), (plan.unlinks, merged.unlinks)):
            for table, rows in source.items():
                target[table] += rows
    return merged


def _done(job: Job, mine: dict[str, Any], until_vacuum: dict[str, list[str]]
          ) -> dict[str, Any]:
    """One person's result, as the engine records it (keys with _ are internal)."""
    deleted, changed = mine["deleted"], mine["changed"]
    kept_out = list(mine["kept"])
    callbacks = dict(job.callbacks)
    for ds_id, answer in callbacks.items():  # what the apps kept, said the same way
        kept_out += [{"dataset": ds_id, "table": k["table"], "rows": k["rows"], "rule": None,
                      "why": k["why"], "until": k.get("until"), "restricted": True, "keys": []}
                     for k in (answer or {}).get("kept", [])]
    # A run killed after a dataset committed finds those rows gone: count what it intended.
    for key, counts in (("deleted", deleted), ("changed", changed)):
        for table, n in job.intended.get(key, {}).items():
            counts[table] = max(counts.get(table, 0), n)
    done = {"deleted": deleted, "changed": changed, "kept": kept_out,
            "kept_by_map": mine["untouched"], "callbacks": callbacks,
            "_kept_keys": mine["kept_keys"]}
    if until_vacuum:  # said, not hidden: these files still hold the old row versions
        done["left_until_vacuum"] = until_vacuum
    return done


def _counts(name: str, plan: _Plan) -> dict[str, dict[str, int]]:
    """What applying ``plan`` to dataset ``name`` deletes and changes, per table."""
    changed: dict[str, int] = defaultdict(int)
    for source in (plan.unlinks, plan.updates):
        for t, r in source.items():
            if r:
                changed[f"{name}.{t}"] += len(r)
    return {"deleted": {f"{name}.{t}": len(k) for t, k in plan.deletes.items() if k},
            "changed": dict(changed)}


def _apply(conn: Any, ds: SqlDataset, plan: _Plan) -> None:
    """Run the plan: links to the person cut, deletes children first, then updates
    batched by the columns they set."""
    _update(conn, ds, plan.unlinks)
    for table in ds.deletion_order():
        keys = plan.deletes.get(table)
        if keys:
            t = ds.tables[table]
            key = ds.mapped[table].key
            for start in range(0, len(keys), 500):
                conn.execute(delete(t).where(t.c[key].in_(keys[start:start + 500])))
    _update(conn, ds, plan.updates)


def _update(conn: Any, ds: SqlDataset, updates: dict[str, list[dict[str, Any]]]) -> None:
    """Set columns of rows by key, batched by the columns they set."""
    for table, rows in updates.items():
        t = ds.tables[table]
        key = ds.mapped[table].key
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_shape[tuple(sorted(k for k in row if k != "_key"))].append(row)
        for cols, batch in by_shape.items():
            stmt = update(t).where(t.c[key] == bindparam("_key")).values(
                {c: bindparam(c) for c in cols})
            conn.execute(stmt, batch)


def _describe_kept(ds_id: str, plan: _Plan, env: Env) -> list[dict[str, Any]]:
    """What was kept, why and until when, grouped for the answer to the person."""
    lang = env.language()
    groups: dict[tuple[str, str, date | None, str | None], list[Any]] = defaultdict(list)
    for table, rows in plan.kept.items():
        for key, hold in rows.items():
            groups[(table, hold.rule, hold.until, hold.via)].append(key)
    out = []
    for (table, rule_id, until, via), keys in sorted(groups.items(), key=lambda g: (
            g[0][0], g[0][2] or date.max)):
        rule = env.manifest.retention_rule(rule_id)
        why = rule_text(rule, lang) if rule else rule_id
        if rule and rule.statute:
            why = f"{why} ({rule.statute})"
        if via:
            why += f"; needed by the kept {via} rows"
        out.append({"dataset": ds_id, "table": table, "rows": len(keys), "rule": rule_id,
                    "why": why, "until": until.isoformat() if until else None,
                    "restricted": True, "keys": sorted(keys, key=str)})
    return out


# ---- the engine's side ----------------------------------------------------------------------

def forget(session: Session, consent: ConsentContext, job: Job, outcome: dict[str, Any],
           now: datetime) -> None:
    """The engine's side of an erasure: forget the person, destroy the key."""
    forget_many(session, consent, [job], {job.request_id: outcome}, now)


def forget_many(session: Session, consent: ConsentContext, jobs: Sequence[Job],
                outcomes: dict[str, dict[str, Any]], now: datetime) -> None:
    """The engine's side of erasing several people: what the engine holds on them goes in
    one statement per table, then each person's key is destroyed."""
    forget_subjects(session, [j.subject_id for j in jobs], now,
                    keep_details_of=[j.request_id for j in jobs])
    first: dict[str, Job] = {}
    for job in jobs:
        consent.cache.invalidate_on_commit(session, job.subject_id)
        first.setdefault(job.subject_id, job)
    # Last: destroy the subjects' keys, so every copy of their ciphertext (backups too) is
    # unreadable; set-based, each subject audited as one at a time would be.
    destroyed = shred_subjects(session, list(first), at=now, reasons={
        sid: f"request:{job.request_id}" for sid, job in first.items()})
    for job in jobs:
        if first[job.subject_id] is job:
            outcomes[job.request_id]["key_destroyed"] = destroyed[job.subject_id]
        else:  # a second request of the same person: the key is gone already
            outcomes[job.request_id]["key_destroyed"] = shred_subject(
                session, job.subject_id, at=now, reason=f"request:{job.request_id}")


def erase_in_engine(session: Session, subject_id: str, request_id: str, at: datetime) -> None:
    """Erase what the engine holds on the person; the pseudonymous id, the hash-chained
    ledger facts and this request's record (without personal values) remain as proof."""
    forget_subjects(session, [subject_id], at, keep_details_of=request_id)


def forget_subjects(session: Session, subject_ids: Sequence[str], at: datetime, *,
                    keep_details_of: str | Sequence[str] | None = None) -> None:
    """The engine's side of erasing people, for an erasure request and a retention sweep
    alike: identities, evidence, relations, cookie choices, request details and notes go;
    their sessions and sign-in links end; the pseudonymous subject row stays as a
    tombstone (``erased_at``) so the ledger and the requests still verify.
    ``keep_details_of``: the erasure requests themselves keep what they asked for."""
    if not subject_ids:
        return
    ids = list(subject_ids)
    own = [keep_details_of] if isinstance(keep_details_of, str) else list(keep_details_of or ())
    session.flush()  # what the ORM holds goes first, so these statements see it
    conn = session.connection()  # Core statements: no ORM bookkeeping for plain deletes
    if conn.dialect.name == "postgresql" and len(ids) <= _ONE_STATEMENT:
        # One round trip instead of nine: each change a data-modifying CTE of the last.
        # They touch different tables, and nothing cascades from any of them into another.
        conn.execute(_forget_in_one(), {"ids": ids, "own": own, "at": at})
    elif conn.dialect.name == "sqlite":  # no data-modifying CTEs: one by one, built once
        for stmt in _forget_each():
            conn.execute(stmt, {"ids": ids, "own": own, "at": at})
    else:  # many people on PostgreSQL: each IN list bound once
        statements, tombstone = _forgetting(ids, own, at)
        for stmt in [*statements, tombstone]:
            conn.execute(stmt)
    # Subjects already loaded in this session read the tombstone, not what they were.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Subject) and obj.id in ids:
            session.expire(obj)


def _forgetting(ids: Sequence[str], own: Sequence[str], at: datetime
                ) -> tuple[list[Delete | Update], Update]:
    """:func:`forget_subjects`'s statements: the changes, then the tombstone's UPDATE."""
    statements: list[Delete | Update] = [delete(table).where(where) for table, where in (
        (_IDENTITIES, _IDENTITIES.c.subject_id.in_(ids)),
        (_EVIDENCE, _EVIDENCE.c.subject_id.in_(ids)),
        (_GUARDIANS, or_(_GUARDIANS.c.guardian_id.in_(ids), _GUARDIANS.c.child_id.in_(ids))),
        (_MEMBERS, _MEMBERS.c.subject_id.in_(ids)),
        (_COOKIES, _COOKIES.c.subject_id.in_(ids)),
    )]
    # Their other requests' details go; notes written before they were sealed are blanked
    # (sealed ones die with the key). One statement for both.
    statements.append(update(_REQUESTS).where(_REQUESTS.c.subject_id.in_(ids)).values(
        details=case((_REQUESTS.c.id.in_(own), _REQUESTS.c.details),
                     else_=type_coerce({}, _REQUESTS.c.details.type)),
        verified_by=None))
    statements += ending_statements(ids, at)  # their sessions end, their links go
    tombstone = update(_SUBJECTS).where(_SUBJECTS.c.id.in_(ids)).values(
        erased_at=at, closed_at=func.coalesce(_SUBJECTS.c.closed_at, at), birth_date=None,
        last_activity=None)
    return statements, tombstone


@functools.cache
def _forget_in_one() -> Update:
    """:func:`forget_subjects`'s one statement (PostgreSQL), built once with its values
    as parameters (``ids``, ``own``, ``at``): built anew at each erasure, its nine parts
    and their cache key cost more Python than any other statement of it."""
    statements, tombstone = _forgetting([_IDS], [_OWN], _AT)
    built = tombstone.add_cte(*(stmt.cte(f"forget_{n}") for n, stmt in enumerate(statements)))
    return cast(Update, _as_parameters(built))


@functools.cache
def _forget_each() -> list[Delete | Update]:
    """:func:`forget_subjects`'s statements one by one (SQLite), built once with their
    values as parameters, as :func:`_forget_in_one`: built anew, their IN lists and cache
    keys cost some 7 ms of Python for 200 people (a batch), more than running them."""
    statements, tombstone = _forgetting([_IDS], [_OWN], _AT)
    return [cast(Delete | Update, _as_parameters(stmt)) for stmt in [*statements, tombstone]]


def _as_parameters(built: Update | Delete) -> Any:
    """``built`` with the stand-ins' values (:data:`_IDS`, :data:`_OWN`, :data:`_AT`)
    replaced by the parameters ``ids``, ``own`` and ``at``."""
    bound = {id(_IDS): bindparam("ids", expanding=True, type_=_SUBJECTS.c.id.type),
             id(_OWN): bindparam("own", expanding=True, type_=_REQUESTS.c.id.type),
             id(_AT): bindparam("at", type_=_SUBJECTS.c.erased_at.type)}

    def parameter(element: Any, **_: Any) -> Any:
        """The parameter that replaces a stand-in's value (None: keep ``element``)."""
        if not isinstance(element, BindParameter):
            return None
        value: Any = element.value
        key = id(value[0]) if element.expanding and len(value) == 1 else id(value)
        return bound.get(key)

    no_options: dict[str, Any] = {}
    return replacement_traverse(cast(Any, built), no_options, parameter)


class _Marker(str):
    """A stand-in for a value in :func:`_forget_in_one`, told apart by its identity."""

    __slots__ = ()


# The stand-ins for the people's ids, their requests' ids and the time (told apart by
# identity: no real value is these objects).
_IDS, _OWN, _AT = _Marker(), _Marker(), datetime.max


# Up to this many people, forget_subjects sends one statement on PostgreSQL (its IN lists
# bound nine times over stay far below the 65,535 parameters of one statement).
_ONE_STATEMENT = 1000

# The engine's tables as Core tables: erase_in_engine deletes without loading ORM objects.
_IDENTITIES: SqlTable = Identity.__table__  # type: ignore[assignment]
_EVIDENCE: SqlTable = LedgerEvidence.__table__  # type: ignore[assignment]
_GUARDIANS: SqlTable = Guardianship.__table__  # type: ignore[assignment]
_MEMBERS: SqlTable = Membership.__table__  # type: ignore[assignment]
_COOKIES: SqlTable = CookieChoice.__table__  # type: ignore[assignment]
_REQUESTS: SqlTable = Request.__table__  # type: ignore[assignment]
_SUBJECTS: SqlTable = Subject.__table__  # type: ignore[assignment]
