"""The privacy owner's dashboard at ``/dashboard``: staff sign in with a password.

Thin: every page asks a core (``staff.queries``, the requests engine, the registers)
and renders a template. Every route checks the staff user's role (a 403 page saying
who may, otherwise); every action is audited with who, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from personvern.audit import append_audit
from personvern.errors import Forbidden, PersonvernError
from personvern.requests.bookkeeping import bookkeeping_rules
from personvern.requests.engine import Context, Requests
from personvern.runtime import Runtime
from personvern.staff import queries
from personvern.staff.roles import ROLE_NAMES, ROLES, may, permissions_of, require
from personvern.staff.users import (
    SIGN_IN_FAILED,
    StaffView,
    add_user,
    disable_user,
    sign_in,
    user_by_id,
)
from personvern.web import csrf, sessions
from personvern.web.dashboard_charts import consent_chart
from personvern.web.deps import runtime, unit
from personvern.web.i18n import LANG_COOKIE
from personvern.web.render import page


def _english_by_default(request: Request) -> None:
    """The dashboard's pages are written in English: its chrome (and ``<html lang>``)
    follows, unless the person chose a language (``?lang=`` or the language cookie)."""
    request.cookies.setdefault(LANG_COOKIE, "en")


router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False,
                   dependencies=[Depends(_english_by_default)])

ACTIONS = ("extend", "refuse", "run", "lift")
# How many completed erasures the bookkeeping page reads; the page says so, since "none
# kept" is then about those alone.
KEPT_LIMIT = 500
DONE = {"extend": "extended", "refuse": "refused", "run": "run", "lift": "restriction lifted",
        "task": "the processor's answer recorded"}
# The navigation: (path, label, permission); a link shows only to roles that may use it.
NAV = (
    ("/dashboard/requests", "Requests", "requests.view"),
    ("/dashboard/subjects", "Subjects", "subjects.search"),
    ("/dashboard/consent", "Consent", "consent.stats"),
    ("/dashboard/retention", "Retention", "retention.view"),
    ("/dashboard/ropa", "Record of processing", "ropa.view"),
    ("/dashboard/policy", "Policy", "policy.view"),
    ("/dashboard/breaches", "Breaches", "breaches.view"),
    ("/dashboard/audit", "Audit log", "audit.view"),
    ("/dashboard/bookkeeping", "Bookkeeping", "bookkeeping.view"),
    ("/dashboard/users", "Users", "users.manage"),
)


class RoleRefused(Forbidden):
    """A signed-in staff user whose role may not use this page; shown with its reason."""


@dataclass(frozen=True)
class Staff:
    """The signed-in staff user of one request."""

    id: int
    email: str
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"staff:{self.email}"

    def may(self, permission: str) -> bool:
        """Whether this user's role holds ``permission``."""
        return may(self.role, permission)


def staff(request: Request) -> Staff:
    """The signed-in staff user; a disabled one is signed out at once."""
    rt = runtime(request)
    found = None
    with unit(rt) as s:  # the session and the user in one transaction
        current = sessions.live_in(s, request, "staff")
        user = user_by_id(s, int(current.principal)) if current is not None else None
        if current is not None and (user is None or user.disabled_at is not None):
            sessions.end(s, rt.clock, current.token)
        elif user is not None:
            found = Staff(user.id, user.email, user.name, user.role)
    if found is None:
        raise sessions.SignInRequired("staff")
    return found


StaffDep = Annotated[Staff, Depends(staff)]


def permit(permission: str) -> Any:
    """A dependency: the staff user, if their role holds ``permission``; else a 403 page."""

    def check(request: Request, user: StaffDep) -> Staff:
        try:
            require(user.role, permission)
        except Forbidden as exc:
            rt = runtime(request)
            with unit(rt) as s:  # refusals are audited too: someone tried
                append_audit(s, rt.clock, user.actor, "dashboard.refused", request.url.path,
                             {"permission": permission})
            raise RoleRefused(str(exc)) from None
        return user

    return Depends(check)


def install(app: FastAPI) -> None:
    """Mount the dashboard at /dashboard, with its 403 page for roles that may not."""
    app.add_exception_handler(RoleRefused, _role_refused)
    app.include_router(router)


async def _role_refused(request: Request, exc: Exception) -> Response:
    """The 403 page for a role that may not: what was refused and who may."""
    _english_by_default(request)  # handlers get their own Request, without the router's
    return page(request, "dashboard/refused.html", {"detail": str(exc), "me": None, "nav": []},
                status=403)


def _view(request: Request, template: str, user: Staff | None, status: int = 200,
          **context: Any) -> HTMLResponse:
    nav = [(path, label) for path, label, perm in NAV if user and user.may(perm)]
    return page(request, f"dashboard/{template}",
                {"me": user, "nav": nav, "role_names": ROLE_NAMES, **context}, status=status)


def _number(value: str, what: str) -> int:
    """A whole number from the query or path; InvalidInput (shown on the page) otherwise."""
    from personvern.errors import InvalidInput

    if not value.strip().isdigit() or len(value.strip()) > 9:
        raise InvalidInput(f"{what} must be a whole number, not {value[:40]!r}")
    return int(value)


def _ctx(rt: Runtime) -> Context:
    return Context(rt.consent, rt.clock)


# Lengths are checked by the cores, so a long value gets their message on the page.
FormText = Annotated[str, Form()]
Reason = FormText
CsrfDep = Depends(csrf.require_csrf)


# ---- signing in --------------------------------------------------------------------------

@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    """The staff sign-in form."""
    return _view(request, "sign_in.html", None, error=None, email="")


@router.post("/sign-in", response_class=HTMLResponse, dependencies=[CsrfDep])
def sign_in_post(
    request: Request, email: FormText = "", password: FormText = "",
) -> Response:
    """Check the password (rate-limited per source, and per account and source), then start
    a session."""
    request.app.state.sign_in_limits.staff(request, email)
    rt = runtime(request)
    with unit(rt) as s:
        user = sign_in(s, rt.clock, email, password)
        if user is not None:
            # A session this browser already had ends: one sign-in, one live session.
            sessions.end(s, rt.clock, sessions.token_of(request, "staff"))
        token = sessions.start(s, rt.clock, "staff", str(user.id))[0] if user else None
    if token is None:
        return _view(request, "sign_in.html", None, status=401, error=SIGN_IN_FAILED,
                     email=email)
    response = RedirectResponse("/dashboard", status_code=303)
    sessions.set_cookie(response, request, "staff", token)
    return response


@router.post("/sign-out", dependencies=[CsrfDep])
def sign_out(request: Request, user: StaffDep) -> Response:
    """End the session."""
    rt = runtime(request)
    with unit(rt) as s:
        sessions.end(s, rt.clock, sessions.token_of(request, "staff"))
        append_audit(s, rt.clock, user.actor, "staff.signed_out", user.actor)
    response = RedirectResponse("/dashboard/sign-in", status_code=303)
    sessions.clear_cookie(response, request, "staff")
    return response


# ---- home and the requests queue -----------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def home(request: Request, user: StaffDep) -> HTMLResponse:
    """What needs attention, for what this role may see."""
    rt = runtime(request)
    counts = breaches = letters = untold = None
    with unit(rt) as s:
        if user.may("requests.view"):
            counts = queries.queue_counts(s, _ctx(rt))
        if user.may("breaches.view"):
            from personvern.breach.register import (
                failed_letters,
                failed_unanswered,
                get_breach,
                list_breaches,
                status,
                subjects_must_be_told,
            )

            now = rt.clock()
            still_open = list_breaches(s, open_only=True)
            breaches = sum(status(b, now) in ("awaiting_notice", "overdue") for b in still_open)
            # Art. 34(1): the authority told is not the people told; "0 waiting" alone
            # would read as nothing left to do.
            untold = sum(subjects_must_be_told(b) for b in still_open)
            # Art. 34(1): a letter the outbox gave up on told nobody, closed breach or not.
            letters = sum(failed_unanswered(s, get_breach(s, bid)) > 0
                          for bid in failed_letters(s))
    return _view(request, "home.html", user, counts=counts, open_breaches=breaches,
                 failed_letters=letters, untold_breaches=untold,
                 permissions=sorted(permissions_of(user.role)))


@router.get("/requests", response_class=HTMLResponse)
def requests_queue(request: Request, user: Annotated[Staff, permit("requests.view")],
                   all: str = "") -> HTMLResponse:
    """Requests by deadline, overdue and due-soon marked."""
    rt = runtime(request)
    with unit(rt) as s:
        items = queries.queue(s, _ctx(rt), include_closed=bool(all))
        # The open queue, when complete, already holds the counts: no second query.
        complete = not all and len(items) < queries.QUEUE_LIMIT
        counts = queries.counts_of(items) if complete else queries.queue_counts(s, _ctx(rt))
    return _view(request, "requests.html", user, items=items, counts=counts,
                 show_all=bool(all), soon=queries.DUE_SOON_DAYS)


def _request_page(request: Request, user: Staff, ref: str, *, status: int = 200,
                  error: str | None = None, done: str | None = None) -> HTMLResponse:
    from personvern.requests.engine import get_request, view
    from personvern.requests.restrict import is_lifted

    rt = runtime(request)
    with unit(rt) as s:
        finance = user.actor if user.may("bookkeeping.view") else None
        req = view(s, _ctx(rt), get_request(s, ref), finance=finance)
    today = _ctx(rt).today()
    from datetime import date

    from personvern.requests import followups
    from personvern.requests.proof import describe
    from personvern.requests.tasks import MAX_NOTE

    mark = queries.mark_of(req["state"], date.fromisoformat(req["due_on"]), today)
    return _view(request, "request.html", user, status=status, req=req, mark=mark,
                 proof_says=describe,
                 stuck_minutes=int(followups.STUCK_AFTER.total_seconds() // 60),
                 task_note_max=MAX_NOTE,
                 error=error, done=done, may_act=user.may("requests.act"),
                 lifted=is_lifted(req.get("outcome")))


@router.get("/requests/{ref}", response_class=HTMLResponse)
def request_detail(request: Request, ref: str, user: Annotated[Staff, permit("requests.view")],
                   done: str | None = None) -> HTMLResponse:
    """One request: its deadlines, history, outcome and the actions it allows."""
    return _request_page(request, user, ref, done=DONE.get(done or ""))


@router.post("/requests/{ref}/{action}", response_class=HTMLResponse, dependencies=[CsrfDep])
def request_action(
    request: Request, ref: str, action: str, user: Annotated[Staff, permit("requests.act")],
    reason: Reason = "",
) -> Response:
    """Extend, refuse, run or lift a request, with a reason (all audited)."""
    from personvern.requests import engine

    if action not in ACTIONS:
        return _request_page(request, user, ref, status=404, error=f"unknown action {action!r}")
    rt = runtime(request)
    ctx = _ctx(rt)
    try:
        if action == "run":
            _run(request, rt, user, ref, reason)
        else:
            act = {"extend": engine.extend, "refuse": engine.refuse,
                   "lift": engine.lift_restriction}[action]
            with unit(rt) as s:
                act(s, ctx, ref, reason, actor=user.actor)
    except PersonvernError as exc:
        return _request_page(request, user, ref, status=exc.status, error=str(exc))
    return RedirectResponse(f"/dashboard/requests/{ref}?done={action}", status_code=303)


def _run(request: Request, rt: Runtime, user: Staff, ref: str, reason: str) -> None:
    from personvern.errors import Conflict, StorageError

    service = _requests_service(request, rt)
    out: Path = request.app.state.export_dir  # the site's private directory for packages
    # The core checks the reason and audits it (request.run), as for the CLI and the API.
    result = service.run(ref, reason=reason, out_dir=out, actor=user.actor)
    if result.waiting_for_processor:
        # Running again will not bring a processor's answer: a person records it.
        raise Conflict(f"the request is {result.error}; record each answer in the "
                       "section \"Processors' part\" below once it comes")
    if result.error:
        raise StorageError(f"the request is waiting: {result.error}; run it again later")


def _requests_service(request: Request, rt: Runtime) -> Requests:
    """The dashboard's own request service, made once per app."""
    service: Requests | None = getattr(request.app.state, "dashboard_requests", None)
    if service is None:
        service = request.app.state.dashboard_requests = Requests.of(rt)
    return service


@router.post("/requests/{ref}/tasks/{dataset}", response_class=HTMLResponse,
             dependencies=[CsrfDep])
def task_done(
    request: Request, ref: str, dataset: str, user: Annotated[Staff, permit("requests.act")],
    note: FormText = "",
) -> Response:
    """Record what a processor answered for a manual dataset (audited); the last answer
    completes the request, its letter and package saying the dataset was handled by hand."""
    rt = runtime(request)
    try:
        _requests_service(request, rt).task_done(
            ref, dataset, note, actor=user.actor, out_dir=request.app.state.export_dir)
    except PersonvernError as exc:
        return _request_page(request, user, ref, status=exc.status, error=str(exc))
    return RedirectResponse(f"/dashboard/requests/{ref}?done=task", status_code=303)


# ---- subjects, consent, retention -------------------------------------------------------

@router.get("/subjects", response_class=HTMLResponse)
def subjects(request: Request, user: Annotated[Staff, permit("subjects.search")],
             q: str = "") -> HTMLResponse:
    """Find one subject by e-mail, phone or external id (an exact match, audited)."""
    rt = runtime(request)
    hit, error, status = None, None, 200
    decisions: list[Any] = []
    if q.strip():
        try:
            with unit(rt) as s:
                hit = queries.search_subject(s, q)
                if hit is not None and not hit.erased:
                    from personvern.consent.service import decisions_for

                    decisions = decisions_for(s, rt.consent, hit.id, rt.clock())
                # Looking someone up is access to personal data: it is logged.
                append_audit(s, rt.clock, user.actor, "dashboard.subject_search",
                             f"subject:{hit.id}" if hit else "subject:none",
                             {"found": hit is not None})
        except PersonvernError as exc:
            error, status = str(exc), exc.status
    return _view(request, "subjects.html", user, status=status, q=q, hit=hit, error=error,
                 decisions=decisions)


@router.get("/consent", response_class=HTMLResponse)
def consent(request: Request, user: Annotated[Staff, permit("consent.stats")],
            months: str = "12") -> HTMLResponse:
    """Consents given, withdrawn and expired per month, per consent purpose, as charts."""
    rt = runtime(request)
    manifest = rt.loaded.manifest
    purposes = [p for p in manifest.purposes if p.legal_basis == "consent"]
    span = _number(months, "months")
    with unit(rt) as s:
        stats = queries.consent_statistics(s, [p.id for p in purposes], rt.clock(), span)
    charts = [(p, stats[p.id], Markup(consent_chart(p.id, p.name.get("en"), stats[p.id])))
              for p in purposes]
    return _view(request, "consent.html", user, charts=charts, months=span)


def _retention_page(request: Request, user: Staff, *, at: str = "", sweeps: str = "",
                    status: int = 200, error: str | None = None, done: str | None = None
                    ) -> HTMLResponse:
    from personvern import retention as core
    from personvern.retention import history, planning

    rt = runtime(request)
    m = rt.loaded.manifest
    plan: dict[str, Any] | None = None
    past: list[history.SweepRecord] = []
    when = rt.clock()
    try:
        limit = _number(sweeps, "sweeps") if sweeps else history.HISTORY_LIMIT
        if at:
            from personvern.law import get_jurisdiction

            when = history.plan_time(at, get_jurisdiction(m.jurisdiction.country).timezone)
        with unit(rt) as s:
            past = history.sweeps(s, limit=limit)
        plan = core.plan(rt.loaded, rt.sessions, when, consent=rt.consent)[1]
    except PersonvernError as exc:
        error, status = error or str(exc), exc.status if status == 200 else status
    if plan is not None:
        # Which rows a bookkeeping rule takes is for finance only: counts stay, keys go.
        books = bookkeeping_rules(m)
        for rule in plan["rules"]:
            for t in rule["tables"]:
                t["hidden"] = rule["rule"] in books and bool(t["examples"])
    return _view(request, "retention.html", user, status=status, rules=m.retention, plan=plan,
                 when=when, at=at, history=past, error=error, done=done,
                 may_run=user.may("retention.run"),
                 quiet=planning.nothing_due(plan) if plan is not None else None,
                 not_enforced=planning.not_enforced(plan) if plan is not None else [])


@router.get("/retention", response_class=HTMLResponse)
def retention(request: Request, user: Annotated[Staff, permit("retention.view")],
              at: str = "", sweeps: str = "", done: str = "") -> HTMLResponse:
    """The retention plan at the dashboard's now (or ``at``), rule by rule, and the history
    of sweeps; the owner may run a sweep now."""
    ran = f"sweep {done} ran" if done.isdigit() and len(done) < 10 else None
    return _retention_page(request, user, at=at[:100], sweeps=sweeps, done=ran)


@router.post("/retention/run", response_class=HTMLResponse, dependencies=[CsrfDep])
def retention_run(request: Request, user: Annotated[Staff, permit("retention.run")],
                  reason: Reason = "") -> Response:
    """Run the retention sweep now, at the dashboard's clock, with a reason (audited)."""
    from personvern.jobs.retention import sweep_once

    rt = runtime(request)
    try:
        data = sweep_once(rt, by=user.actor, reason=reason)
    except PersonvernError as exc:
        return _retention_page(request, user, status=exc.status, error=str(exc))
    return RedirectResponse(f"/dashboard/retention?done={data['sweep']}", status_code=303)


@router.get("/bookkeeping", response_class=HTMLResponse)
def bookkeeping(request: Request, user: Annotated[Staff, permit("bookkeeping.view")]
                ) -> HTMLResponse:
    """Finance only: what is held for bookkeeping, and the rows kept after erasures."""
    rt = runtime(request)
    m = rt.loaded.manifest
    with unit(rt) as s:
        kept = queries.bookkeeping_kept(s, m, limit=KEPT_LIMIT)
        append_audit(s, rt.clock, user.actor, "dashboard.bookkeeping_viewed", "bookkeeping",
                     {"rows": sum(k["rows"] for k in kept)})
    return _view(request, "bookkeeping.html", user, holds=queries.bookkeeping_holds(m),
                 kept=kept, kept_limit=KEPT_LIMIT)


# ---- record of processing, policy, breaches, audit ----------------------------------------

@router.get("/ropa", response_class=HTMLResponse)
def ropa(request: Request, user: Annotated[Staff, permit("ropa.view")]) -> HTMLResponse:
    """Processors and the record of processing activities (Art. 30)."""
    from personvern.ropa.record import build_record

    m = runtime(request).loaded.manifest
    return _view(request, "ropa.html", user, record=build_record(m, "en"),
                 # Processors as the manifest states them; the default role is no statement.
                 processors=[r for r in m.recipients if r.role_stated and r.role == "processor"],
                 unstated=[r for r in m.recipients if not r.role_stated])


@router.get("/policy", response_class=HTMLResponse)
def policy(request: Request, user: Annotated[Staff, permit("policy.view")],
           a: str = "", b: str = "") -> HTMLResponse:
    """Published policy versions with what changed in each; any two (or the manifest now)
    compared in plain words when ``a`` and ``b`` are given."""
    from personvern.breach.register import local_time
    from personvern.policy.diff import diff
    from personvern.policy.notices import without_email
    from personvern.policy.versions import get_version, in_force, version_changes, versions
    from personvern.policy.versions import version_manifest as manifest_of

    rt = runtime(request)
    compared: dict[str, Any] | None = None
    error, status = None, 200
    with unit(rt) as s:
        current = in_force(s, rt.clock())
        # The notice of a material change is promised to everyone but sent only by e-mail.
        unreachable = without_email(s) \
            if rt.loaded.manifest.policy_changes.email_on_material_change else 0
        country = rt.loaded.manifest.jurisdiction.country
        rows = [(v.number, local_time(v.published_at, country),
                 local_time(v.effective_from, country), v.material,
                 [c.text("en") for c in version_changes(v)])
                for v in reversed(versions(s))]
        if a or b:
            try:
                old, new = (rt.loaded.manifest if x == "current"
                            else manifest_of(get_version(s, _number(x, "version")))
                            for x in (a or "current", b or "current"))
                changes = diff(old, new)
                compared = {"a": a or "current", "b": b or "current",
                            "changes": [(c.material, c.consent, c.text("en")) for c in changes]}
            except PersonvernError as exc:
                error, status = str(exc), exc.status
    choices = ["current", *(str(r[0]) for r in rows)]
    return _view(request, "policy.html", user, status=status, versions=rows,
                 current=current.number if current else None, compared=compared,
                 unreachable=unreachable,
                 choices=choices, error=error, a=a or (choices[1] if len(choices) > 1
                                                       else "current"), b=b or "current")


@router.get("/breaches", response_class=HTMLResponse)
def breaches(request: Request, user: Annotated[Staff, permit("breaches.view")]) -> HTMLResponse:
    """The breach register with each breach's 72-hour clock."""
    from personvern.breach.register import (
        breach_view,
        cross_border_text,
        failed_unanswered,
        list_breaches,
        mail_delivery,
        recorded_details,
    )

    rt = runtime(request)
    now = rt.clock()
    with unit(rt) as s:
        # With the outbox's counts: queued or failed letters have told nobody (Art. 34(1)).
        rows = [{**breach_view(b, now), "mail": mail_delivery(s, b.id),
                 "untold": failed_unanswered(s, b),
                 "cross_border": cross_border_text(recorded_details(s, b.id))}
                for b in list_breaches(s)]
    return _view(request, "breaches.html", user, breaches=rows)


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, user: Annotated[Staff, permit("audit.view")],
          before: str = "", actor: str = "") -> HTMLResponse:
    """The audit log, newest first, fifty at a time."""
    rt = runtime(request)
    with unit(rt) as s:
        events = queries.audit_page(s, before=_number(before, "before") if before else None,
                                    actor=actor[:200] or None)
    return _view(request, "audit.html", user, events=events, actor=actor, verified=None)


@router.post("/audit/verify", response_class=HTMLResponse, dependencies=[CsrfDep])
def audit_verify(request: Request, user: Annotated[Staff, permit("audit.view")]) -> HTMLResponse:
    """Check the audit trail's and the consent ledger's hash chains, event by event."""
    from personvern.audit import check_audit_chain
    from personvern.consent.ledger import check_ledger, verdict

    rt = runtime(request)
    with unit(rt) as s:
        trail = check_audit_chain(s)
        ledger = check_ledger(s)
        append_audit(s, rt.clock, user.actor, "dashboard.chains_verified", "audit",
                     {"audit_intact": trail.problem is None, "audit_events": trail.events,
                      "ledger_intact": ledger.broken is None, "ledger_events": ledger.events})
        events = queries.audit_page(s)
    verified = {"audit": trail.verdict(), "ledger": verdict(ledger),
                "ok": trail.problem is None and ledger.broken is None}
    return _view(request, "audit.html", user, events=events, actor="", verified=verified)


# ---- staff users (owner) -----------------------------------------------------------------------

def _users_page(request: Request, user: Staff, status: int = 200, error: str | None = None,
                done: str | None = None) -> HTMLResponse:
    from personvern.staff.users import list_users

    rt = runtime(request)
    with unit(rt) as s:
        users = [StaffView.of(u) for u in list_users(s)]
    return _view(request, "users.html", user, status=status, users=users, roles=ROLES,
                 error=error, done=done)


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, user: Annotated[Staff, permit("users.manage")]) -> HTMLResponse:
    """Staff users, and forms to add and disable them."""
    return _users_page(request, user)


@router.post("/users", response_class=HTMLResponse, dependencies=[CsrfDep])
def users_add(
    request: Request, user: Annotated[Staff, permit("users.manage")],
    email: FormText = "", name: FormText = "", role: FormText = "", password: FormText = "",
) -> HTMLResponse:
    """Add a staff user with a first password the owner hands over."""
    rt = runtime(request)
    try:
        with unit(rt) as s:
            added = add_user(s, rt.clock, email, password, role=role, name=name or None,
                             actor=user.actor)
            done = f"added {added.email} as {added.role}"
    except PersonvernError as exc:
        return _users_page(request, user, status=exc.status, error=str(exc))
    return _users_page(request, user, done=done)


@router.post("/users/{user_id}/disable", response_class=HTMLResponse, dependencies=[CsrfDep])
def users_disable(request: Request, user_id: str, user: Annotated[Staff, permit("users.manage")],
                  reason: Reason = "") -> HTMLResponse:
    """Disable a staff user (with a reason); their sessions end at once."""
    rt = runtime(request)
    try:
        with unit(rt) as s:
            target = user_by_id(s, _number(user_id, "user id"))
            if target is None:
                from personvern.errors import NotFound

                raise NotFound(f"no staff user {user_id}")
            disabled = disable_user(s, rt.clock, target.email, reason=reason, actor=user.actor)
            sessions.end_all(s, rt.clock, "staff", str(disabled.id))
            done = f"disabled {disabled.email}"
    except PersonvernError as exc:
        return _users_page(request, user, status=exc.status, error=str(exc))
    return _users_page(request, user, done=done)
