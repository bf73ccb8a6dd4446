"""``/api/v1/requests``: data-subject requests over HTTP, the same as ``personvern request``.

Routes are thin: they read the request, call ``personvern.requests.engine`` and shape
the answer. Every rule (who may open, codes, deadlines, the state machine) lives in the
core; its refusals are problem+json and leave nothing stored. ``?subject=`` on a
request's routes acts for that person: a request that is not theirs is not found.
Access and portability files are written to the site's export directory (the portal's:
``PERSONVERN_EXPORT_DIR``, else a private temporary one), served by
``GET /api/v1/requests/{id}/package`` and removed after ``PERSONVERN_EXPORT_LIFETIME_MINUTES``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictBool, StrictStr
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from personvern.consent.subjects import get_subject
from personvern.consent.tables import ApiKey
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.requests import engine, packages
from personvern.requests.bookkeeping import bookkeeping_rules, hide_bookkeeping
from personvern.requests.tables import Request as RequestRow
from personvern.runtime import Runtime
from personvern.web.deps import need, runtime, still_live, unit
from personvern.web.problems import responses
from personvern.web.schemas import Strict, Utc

router = APIRouter(prefix="/api/v1/requests", tags=["requests"],
                   responses=responses(400, 401, 403, 404, 413, 422))

# Deciding and carrying out requests is the controller's; an app that only opens them
# for its users (and follows them) holds requests:open and requests:read.
RunKey = Annotated[ApiKey, need("requests:run")]
# Opening and running in one call reads the key's row again in its opening transaction
# (deps.still_live), before anything is stored: no thread and no transaction of its own
# for the key (a revoked key still stores nothing).
RunKeyInRoute = Annotated[ApiKey, need("requests:run", checked_in_route=True)]
RequestId = Annotated[str, Path(min_length=6, max_length=32, pattern=r"^[0-9a-fA-F]+$",
                                description="the request id, or a unique prefix of 6+")]
ForSubject = Annotated[str | None, Query(
    min_length=1, max_length=320,
    description="act for this person (id, e-mail, +phone or ext:ID): a request that is not "
                "theirs, or that they did not open as guardian or admin, is not found")]
RequestType = Literal["access", "portability", "rectification", "erasure", "restriction",
                      "objection", "withdrawal"]
Text = Annotated[str, Field(min_length=1, max_length=engine.MAX_TEXT)]


# ---- bodies -------------------------------------------------------------------------------

class DetailsIn(Strict):
    """What the request asks for, by type."""

    changes: dict[Annotated[str, Field(min_length=3, max_length=200)],
                  Annotated[str, Field(max_length=engine.MAX_TEXT)]] | None = Field(
        None, description="rectification: table.column (or dataset.table.column) -> new value",
        examples=[{"users.phone": "+47 912 34 567"}])
    purpose: str | None = Field(None, min_length=1, max_length=64,
                                description="objection or withdrawal: the purpose")
    note: Text | None = Field(None, description="what the person wrote, in short")


class OpenIn(Strict):
    """A new request; name the person by ``subject`` or ``email`` (both: must match)."""

    type: RequestType
    subject: str | None = Field(None, min_length=1, max_length=320,
                                description="subject id, e-mail, +phone or ext:ID")
    email: str | None = Field(None, min_length=3, max_length=320,
                              description="the address the person wrote from (must be theirs)",
                              json_schema_extra={"format": "email"})
    opened_by: Literal["self", "guardian", "admin", "owner"] = Field(
        "self", description="who asks; owner needs verified_by")
    acting_subject: str | None = Field(None, min_length=1, max_length=320,
                                       description="the guardian or admin who asks")
    verified_by: Text | None = Field(
        None, description="how identity was checked (e.g. signed-in portal session); "
                          "without it a one-time code is e-mailed")
    channel: Literal["portal", "email", "api", "post", "phone"] = "api"
    details: DetailsIn = Field(default_factory=DetailsIn)


class OpenRunIn(OpenIn):
    """A request opened and carried out in one call: the identity checked (``verified_by``),
    why it runs now, and how."""

    reason: StrictStr = Field(description="why it runs now (required, at most 2000 "
                              "characters; kept in the audit log)")
    prove: StrictBool = Field(True, description="erasure: search every dataset afterwards, "
                                                "after the answer (follow_ups)")
    lang: Literal["nb", "en"] | None = Field(None, description="language of the summary")


class BatchIn(Strict):
    """Erasures of many people carried out together (GDPR Art. 17)."""

    # At most 100 people and 500 requests a call, so that the largest batch fits the API's
    # 64 KiB body: a larger one is sent in several calls.
    subjects: list[Annotated[str, Field(min_length=1, max_length=320)]] = Field(
        default_factory=list, max_length=100,
        description="people to erase (id, e-mail, +phone or ext:ID): an erasure request is "
                    "opened for each, by the owner, verified as verified_by says")
    requests: list[Annotated[str, Field(min_length=6, max_length=32,
                                        pattern=r"^[0-9a-fA-F]+$")]] = Field(
        default_factory=list, max_length=500,
        description="ids of verified erasure requests to carry out with them")
    verified_by: Text | None = Field(None, description="how the people's identity was "
                                                       "checked (needed with subjects)")
    reason: StrictStr = Field(description="why they run now (kept in each one's audit)")
    prove: StrictBool = Field(True, description="search every dataset after each erasure, "
                                                "after the answers (follow_ups)")


class CodeIn(Strict):
    """The one-time code (or link token) the person was e-mailed."""

    code: str = Field(min_length=4, max_length=64)


class ReasonIn(Strict):
    """Why: told to the person."""

    reason: Text


class RunIn(Strict):
    """Why the request runs now, and how to carry it out."""

    reason: StrictStr = Field(description="why it runs now (required, at most 2000 "
                              "characters; kept in the audit log)")
    prove: StrictBool = Field(True, description="erasure: search every dataset afterwards")
    lang: Literal["nb", "en"] | None = Field(None, description="language of the summary")
    later: StrictBool = Field(False, description="queue the run for `personvern worker` "
                              "(PostgreSQL) and answer 202 queued at once; `jobs` on the "
                              "request tells how it went")


# ---- answers ------------------------------------------------------------------------------

class EventOut(BaseModel):
    """One step of the request's history."""

    at: Utc
    actor: str
    from_state: str | None = Field(alias="from")
    to_state: str = Field(alias="to")
    note: str


class NoticeOut(BaseModel):
    """A recipient told of the change (GDPR Art. 19)."""

    id: int
    recipient: str
    name: str | None
    action: str
    channel: str
    status: str
    attempts: int
    sent_at: Utc | None
    acknowledged_at: Utc | None
    next_attempt_at: Utc | None
    last_error: str | None


class SummaryOut(BaseModel):
    """A request in a list."""

    id: str
    type: str
    state: str
    subject_id: str
    received_at: Utc
    due_on: date
    legal_due_on: date
    extended_to: date | None
    overdue: bool


class TaskOut(BaseModel):
    """A dataset the engine cannot reach: an app's callback or a processor asked by e-mail."""

    dataset: str
    kind: Literal["http", "manual"]
    action: str
    state: Literal["pending", "done"]
    attempts: int
    last_error: str | None
    asked: str | None = Field(description="manual: whom the e-mail went to")
    note: str | None = Field(description="manual: what the processor answered")
    next_attempt_at: Utc | None
    done_at: Utc | None
    done_by: str | None


class JobOut(BaseModel):
    """A run queued for a worker (PostgreSQL with ``PERSONVERN_JOBS=worker``)."""

    id: int
    task: str
    status: Literal["todo", "doing", "succeeded", "failed", "cancelled", "aborting",
                    "aborted"] = Field(description="failed: every retry failed too; it stays "
                                                   "here, never silently dropped")
    attempts: int = Field(description="attempts ended so far (one a dead worker left "
                                      "counts too)")
    scheduled_at: Utc | None = Field(description="when a retry runs (back-off)")
    failed_at: Utc | None = Field(description="when the last attempt failed")


class FollowUpOut(BaseModel):
    """Work that follows the answer: the proof of erasure or the Art. 19 notices."""

    id: int
    kind: Literal["proof", "notices"]
    state: Literal["pending", "running", "done", "failed"] = Field(
        description="pending until it has run (a proof is never clean before); failed: "
                    "the error is kept and it runs again when retried")
    attempts: int
    created_at: Utc
    started_at: Utc | None
    finished_at: Utc | None
    result: dict[str, Any] | None = Field(description="proof: what was searched and what "
                                                      "is left (tables, columns, keys; never "
                                                      "values); notices: who is told")
    error: str | None


class RequestOut(SummaryOut):
    """A request: deadlines, who opened it and how identity was checked, its history,
    what was done and who was told."""

    days_left: int
    opened_by: str
    opened_by_subject_id: str | None
    verified_by: str | None
    channel: str
    details: dict[str, Any]
    outcome: dict[str, Any] | None
    reason: str | None
    closed_at: Utc | None
    events: list[EventOut]
    notices: list[NoticeOut] = Field(description="who was told (GDPR Art. 19)")
    tasks: list[TaskOut] = Field(description="datasets outside the engine's reach: pending "
                                             "ones keep the request waiting")
    jobs: list[JobOut] = Field(default_factory=list, description="runs queued for a worker "
                                                                "and how they went")
    follow_ups: list[FollowUpOut] = Field(default_factory=list, description="what follows "
                                          "the answer (the proof of erasure, the Art. 19 "
                                          "notices) and its state")
    code_sent_to: str | None = Field(None, description="on opening: where the code went "
                                                       "(masked)")


class RunOut(BaseModel):
    """Where a run left the request: completed, or waiting with the error."""

    id: str
    state: Literal["completed", "waiting", "queued"]
    outcome: dict[str, Any]
    error: str | None
    job: int | None = Field(None, description="queued: the job that will run it")
    package: str | None = Field(None, description="where to download the access or "
                                                  "portability file")


class BatchWaitingOut(BaseModel):
    """A request of the batch left waiting: a dataset was down; run it again."""

    id: str
    error: str | None


class BatchRefusedOut(BaseModel):
    """A person or request of the batch that could not start (unknown, not verified...)."""

    ref: str
    error: str


class BatchOut(BaseModel):
    """What the batch did; each request shows its own outcome and follow-ups."""

    completed: list[str]
    waiting: list[BatchWaitingOut]
    refused: list[BatchRefusedOut]


# ---- helpers ------------------------------------------------------------------------------

def _ctx(rt: Runtime) -> engine.Context:
    return engine.Context(rt.consent, rt.clock)


def _actor(key: ApiKey) -> str:
    return f"api:{key.name}"[:200]


def _packages_dir(request: Request) -> FsPath:
    """The site's private directory for packages, swept like the portal's."""
    directory: FsPath = request.app.state.export_dir
    return directory


def _public(values: dict[str, Any] | None) -> dict[str, Any]:
    """Without the core's internal keys (``_...``: identities kept for a webhook)."""
    return {k: v for k, v in (values or {}).items() if not k.startswith("_")}


def _out(session: Session, ctx: engine.Context, req: RequestRow, **extra: Any) -> RequestOut:
    view = engine.view(session, ctx, req)
    view["details"] = _public(view["details"])
    return RequestOut.model_validate({**view, **extra})


def _summary(ctx: engine.Context, req: RequestRow) -> SummaryOut:
    return SummaryOut(
        id=req.id, type=req.type, state=req.state, subject_id=req.subject_id,
        received_at=req.received_at, due_on=req.due_on, legal_due_on=req.legal_due_on,
        extended_to=req.extended_to,
        overdue=engine.is_overdue(req.state, req.due_on, ctx.today()))


def _find(session: Session, ref: str, subject: str | None) -> RequestRow:
    """The request, and only if it is ``subject``'s (theirs, or opened by them for another)."""
    req = engine.get_request(session, ref)
    if subject is not None:
        person = get_subject(session, subject)
        if person.id not in (req.subject_id, req.opened_by_subject_id):
            raise NotFound(f"no request {ref!r} of this subject")
    return req


# ---- routes -------------------------------------------------------------------------------

@router.post("", status_code=201, response_model=RequestOut, responses=responses(409),
             dependencies=[need("requests:open")])
def open_request(body: OpenIn, request: Request) -> RequestOut:
    """Open a request; its deadline starts today. Without ``verified_by`` a one-time code
    is e-mailed to the person (or the guardian or admin who asks)."""
    rt = runtime(request)
    ctx = _ctx(rt)
    by = engine.Requester(body.opened_by, body.acting_subject, body.verified_by)
    details = body.details.model_dump(exclude_none=True)
    with unit(rt) as session:
        opened = engine.open_request(session, ctx, body.type, subject=body.subject,
                                     email=body.email, by=by, channel=body.channel,
                                     details=details)
        return _out(session, ctx, opened.request, code_sent_to=opened.code_sent_to)


@router.get("", response_model=list[SummaryOut], dependencies=[need("requests:read")])
def list_requests(
    request: Request,
    overdue: Annotated[bool, Query(description="only open requests past due")] = False,
    due_soon: Annotated[int | None, Query(ge=0, le=3660, description="only open requests "
                                          "due within this many days")] = None,
    state: Annotated[Literal["received", "verifying", "verified", "in_progress", "waiting",
                             "completed", "refused"] | None, Query()] = None,
    subject: ForSubject = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[SummaryOut]:
    """Requests by due date: all, the overdue ones, or those due soon."""
    rt = runtime(request)
    ctx = _ctx(rt)
    with unit(rt) as session:
        subject_id = get_subject(session, subject).id if subject is not None else None
        found = engine.list_requests(session, ctx, overdue=overdue, due_within=due_soon,
                                     state=state, subject_id=subject_id, limit=limit)
        return [_summary(ctx, r) for r in found]


@router.get("/{request_id}", response_model=RequestOut, dependencies=[need("requests:read")])
def show_request(request_id: RequestId, request: Request, subject: ForSubject = None
                 ) -> RequestOut:
    """A request with its due date, history, outcome and who was told."""
    rt = runtime(request)
    ctx = _ctx(rt)
    with unit(rt) as session:
        return _out(session, ctx, _find(session, request_id, subject))


@router.post("/{request_id}/verify", response_model=RequestOut, responses=responses(409),
             dependencies=[need("requests:open")])
def verify_request(request_id: RequestId, body: CodeIn, request: Request,
                   subject: ForSubject = None) -> RequestOut:
    """Verify the person with their one-time code (a wrong guess counts; 422)."""
    rt = runtime(request)
    ctx = _ctx(rt)
    with unit(rt) as session:
        rid = _find(session, request_id, subject).id
    engine.Requests(rt.sessions, ctx).verify(rid, body.code)
    with unit(rt) as session:
        return _out(session, ctx, engine.get_request(session, rid))


@router.post("/{request_id}/run", response_model=RunOut,
             responses={202: {"model": RunOut, "description": "waiting: a dataset was down or "
                                                              "a task is open; run it again. "
                                                              "queued: a worker will run it"},
                        **responses(409, 500)})
def run_request(request_id: RequestId, body: RunIn, request: Request, key: RunKey,
                subject: ForSubject = None) -> Response:
    """Carry the request out (200 completed, 202 waiting), or queue it for a worker (202
    queued; 409 where there is no job queue: SQLite)."""
    rt = runtime(request)
    ctx = _ctx(rt)
    rid = request_id  # the run reads it (a prefix too) in its own first transaction
    if subject is not None:  # only theirs: not found otherwise
        with unit(rt) as session:
            rid = _find(session, request_id, subject).id
    service = _service(request, rt)
    if body.later:
        job = service.run_later(rid, reason=body.reason, actor=_actor(key))
        out = RunOut(id=rid, state="queued", outcome={}, error=None, job=job)
        return JSONResponse(out.model_dump(mode="json"), status_code=202)
    # The answer first; the proof and the notices after it (follow_ups on the request).
    result = service.run(rid, reason=body.reason, out_dir=_packages_dir(request),
                         actor=_actor(key), prove=body.prove, lang=body.lang,
                         follow_up=False)
    return _answered(service, ctx, result, _actor(key))


@router.post("/verified/open-and-run", response_model=RunOut,
             responses={202: {"model": RunOut, "description": "waiting: a dataset was down or "
                                                              "a task is open; run it again"},
                        **responses(409, 500)})
def open_and_run(body: OpenRunIn, request: Request, key: RunKeyInRoute) -> Response:
    """Open a request whose identity was checked (``verified_by``) and carry it out in the
    same call (200 completed, 202 waiting): opened and started in one transaction, committed
    before any dataset is touched; the proof and the notices follow the answer. One scope,
    ``requests:run``: opening the request it runs is part of running it."""
    rt = runtime(request)
    ctx = _ctx(rt)
    by = engine.Requester(body.opened_by, body.acting_subject, body.verified_by)
    service = _service(request, rt)
    result = service.open_and_run(
        body.type, by=by, reason=body.reason, subject=body.subject, email=body.email,
        channel=body.channel, details=body.details.model_dump(exclude_none=True),
        out_dir=_packages_dir(request), actor=_actor(key), prove=body.prove, lang=body.lang,
        follow_up=False, vet=lambda session: still_live(session, rt, key))
    return _answered(service, ctx, result, _actor(key))


def _answered(service: engine.Requests, ctx: engine.Context, result: engine.RunResult,
              actor: str) -> Response:
    """A run's answer; its follow-ups (the proof, the notices) run after it is sent."""
    after = BackgroundTask(_follow_up, service, [result], actor)
    has_file = "package" in result.outcome or "export" in result.outcome
    out = RunOut(id=result.request_id, state="completed" if result.state == "completed"
                 else "waiting", outcome=_public(hide_bookkeeping(
                     result.outcome, bookkeeping_rules(ctx.manifest))), error=result.error,
                 package=f"/api/v1/requests/{result.request_id}/package" if has_file
                 else None)
    return JSONResponse(out.model_dump(mode="json"),
                        status_code=200 if result.state == "completed" else 202,
                        background=after)


def _service(request: Request, rt: Runtime) -> engine.Requests:
    """The site's request service: its datasets reflected and connected once, not at every
    call (a run was paying for both; the dashboard keeps its own the same way)."""
    kept: tuple[Runtime, engine.Requests] | None = getattr(request.app.state,
                                                           "api_requests", None)
    if kept is None or kept[0] is not rt:
        kept = request.app.state.api_requests = (rt, engine.Requests.of(rt))
    return kept[1]


def _follow_up(service: engine.Requests, results: list[engine.RunResult], actor: str
               ) -> None:
    """After the answer is sent: the follow-ups left to this process (a failed one is
    recorded on the request, where ``follow_ups`` shows it)."""
    service.run_follow_ups_many([r for r in results if r.follow_ups], actor=actor)


@router.post("/batch/erasures", response_model=BatchOut, responses=responses(409))
def erase_many(body: BatchIn, request: Request, key: RunKey) -> Response:
    """Erase many people together, a statement per table (``personvern request
    erase-batch``): each keeps their own request, answer and proof; an unknown person or
    a request that cannot start is listed under ``refused`` and the rest go on. One scope,
    ``requests:run``: opening the erasures it runs is part of running them."""
    from personvern.requests.batch import erase_batch, open_erasures

    if body.subjects and not (body.verified_by or "").strip():
        raise InvalidInput("opening erasures for subjects needs verified_by")
    rt = runtime(request)
    service = _service(request, rt)
    opened, refused = open_erasures(service, body.subjects,
                                    verified_by=body.verified_by or "", channel="api")
    result = erase_batch(service, [*body.requests, *opened], reason=body.reason,
                         actor=_actor(key), prove=body.prove, follow_up=False)
    result.refused[:0] = refused
    after = BackgroundTask(_follow_up, service, result.completed, _actor(key))
    out = BatchOut.model_validate(result.as_dict())
    return JSONResponse(out.model_dump(mode="json"), background=after)


@router.get("/{request_id}/package", response_class=Response,
            responses={200: {"content": {"application/zip": {}},
                             "description": "the access package or the portability export, "
                                            "zipped"}, **responses(409)},
            dependencies=[need("packages:read")])
def download_package(request_id: RequestId, request: Request, subject: ForSubject = None
                     ) -> Response:
    """The access package (``access-<id>.zip``) or portability export, as a zip."""
    rt = runtime(request)
    with unit(rt) as session:
        req = _find(session, request_id, subject)
        facts = (req.outcome or {}).get("package") or (req.outcome or {}).get("export")
        rid, type_, state, closed_at = req.id, req.type, req.state, req.closed_at
    if type_ not in ("access", "portability"):
        raise Conflict(f"request {rid} is {type_}: it has no package")
    if state != "completed" or not facts:
        raise Conflict(f"request {rid} is {state}: run it first")
    lifetime = timedelta(minutes=request.app.state.settings.export_lifetime_minutes)
    path = FsPath(facts["path"])
    if path.parent != _packages_dir(request) or packages.expired(closed_at, rt.clock(),
                                                                 lifetime):
        raise NotFound(f"the file of request {rid} is gone (packages last {lifetime}); "
                       "open a new request")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"the file of request {rid} is gone; run a new request") from None
    if hashlib.sha256(data).hexdigest() != facts["sha256"]:
        raise Conflict(f"the file of request {rid} was changed since it was written")
    if type_ == "portability":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.name, data)
        data = buf.getvalue()
    name = f"{type_}-{rid}.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/{request_id}/extend", response_model=RequestOut, responses=responses(409))
def extend_request(request_id: RequestId, body: ReasonIn, request: Request, key: RunKey
                   ) -> RequestOut:
    """Extend by up to two months (GDPR Art. 12(3)); the person is told with the reason."""
    rt = runtime(request)
    ctx = _ctx(rt)
    with unit(rt) as session:
        req = engine.extend(session, ctx, request_id, body.reason, actor=_actor(key))
        return _out(session, ctx, req)


@router.post("/{request_id}/refuse", response_model=RequestOut, responses=responses(409))
def refuse_request(request_id: RequestId, body: ReasonIn, request: Request, key: RunKey
                   ) -> RequestOut:
    """Refuse with reasons; the person is told of their right to complain (Art. 12(4))."""
    rt = runtime(request)
    ctx = _ctx(rt)
    with unit(rt) as session:
        req = engine.refuse(session, ctx, request_id, body.reason, actor=_actor(key))
        return _out(session, ctx, req)


@router.post("/{request_id}/lift", response_model=RequestOut, responses=responses(409))
def lift_restriction(request_id: RequestId, body: ReasonIn, request: Request, key: RunKey
                     ) -> RequestOut:
    """Lift a restriction; the person is told first (GDPR Art. 18(3))."""
    rt = runtime(request)
    ctx = _ctx(rt)
    with unit(rt) as session:
        req = engine.lift_restriction(session, ctx, request_id, body.reason, actor=_actor(key))
        return _out(session, ctx, req)


DatasetId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$",
                                description="the manual dataset's id")]


class NoteIn(Strict):
    """What the processor answered."""

    note: Text


@router.post("/{request_id}/tasks/{dataset}/done", response_model=RequestOut,
             responses=responses(409, 500))
def task_done(request_id: RequestId, dataset: DatasetId, body: NoteIn, request: Request,
              key: RunKey) -> RequestOut:
    """Record that a processor asked by e-mail did its part (a manual task); the last one
    completes the request."""
    rt = runtime(request)
    ctx = _ctx(rt)
    _service(request, rt).task_done(request_id, dataset, body.note, actor=_actor(key),
                                    out_dir=_packages_dir(request))
    with unit(rt) as session:
        return _out(session, ctx, engine.get_request(session, request_id))
