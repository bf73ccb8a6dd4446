"""``/api/v1/``: subjects, the consent ledger, decisions and cookie choices.

Routes are thin: they read the request, call the consent core in one transaction,
and shape the answer. Every rule lives in ``personvern.consent``.
"""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personvern.apikeys import has_scope, require_scope
from personvern.consent.cookies import CookieState, current_choice, record_choice
from personvern.consent.events import EventType
from personvern.consent.ledger import subject_events
from personvern.consent.service import (
    WriteLookups,
    append_prepared_values,
    decide_cached,
    decide_cached_ref,
    decide_for,
    decide_for_ref,
    decisions_for,
    prepare_event,
    subject_of_ref,
)
from personvern.consent.subjects import (
    IDENTITY_KINDS,
    create_subject,
    fill_in,
    get_subject,
    guardians_of,
    identities_of,
    link_guardian,
    record_activity,
)
from personvern.consent.tables import ApiKey, LedgerEvent, Subject
from personvern.crypto.keyring import LOOKUP_KEY
from personvern.errors import PersonvernError, StorageError, Unauthorized
from personvern.runtime import Runtime
from personvern.web.deps import (
    cached_key,
    collisions,
    gpc_signal,
    hashed_evidence,
    key_checked_in_route,
    need,
    runtime,
    still_live,
    unit,
)
from personvern.web.middleware import with_security_headers
from personvern.web.problems import BODY_STATE, responses
from personvern.web.schemas import (
    ActivityOut,
    ConsentIn,
    ConsentsOut,
    CookieChoiceIn,
    CookieStateOut,
    DecisionIn,
    DecisionOut,
    EventOut,
    GuardianIn,
    GuardianOut,
    IdentityOut,
    PurposeConsentOut,
    SubjectIn,
    SubjectOut,
)

Gpc = Annotated[bool, Depends(gpc_signal)]
_SUBJECT_ID = re.compile(r"^[0-9a-f]{32}$")
SubjectRef = Annotated[str, Query(min_length=1, max_length=320,
                                  description="subject id, e-mail, +phone or ext:ID")]
Purpose = Annotated[str, Query(min_length=1, max_length=64)]
BrowserId = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                description="the id the choice was stored under")]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200,
    description="Send the same key again to replay: the stored event comes back (200, "
                "`Idempotent-Replayed: true`) and nothing is appended.",
)]

router = APIRouter(prefix="/api/v1", tags=["consent"],
                   responses=responses(400, 401, 403, 404, 413, 422))
# The cookie banner runs in the visitor's browser, which cannot keep an API key secret:
# anonymous choices need none; a key that is sent must hold cookies:write, and tying a
# choice to a subject needs one.
cookies_router = APIRouter(prefix="/api/v1", tags=["cookies"],
                           responses=responses(400, 401, 403, 404, 413, 422))
CookieKey = Annotated[ApiKey | None, need("cookies:write", optional=True)]
# The hot write: the key from the cache of verified keys, read again in the write's own
# transaction (deps.still_live; the group commit's batch) instead of in a thread and a
# transaction of its own.
WriterKey = Annotated[ApiKey, need("consent:write", checked_in_route=True)]


def json_answer(out: BaseModel, status: int, headers: dict[str, str] | None = None
                ) -> Response:
    """``out`` as the JSON answer, serialised once by its own model.

    What FastAPI would send for the route's ``response_model`` (the same model, so the
    same JSON and the same OpenAPI document), without validating the model again and
    turning it into a dict first: for a sync route that validation is one more thread hop.
    """
    return Response(out.model_dump_json(), status, headers, media_type="application/json")


def _subject_out(session: Session, subject: Subject) -> SubjectOut:
    return SubjectOut(
        id=subject.id,
        identities=[IdentityOut(kind=i.kind, value=i.value)
                    for i in identities_of(session, subject.id)],
        kind=subject.kind, birth_date=subject.birth_date,
        existing_customer=subject.existing_customer, last_activity=subject.last_activity,
        created_at=subject.created_at, guardians=sorted(guardians_of(session, subject.id)),
    )


def _event_out(row: LedgerEvent) -> EventOut:
    return EventOut.model_validate(row, from_attributes=True)


@router.post("/subjects", status_code=201, response_model=SubjectOut,
             responses={200: {"model": SubjectOut, "description": "found by an identity"},
                        **responses(409)}, dependencies=[need("subjects:write")])
def ensure_subject(body: SubjectIn, request: Request, response: Response) -> SubjectOut:
    """Find the subject owning these identities (200), or create it (201). Found, a birth
    date, kind or customer flag it lacked is recorded; one that contradicts what is on
    record is 409, and nothing is changed."""
    rt = runtime(request)
    identities = {k: v for k in IDENTITY_KINDS if (v := getattr(body, k)) is not None}
    with unit(rt) as session:
        subject, created = create_subject(
            session, rt.clock, identities, birth_date=body.birth_date, kind=body.kind,
            existing_customer=body.existing_customer,
        )
        if not created:  # as `subject add`: recorded or refused, never dropped in silence
            fill_in(subject, birth_date=body.birth_date, kind=body.kind,
                    existing_customer=body.existing_customer)
        out = _subject_out(session, subject)
    response.status_code = 201 if created else 200
    return out


@router.get("/subjects/{ref}", response_model=SubjectOut, dependencies=[need("subjects:read")])
def show_subject(ref: str, request: Request) -> SubjectOut:
    """A subject by id, e-mail, +phone or ``ext:ID``."""
    with unit(runtime(request)) as session:
        return _subject_out(session, get_subject(session, ref))


@router.post("/subjects/{ref}/activity", response_model=ActivityOut,
             dependencies=[need("subjects:write")])
def subject_activity(ref: str, request: Request) -> ActivityOut:
    """Note that the subject was active now (retention counts from the last activity)."""
    rt = runtime(request)
    with unit(rt) as session:
        subject = get_subject(session, ref)
        last = record_activity(session, subject, rt.clock())
        return ActivityOut(id=subject.id, last_activity=last)


@router.post("/subjects/{ref}/guardians", status_code=201, response_model=GuardianOut,
             responses={200: {"model": GuardianOut, "description": "already linked"}},
             dependencies=[need("subjects:write")])
def add_guardian(ref: str, body: GuardianIn, request: Request, response: Response) -> GuardianOut:
    """Link a guardian who acts for this subject (201; 200 if already linked)."""
    rt = runtime(request)
    with unit(rt) as session:
        child = get_subject(session, ref)
        guardian = get_subject(session, body.guardian_id)
        existed = guardian.id in guardians_of(session, child.id)
        link = link_guardian(session, rt.clock, guardian, child, body.verified_by,
                             rt.consent.jurisdiction)
        out = GuardianOut(guardian_id=link.guardian_id, child_id=link.child_id,
                          verified_by=link.verified_by, created_at=link.created_at)
    response.status_code = 200 if existed else 201
    return out


# A write's column values and whether it was a replay, or its refusal.
_Written = tuple[dict[str, Any], bool] | PersonvernError


def record_consent(
    body: ConsentIn, request: Request, key: WriterKey, idempotency_key: IdempotencyKey = None
) -> Response:
    """Append a consent or objection event, after every rule of the consent core."""
    write, hint = _consent_write(body, request, key, idempotency_key)
    # Committed with the other writers of this moment (consent/group.py), answered only
    # once that commit has returned.
    with collisions():
        done = runtime(request).ledger_writes.run(write, hint=hint)
    return _consent_answer(done)


def _consent_write(body: ConsentIn, request: Request, key: ApiKey, idempotency_key: str | None
                   ) -> tuple[Callable[[Session], _Written], WriteLookups]:
    """A consent write's work for the group commit and its hint (what it looks up)."""
    rt = runtime(request)
    extra = body.evidence.model_dump(exclude={"ip", "user_agent"}, exclude_none=True)
    evidence = hashed_evidence(request, extra, body.evidence.ip, body.evidence.user_agent)

    refs = (body.subject,) if body.actor_subject_id is None else (
        body.subject, body.actor_subject_id)

    def write(session: Session) -> _Written:
        # In the batch's transaction, under the ledger's lock, in the order a write always
        # checked them: the key read again (a key revoked on another host a moment ago:
        # 401), the people, the rules, the evidence sealed. The batch read the keys and
        # the people of all its writers at once (consent.service.WriteLookups), so this
        # write sends no statement of its own for them and needs no transaction of its
        # own before it queues.
        at = rt.clock()
        try:
            still_live(session, rt, key)
            subject = subject_of_ref(session, body.subject)
            actor_id = (subject_of_ref(session, body.actor_subject_id).id
                        if body.actor_subject_id is not None else None)
            prepared = prepare_event(
                session, rt.consent, at, subject.id, EventType(body.type),
                purpose_id=body.purpose, actor=body.actor, channel=body.channel,
                actor_subject_id=actor_id, evidence=evidence,
                idempotency_key=idempotency_key, known=subject,
            )
        except PersonvernError as refused:
            if isinstance(refused, StorageError):
                raise
            # Refused before anything was written: this writer's answer; the batch, whose
            # transaction this changed nothing in, goes on with the others.
            return refused
        # The answer is shaped by the caller, once the batch has committed: not while
        # the ledger's lock is held.
        return append_prepared_values(session, rt.consent, prepared, at)

    return write, WriteLookups(refs, key.id)


def _consent_answer(done: _Written) -> Response:
    """The answer to a consent write once its batch has committed: its refusal raised."""
    if isinstance(done, PersonvernError):
        raise done
    values, replayed = done
    out = EventOut.model_validate(values)
    if replayed:
        return json_answer(out, 200, {"Idempotent-Replayed": "true"})
    return json_answer(out, 201)


_WRITE_SCOPES = SecurityScopes(["consent:write"])
_IDEMPOTENCY_KEY_MAX = 200


class _ConsentWriteRoute(APIRoute):
    """``POST /consents`` with a short way for a well-formed request.

    FastAPI's handler reads the body, decodes the JSON, solves the dependencies and
    validates the decoded body field by field: a fifth of a write's Python on the event
    loop (py-spy, docs/performance.md). A request whose body is ``application/json`` and
    valid as :class:`ConsentIn` in one ``model_validate_json``, with at most one valid
    ``Idempotency-Key``, is checked here the same way (the key and its scope by the
    route's own dependency) and written in one thread hop. Anything else, every error
    included, goes through FastAPI's handler, so errors and their order are FastAPI's.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, behind the short way."""
        checked = super().get_route_handler()

        async def handle(request: Request) -> Response:
            body = await _well_formed(request)
            if body is None:
                return await checked(request)
            # As the route's dependency: 401 without a live key, 403 without the scope.
            key = await key_checked_in_route(request, _WRITE_SCOPES)
            valid, given = _idempotency_key(request)
            if not valid:
                return await checked(request)  # FastAPI's 422
            return await _short_write(request, body, key, given)

        return handle


async def _short_write(request: Request, body: ConsentIn, key: ApiKey,
                       idempotency_key: str | None) -> Response:
    """A well-formed write, its key checked: queued for its batch, answered once committed.

    The write waits for its batch on the loop (no thread of its own: only the batch's
    leader runs in one); its evidence is hashed here, before it queues, as record_consent
    does it in its thread. A refusal is raised, as the route raises it."""
    write, hint = _consent_write(body, request, key, idempotency_key)
    with collisions():
        done = await runtime(request).ledger_writes.run_async(write, hint=hint)
    return _consent_answer(done)


def _idempotency_key(request: Request) -> tuple[bool, str | None]:
    """Whether FastAPI takes the request's ``Idempotency-Key`` (one, of 1–200 characters,
    or none), and the key (None without one)."""
    given = request.headers.getlist("idempotency-key")
    if len(given) > 1 or (given and not 0 < len(given[0]) <= _IDEMPOTENCY_KEY_MAX):
        return False, None
    return True, (given[0] if given else None)


async def _well_formed(request: Request) -> ConsentIn | None:
    """The body as a :class:`ConsentIn` when it is JSON (and says so) and valid; else None.

    A body this accepts FastAPI accepts as the same model (``json.loads`` then the same
    validation); one it does not may still be (a charset parameter, NaN in the evidence),
    and goes to FastAPI's handler to be judged there."""
    if request.headers.get("content-type") != "application/json":
        return None
    return _parsed(await request.body())


def _parsed(raw: bytes) -> ConsentIn | None:
    """``raw`` as a :class:`ConsentIn` if it is one in one ``model_validate_json``."""
    if not raw:
        return None
    try:
        return ConsentIn.model_validate_json(raw)
    except ValidationError:
        return None


router.add_api_route(
    "/consents", record_consent, methods=["POST"], status_code=201, response_model=EventOut,
    responses={200: {"model": EventOut, "description": "a replay of an earlier key",
                     "headers": {"Idempotent-Replayed": {"schema": {"type": "string"}}}},
               **responses(403, 409)},
    route_class_override=_ConsentWriteRoute)


CONSENTS_PATH = "/api/v1/consents"
_HTTP_1 = frozenset({"1.0", "1.1"})


class ConsentWrites:
    """ASGI, in front of the middleware stack and the router: a well-formed
    ``POST /api/v1/consents`` whose key is in the cache of verified keys is written here.

    Routing (some fifty routes matched in order) and the answer's way out through
    every middleware's ``send`` were a quarter of a write's Python on the event loop
    (docs/performance.md). Only a request the route's own short way would write at once
    is taken: the exact path with no query, HTTP/1, a Content-Length within the body
    limit (no Transfer-Encoding), the whole body as :func:`_well_formed` takes it, the
    key cached and holding ``consent:write``, a valid ``Idempotency-Key`` or none. It is
    written as the route writes it (:func:`_short_write`), the answer gets the security
    headers as :class:`SecurityHeaders` sets them, and a refusal is rendered by the app's
    own exception handler, as the route's is. Anything else goes to the app, with the
    body it read handed on unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Write a well-formed consent here; hand anything else to the app."""
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"] != CONSENTS_PATH or scope.get("query_string")
                or scope.get("root_path") or scope.get("http_version") not in _HTTP_1
                or not 0 < _length_alone(scope) <= self.max_bytes):
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        total, whole = 0, False
        while not whole:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the app sees it as before
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                break  # BodyLimit answers 413, counting what arrives as here
            whole = not message.get("more_body", False)
        raw = b"".join(m.get("body", b"") for m in buffered) if whole else b""
        request = Request(scope)
        body = (_parsed(raw) if whole and request.headers.get("content-type")
                == "application/json" else None)
        key = await cached_key(request, _WRITE_SCOPES) if body is not None else None
        valid, given = _idempotency_key(request)
        if body is None or key is None or not valid:
            async def replay() -> Message:
                return buffered.pop(0) if buffered else await receive()

            await self.app(scope, replay, send)
            return
        # As BodyLimit leaves it: the error handler must not repeat what was sent.
        scope.setdefault("state", {})[BODY_STATE] = raw
        try:
            response = await _short_write(request, body, key, given)
        except PersonvernError as refused:
            response = await _rendered(request, refused)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", ()))
            await send(message)

        await response(scope, receive, with_headers)


def _length_alone(scope: Scope) -> int:
    """The request's Content-Length when it is its one framing header (-1 otherwise: none,
    two, not a number, or a Transfer-Encoding)."""
    length = -1
    for name, value in scope["headers"]:
        if name == b"content-length":
            if length != -1 or not value.isdigit():
                return -1
            length = int(value)
        elif name == b"transfer-encoding":
            return -1
    return length


async def _rendered(request: Request, refused: PersonvernError) -> Response:
    """``refused`` as the app's exception handler for it answers (as for the route)."""
    handlers = request.app.exception_handlers
    handler = next(handlers[cls] for cls in type(refused).__mro__ if cls in handlers)
    answer = handler(request, refused)
    response: Response = await answer if inspect.isawaitable(answer) else answer
    return response


@router.get("/subjects/{ref}/consents", response_model=ConsentsOut,
            dependencies=[need("decisions:read")])
def subject_consents(ref: str, request: Request) -> ConsentsOut:
    """The decision for every purpose now, each with the events behind it."""
    rt = runtime(request)
    at = rt.clock()
    with unit(rt) as session:
        subject = get_subject(session, ref)
        decisions = decisions_for(session, rt.consent, subject.id, at)
        by_purpose: dict[str | None, list[EventOut]] = defaultdict(list)
        for row in subject_events(session, subject.id):
            by_purpose[row.purpose].append(_event_out(row))
    purposes = [PurposeConsentOut(purpose=d.purpose, allowed=d.allowed, basis=d.basis,
                                  reason=d.reason, code=d.code, events=by_purpose[d.purpose])
                for d in decisions]
    return ConsentsOut(subject_id=subject.id, at=at, purposes=purposes,
                       other_events=by_purpose[None])


def _decide(request: Request, ref: str, purpose: str, gpc: bool) -> DecisionOut:
    rt = runtime(request)
    by_id = _SUBJECT_ID.match(ref) is not None
    # A decision only reads: each statement on its own (rt.reading), no BEGIN and no
    # COMMIT, two round trips of three fewer for a lookup by e-mail on PostgreSQL. The one
    # write a lookup can make, the keyring's lookup key in a database that has none yet,
    # is made in a transaction instead.
    with rt.reading() as session:
        if by_id or rt.keyring.key(session.connection(), LOOKUP_KEY) is not None:
            return _decided(rt, session, ref, by_id, purpose, gpc)
    with unit(rt) as session:
        return _decided(rt, session, ref, by_id, purpose, gpc)


def _decided(rt: Runtime, session: Session, ref: str, by_id: bool, purpose: str, gpc: bool
             ) -> DecisionOut:
    # A subject id goes straight to the decision cache (which knows unknown ids are
    # NotFound); an e-mail, phone or ext: reference is found and its person read in one
    # statement (the same references and errors as get_subject), and linked, so that its
    # next decision is answered without the database.
    if by_id:
        subject_id = ref
        d = decide_for(session, rt.consent, subject_id, purpose, rt.clock(), gpc=gpc)
    else:
        subject_id, d = decide_for_ref(session, rt.consent, ref, purpose, rt.clock(), gpc=gpc)
    return DecisionOut(allowed=d.allowed, purpose=d.purpose, basis=d.basis, reason=d.reason,
                       code=d.code, at=d.at, subject_id=subject_id, gpc=gpc)


@router.get("/decisions", response_model=DecisionOut, dependencies=[need("decisions:read")])
async def decision(
    request: Request, subject: SubjectRef, purpose: Purpose, gpc: Gpc
) -> Response:
    """May ``purpose`` be carried out for ``subject`` now, on which basis, and why."""
    # The hot path: a subject whose events are cached, named by its id or by a reference
    # an earlier decision found it by, is answered on the event loop; anything that needs
    # the database runs in a worker thread.
    rt = runtime(request)
    if _SUBJECT_ID.match(subject):
        d = decide_cached(rt.consent, subject, purpose, rt.clock(), gpc=gpc)
        subject_id = subject
    else:
        known = decide_cached_ref(rt.consent, subject, purpose, rt.clock(), gpc=gpc)
        d, subject_id = (None, subject) if known is None else (known[1], known[0])
    if d is not None:
        return json_answer(DecisionOut(
            allowed=d.allowed, purpose=d.purpose, basis=d.basis, reason=d.reason,
            code=d.code, at=d.at, subject_id=subject_id, gpc=gpc), 200)
    return json_answer(await anyio.to_thread.run_sync(_decide, request, subject, purpose, gpc),
                       200)


@router.post("/decisions", response_model=DecisionOut, dependencies=[need("decisions:read")])
def decision_post(body: DecisionIn, request: Request, gpc: Gpc) -> DecisionOut:
    """The same question as ``GET /api/v1/decisions``, with the subject in the body."""
    return _decide(request, body.subject, body.purpose, gpc)


def _cookie_out(state: CookieState) -> CookieStateOut:
    return CookieStateOut(
        browser_id=state.browser_id, subject_id=state.subject_id, allowed=state.allowed,
        gpc=state.gpc, chosen_at=state.chosen_at, expires_at=state.expires_at,
        expired=state.expired, policy_version=state.policy_version,
        needs_choice=state.needs_choice,
    )


@cookies_router.post("/cookie-choices", status_code=201, response_model=CookieStateOut,
                     openapi_extra={"security": [{}]})  # the API key is optional here
def cookie_choice(body: CookieChoiceIn, request: Request, gpc: Gpc, key: CookieKey
                  ) -> CookieStateOut:
    """Store a browser's choice per cookie category; with ``Sec-GPC: 1`` all but necessary
    are refused. Answers the categories allowed now and the browser id to send next time.
    Tying the choice to a subject also needs ``consent:write``."""
    if body.subject_id is not None:
        if key is None:
            raise Unauthorized("tying a cookie choice to a subject needs an API key")
        require_scope(key, "consent:write")
    rt = runtime(request)
    with unit(rt) as session:
        subject_id = (get_subject(session, body.subject_id).id
                      if body.subject_id is not None else None)
        state = record_choice(
            session, rt.consent, rt.clock(), body.choices, browser_id=body.browser_id,
            subject_id=subject_id, gpc=gpc, months=request.app.state.cookie_choice_months,
        )
    return _cookie_out(state)


@cookies_router.get("/cookie-choices/{browser_id}", response_model=CookieStateOut,
                    openapi_extra={"security": [{}]})
def cookie_state(browser_id: BrowserId, request: Request, gpc: Gpc, key: CookieKey
                 ) -> CookieStateOut:
    """Which cookie categories this browser allows now (only necessary once expired).
    The subject a choice is tied to is shown only to keys that also hold ``subjects:read``."""
    rt = runtime(request)
    with unit(rt) as session:
        state = current_choice(session, rt.consent, rt.clock(), browser_id, gpc=gpc)
    out = _cookie_out(state)
    if key is None or not has_scope(key, "subjects:read"):
        out.subject_id = None
    return out
