"""Customer organisations (seed 003): create, list, show, members and admins, and leaving.

An organisation that leaves the service takes its members' data and its own rows with it:
every member gets an erasure request opened by the privacy owner, and all are run
together through the request engine's batch erasure (``requests.batch``: legal holds,
proof, audit and Art. 19 notices exactly as for one person's erasure, GDPR Art. 17 and
19), then the rows the data map marks as the organisation's (``organisation:`` on a
table) and every row referring to them are erased, except what a legal hold keeps. Only
when all of that is done is the organisation marked as left; a dataset that is down
leaves the rest waiting and the report says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from personvern.audit import append_audit, require_reason
from personvern.clock import Clock
from personvern.consent.subjects import add_member as add_membership
from personvern.consent.subjects import create_organisation, get_subject, reference_of
from personvern.consent.tables import Membership, Organisation, Subject
from personvern.errors import ConfigurationError, Conflict, InvalidInput, NotFound, PersonvernError
from personvern.requests.batch import erase_batch
from personvern.requests.datamap import Found, SqlDataset
from personvern.requests.deadlines import receipt_date
from personvern.requests.engine import (
    OPEN_STATES,
    Requester,
    Requests,
    RunResult,
    open_request,
)
from personvern.requests.erase import Hold, _Plan, _unlinked, hold_until, row_date
from personvern.requests.tables import Request
from personvern.storage.engine import scrub_erased, storage_errors
from personvern.wording import count

if TYPE_CHECKING:
    from personvern.manifest.model import Manifest

ROLES = ("member", "admin")
MAX_NAME = 300
_ORGNR = re.compile(r"^[0-9 ]{9,11}$")


# ---- the registry ---------------------------------------------------------------------------

def get_organisation(session: Session, ref: str) -> Organisation:
    """An organisation by id, organisasjonsnummer (spaces allowed) or exact name; NotFound
    otherwise, and InvalidInput when a name is shared by more than one."""
    ref = ref.strip()
    found = session.get(Organisation, ref)
    if found is not None:
        return found
    if _ORGNR.match(ref):
        found = session.scalars(
            select(Organisation).where(Organisation.orgnr == ref.replace(" ", ""))).first()
        if found is not None:
            return found
    named = list(session.scalars(select(Organisation).where(Organisation.name == ref)))
    if len(named) > 1:
        raise InvalidInput(f"{len(named)} organisations are named {ref!r}; give the id or orgnr")
    if not named:
        raise NotFound(f"no organisation {ref!r} (give its id, orgnr or exact name)")
    return named[0]


def create(session: Session, clock: Clock, name: str, orgnr: str | None = None) -> Organisation:
    """A new organisation; its orgnr checked with mod-11 and unique, its name 1 to 300
    characters. Nothing is stored when any check fails."""
    clean = (name or "").strip()
    if not clean or len(clean) > MAX_NAME:
        raise InvalidInput(f"an organisation's name must be 1 to {MAX_NAME} characters")
    if orgnr is not None:
        digits = orgnr.replace(" ", "")
        taken = session.scalars(select(Organisation).where(Organisation.orgnr == digits)).first()
        if taken is not None:
            raise Conflict(f"organisasjonsnummer {digits} is already {taken.name!r} ({taken.id})")
    return create_organisation(session, clock, clean, orgnr)


def members_of(session: Session, org_id: str) -> list[tuple[Subject, str]]:
    """The organisation's members who are not erased, admins first, each with their role."""
    return [(s, role) for s, role in session.execute(
        select(Subject, Membership.role).join(Membership, Membership.subject_id == Subject.id)
        .where(Membership.organisation_id == org_id, Subject.erased_at.is_(None))
        .order_by(Membership.role, Membership.id)).tuples()]


def list_organisations(session: Session) -> list[dict[str, Any]]:
    """Every organisation by name, with its count of members and admins."""
    counts = dict(session.execute(
        select(Membership.organisation_id, func.count()).group_by(Membership.organisation_id)
    ).tuples().all())
    admins = dict(session.execute(
        select(Membership.organisation_id, func.count()).where(Membership.role == "admin")
        .group_by(Membership.organisation_id)).tuples().all())
    return [{**describe(org), "members": counts.get(org.id, 0), "admins": admins.get(org.id, 0)}
            for org in session.scalars(select(Organisation).order_by(Organisation.name,
                                                                    Organisation.id))]


def describe(org: Organisation) -> dict[str, Any]:
    """The organisation as plain data."""
    return {"id": org.id, "name": org.name, "orgnr": org.orgnr, "created_at": org.created_at,
            "left_at": org.left_at}


def show(session: Session, ref: str) -> dict[str, Any]:
    """The organisation with its members (subject id, how to refer to them, role)."""
    org = get_organisation(session, ref)
    return {**describe(org), "members": [
        {"subject_id": s.id, "reference": reference_of(session, s.id), "role": role}
        for s, role in members_of(session, org.id)]}


def _open_org(session: Session, ref: str) -> Organisation:
    org = get_organisation(session, ref)
    if org.left_at is not None:
        raise Conflict(f"organisation {org.name!r} left on {org.left_at.date().isoformat()}; "
                       "it takes no members")
    return org


def add_member(session: Session, clock: Clock, org_ref: str, subject_ref: str,
               role: str = "member") -> Membership:
    """Make a subject a member (or an admin, who may act for the members) of an organisation;
    Conflict when they already are."""
    if role not in ROLES:
        raise InvalidInput(f"role must be member or admin, not {role!r}")
    org = _open_org(session, org_ref)
    subject = get_subject(session, subject_ref)
    existing = session.scalars(select(Membership).where(
        Membership.organisation_id == org.id, Membership.subject_id == subject.id)).first()
    if existing is not None:
        raise Conflict(f"{subject_ref} is already {'an' if existing.role == 'admin' else 'a'} "
                       f"{existing.role} of {org.name!r}")
    try:
        with session.begin_nested():
            return add_membership(session, clock, org, subject, role)
    except IntegrityError:  # added meanwhile by another writer
        raise Conflict(f"{subject_ref} is already in {org.name!r}") from None


def remove_member(session: Session, org_ref: str, subject_ref: str) -> None:
    """End a subject's membership (their data stays: they are still a person of the service)."""
    org = get_organisation(session, org_ref)
    subject = get_subject(session, subject_ref)
    gone = session.execute(delete(Membership).where(
        Membership.organisation_id == org.id, Membership.subject_id == subject.id))
    if not getattr(gone, "rowcount", 0):
        raise NotFound(f"{subject_ref} is not a member of {org.name!r}")


# ---- leaving --------------------------------------------------------------------------------

@dataclass
class LeaveReport:
    """What an organisation's leaving did: members erased, rows kept and why, what failed."""

    organisation: dict[str, Any]
    erased: list[str] = field(default_factory=list)  # subject ids, erasure completed
    # Members who also belong to an organisation that stays: not erased, their membership
    # here ended (subject id and the organisations they stay with).
    stayed: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)  # subject, request, error
    kept: list[dict[str, Any]] = field(default_factory=list)  # dataset, table, rows, until, why
    deleted: dict[str, int] = field(default_factory=dict)  # the organisation's own rows
    unlinked: dict[str, int] = field(default_factory=dict)  # others' rows that named it
    errors: list[str] = field(default_factory=list)
    # No table is marked organisation:, so the organisation's own rows are not looked for.
    own_rows_not_mapped: bool = False

    @property
    def complete(self) -> bool:
        """Whether everything is done and the organisation is marked as left."""
        return not self.waiting and not self.errors and self.organisation.get("left_at") is not None

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return {"organisation": self.organisation, "complete": self.complete,
                "erased": self.erased, "stayed": self.stayed, "waiting": self.waiting,
                "kept": self.kept, "deleted": self.deleted, "unlinked": self.unlinked,
                "errors": self.errors, "own_rows_not_mapped": self.own_rows_not_mapped}


def organisation_leaves(
    service: Requests, ref: str, *, reason: str, channel: str = "email", actor: str = "owner",
) -> LeaveReport:
    """The organisation leaves: its members erased, then its own rows, then it is marked as
    left. A member who also belongs to an organisation that stays is a person of that one
    still: only their membership here ends (their rows under this organisation go with its
    own). Run again after a failure, it goes on where it stopped (open erasure requests are
    run, not opened twice); once left, it is a Conflict and nothing changes."""
    why = require_reason(reason, "let the organisation leave")
    ctx = service.ctx
    with service.transaction() as s:
        org = get_organisation(s, ref)
        if org.left_at is not None:
            raise Conflict(f"organisation {org.name!r} already left on "
                           f"{org.left_at.date().isoformat()}; nothing was changed")
        report = LeaveReport(describe(org),
                             own_rows_not_mapped=not organisation_tables(ctx.manifest))
        label = f"{org.name} ({org.orgnr})" if org.orgnr else org.name
        members = [m.id for m, _ in members_of(s, org.id)]
        elsewhere = _other_organisations(s, org.id, members)
        for subject_id, names in elsewhere.items():
            s.execute(delete(Membership).where(Membership.organisation_id == org.id,
                                               Membership.subject_id == subject_id))
            report.stayed.append({"subject_id": subject_id, "organisations": names})
        members = [m for m in members if m not in elsewhere]
        append_audit(s, ctx.clock, actor, "organisation.leave", f"organisation:{org.id}",
                     {"reason": why, "members": len(members),
                      "stayed": [x["subject_id"] for x in report.stayed]})
        request_ids = []
        for subject_id in members:
            pending = s.scalars(select(Request.id).where(
                Request.subject_id == subject_id, Request.type == "erasure",
                Request.state.in_([st for st in OPEN_STATES
                                   if st not in ("received", "verifying")]))).first()
            if pending is None:
                pending = open_request(
                    s, ctx, "erasure", subject=subject_id, channel=channel,
                    by=Requester("owner", verified_by=f"member of {label}, which left the "
                                 f"service: {why}"),
                    details={"note": f"{label} left the service: {why}"}).request.id
            request_ids.append((subject_id, pending))
        org_id, orgnr = org.id, org.orgnr
    run_reason = f"organisation {label} left the service: {why}"
    # The members together, set-based (requests.batch): each keeps their own request.
    try:
        batch = erase_batch(service, [rid for _, rid in request_ids], reason=run_reason,
                            actor=actor)
        results = {r.request_id: r for r in [*batch.completed, *batch.waiting]}
        results.update({r["ref"]: RunResult(r["ref"], "waiting", {}, r["error"])
                        for r in batch.refused})
    except PersonvernError as exc:  # kept waiting with the error by the engine
        results = {rid: RunResult(rid, "waiting", {}, str(exc)) for _, rid in request_ids}
    for subject_id, rid in request_ids:
        result = results[rid]
        if result.state == "completed":
            report.erased.append(subject_id)
            report.kept += [_kept(k) for k in result.outcome.get("kept", [])]
        else:
            report.waiting.append({"subject_id": subject_id, "request": rid,
                                   "error": result.error})
    if report.waiting:
        report.errors.append(f"{len(report.waiting)} of {len(request_ids)} members' erasures "
                             f"are waiting; when fixed, run `personvern org leave {org_id} "
                             "--reason TEXT` again")
        return report
    try:
        _erase_rows(service, orgnr, report)
    except (PersonvernError, OSError) as exc:
        service.close()  # reconnect next time: the server may be back
        report.errors.append(f"the organisation's own rows: {exc}")
        return report
    with service.transaction() as s:
        row = s.get(Organisation, org_id)
        assert row is not None
        row.left_at = ctx.clock()
        report.organisation = describe(row)
        append_audit(s, ctx.clock, actor, "organisation.left", f"organisation:{org_id}", {
            "reason": why, "members_erased": len(report.erased), "deleted": report.deleted,
            "kept": [{k: v for k, v in kept.items() if k != "keys"} for kept in report.kept]})
    return report


def _other_organisations(session: Session, org_id: str, members: list[str]
                         ) -> dict[str, list[str]]:
    """The members who belong to another organisation that has not left, with its names."""
    if not members:
        return {}
    rows = session.execute(
        select(Membership.subject_id, Organisation.name)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.subject_id.in_(members), Membership.organisation_id != org_id,
               Organisation.left_at.is_(None))
        .order_by(Organisation.name)).tuples()
    out: dict[str, list[str]] = {}
    for subject_id, name in rows:
        out.setdefault(subject_id, []).append(name)
    return out


def _kept(k: dict[str, Any]) -> dict[str, Any]:
    return {"dataset": k["dataset"], "table": k["table"], "rows": k["rows"],
            "rule": k.get("rule"), "until": k.get("until"), "why": k["why"], "restricted": True}


def organisation_tables(manifest: Manifest) -> list[str]:
    """The SQL tables the data map marks with an organisation's rows (``organisation:``):
    the only places leaving looks for them."""
    return [f"{ds.id}.{t.name}" for ds in manifest.datasets if ds.kind == "sql"
            for t in ds.tables if t.organisation]


def _erase_rows(service: Requests, orgnr: str | None, report: LeaveReport) -> None:
    """The organisation's own rows in every SQL dataset whose map marks them, with every
    row referring to them; rows under an active legal hold (and what they point at) stay."""
    if not organisation_tables(service.ctx.manifest):
        return
    if orgnr is None:
        raise InvalidInput("the organisation has no orgnr, and the data map finds an "
                           "organisation's rows by it; add it to the organisation first")
    for ds in service.datasets():
        seeds = {t.name: {t.organisation: [orgnr]} for t in ds.spec.tables if t.organisation}
        if seeds:
            _erase_in(service, ds, seeds, report)


def _erase_in(service: Requests, ds: SqlDataset, seeds: dict[str, dict[str, list[Any]]],
              report: LeaveReport) -> None:
    ctx = service.ctx
    today = receipt_date(ctx.clock(), ctx.jurisdiction)
    with storage_errors(ds.engine.url), ds.engine.begin() as conn:
        found = ds.walk(conn, seeds)
        plan = _Plan()
        for table, rows in found.rows.items():
            spec = ds.mapped[table]
            rule = ctx.manifest.retention_rule(spec.hold) if spec.hold else None
            if spec.hold and rule is None:
                raise ConfigurationError(f"hold {spec.hold!r} names no retention rule")
            for key, row in rows.items():
                until = hold_until(rule, ctx.jurisdiction, row_date(ds.tables[table], row)) \
                    if rule else None
                if rule and (until is None or until >= today):
                    plan.kept[table][key] = Hold(rule.id, until)
        _keep_referenced(ds, found, plan)
        unlinks: dict[str, list[dict[str, Any]]] = {}
        for table, rows in found.rows.items():
            named = found.named.get(table, {})
            plan.deletes[table] = [k for k in rows if k not in plan.kept.get(table, {})
                                   and k not in named]
            # A row that only names the organisation (owner: false) is another's: it stays
            # with its owner and loses the link, as a message sent to an erased person does.
            unlinks[table] = [
                {"_key": k, **{c: _unlinked(ds.tables[table], c, ds.spec.id) for c in cols}}
                for k, cols in named.items() if k not in plan.kept.get(table, {})]
        try:
            for table, changes in unlinks.items():
                named_in = ds.tables[table]
                key = ds.mapped[table].key
                for change in changes:
                    conn.execute(named_in.update().where(
                        named_in.c[key] == change["_key"]).values(
                        {c: v for c, v in change.items() if c != "_key"}))
            for table in ds.deletion_order():
                keys = plan.deletes.get(table)
                t = ds.tables.get(table)
                for start in range(0, len(keys or ()), 500):
                    assert t is not None and keys is not None
                    conn.execute(delete(t).where(
                        t.c[ds.mapped[table].key].in_(keys[start:start + 500])))
        except IntegrityError as exc:
            raise ConfigurationError(
                f"dataset {ds.spec.id!r}: erasing the organisation broke a foreign key the "
                f"data map does not follow ({str(exc.orig).splitlines()[0]})") from None
    touched = [t for t, k in plan.deletes.items() if k]
    if touched:
        with storage_errors(ds.engine.url):
            scrub_erased(ds.engine, touched)
    report.deleted.update({f"{ds.spec.id}.{t}": len(plan.deletes[t]) for t in touched})
    report.unlinked.update({f"{ds.spec.id}.{t}": len(c) for t, c in unlinks.items() if c})
    for table, held in sorted(plan.kept.items()):
        groups: dict[tuple[str, Any, str | None], int] = {}
        for hold in held.values():
            g = (hold.rule, hold.until, hold.via)
            groups[g] = groups.get(g, 0) + 1
        for (rule_id, until, via), n in groups.items():
            why = rule_id + (f"; needed by the kept {via} rows" if via else "")
            report.kept.append({"dataset": ds.spec.id, "table": table, "rows": n,
                                "rule": rule_id, "why": why, "restricted": True,
                                "until": until.isoformat() if until else None})


def _keep_referenced(ds: SqlDataset, found: Found, plan: _Plan) -> None:
    """A row a kept row points at stays too (its foreign key needs it), whatever the map
    says erasure does to it: leaving deletes every row it does not keep."""
    changed = True
    while changed:
        changed = False
        for e in [*ds.edges, *ds.parts]:
            for child_key, hold in list(plan.kept.get(e.table, {}).items()):
                value = found.rows[e.table][child_key].get(e.column)
                for t_key, t_row in found.rows.get(e.target, {}).items():
                    if t_row.get(e.target_column) == value and t_key not in plan.kept[e.target]:
                        plan.kept[e.target][t_key] = Hold(hold.rule, hold.until, via=e.table)
                        changed = True


def leave_lines(report: LeaveReport) -> list[str]:
    """The report as lines for a person (the CLI's text output)."""
    org = report.organisation
    lines = [f"organisation {org['name']}: " + (
        f"left on {org['left_at'].date().isoformat()}" if isinstance(org["left_at"], datetime)
        else "NOT left yet")]
    lines.append(f"  members erased: {len(report.erased)}")
    lines += [f"  stayed: {x['subject_id']}, still a member of {', '.join(x['organisations'])} "
              "(membership here ended)" for x in report.stayed]
    lines += [f"  waiting: {w['subject_id']} (request {w['request']}): {w['error']}"
              for w in report.waiting]
    lines += [f"  deleted {count(n, 'row')} of {t}" for t, n in sorted(report.deleted.items())]
    lines += [f"  unlinked {count(n, 'row')} of {t} (another's rows that named it)"
              for t, n in sorted(report.unlinked.items())]
    lines += [f"  kept {count(k['rows'], 'row')} of {k['dataset']}.{k['table']} until "
              f"{k['until'] or 'the end of the rule'}, restricted: {k['why']}"
              for k in report.kept]
    lines += [f"  error: {e}" for e in report.errors]
    if report.own_rows_not_mapped:
        lines.append("not enforced: the data map marks no table with an organisation's rows "
                     "(organisation: on a table), so its own rows were not looked for; only "
                     "its members were erased")
    return lines

