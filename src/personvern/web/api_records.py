"""``/api/v1/``: the privacy policy and its versions, the record of processing, breaches.

Routes are thin: they read the request, call ``personvern.policy``, ``personvern.ropa``
or ``personvern.breach`` in one transaction, and shape the answer. Refusals are the
cores' own errors (problem+json); nothing is stored when one is raised.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from personvern.breach.tables import Breach
from personvern.consent.tables import ApiKey
from personvern.errors import InvalidInput, NotFound
from personvern.manifest.model import Manifest
from personvern.runtime import Runtime
from personvern.web import problems
from personvern.web.deps import need, runtime, unit
from personvern.web.pages import router as pages_router
from personvern.web.problems import responses

api_router = APIRouter(prefix="/api/v1", tags=["records"],
                       responses=responses(400, 401, 403, 404, 413, 422))

Lang = Annotated[Literal["nb", "en"], Query(description="language: nb (bokmål) or en")]
PolicyFormat = Annotated[Literal["html", "md"], Query(alias="format",
                                                      description="html or md (Markdown)")]
BreachKey = Annotated[ApiKey, need("breach:write")]
BreachId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$",
                               description="the breach id, e.g. B-2027-001")]

MEDIA = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
         "csv": "text/csv; charset=utf-8", "json": "application/json",
         "jsonld": "application/ld+json"}


def _plausible(at: datetime) -> datetime:
    if not 1970 <= at.year <= 9000:
        raise ValueError("the year must lie between 1970 and 9000")
    return at


When = Annotated[AwareDatetime, AfterValidator(_plausible)]


def _actor(key: ApiKey) -> str:
    return f"api:{key.name}"[:200]


def _iso(value: Any) -> Any:
    """Datetimes as ISO 8601 all through a JSON view."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_iso(v) for v in value]
    return value


# ---- the privacy policy -----------------------------------------------------------

def incomplete_policy(request: Request, manifest: Manifest) -> JSONResponse | None:
    """A 422 problem listing the missing Art. 13/14 elements, or None when complete."""
    from personvern.policy.completeness import describe_missing, missing_elements

    missing = missing_elements(manifest)
    if not missing:
        return None
    listed = [{"element": m.element, "article": m.article, "path": m.path,
               "message": m.message, "rule": m.rule} for m in missing]
    return problems.problem(request, 422, describe_missing(missing),
                            title="Incomplete privacy policy", slug="incomplete-policy",
                            extra={"missing": listed})


def unpublishable_policy(request: Request) -> JSONResponse | None:
    """A 422 problem listing the check errors that keep the policy from being written."""
    from personvern.check.gate import blocking_findings, describe_blocking

    loaded = runtime(request).loaded
    errors = blocking_findings(loaded)
    if not errors:
        return None
    return problems.problem(request, 422, describe_blocking(errors, loaded.file),
                            title="The manifest has check errors", slug="check-errors",
                            extra={"errors": [f.as_dict() for f in errors]})


@api_router.get("/policy", response_class=Response,
            responses={200: {"content": {"text/html": {}, "text/markdown": {}},
                             "description": "the policy written from the current manifest"}},
            dependencies=[need("policy:read")])
def current_policy(request: Request, lang: Lang = "nb", fmt: PolicyFormat = "html") -> Response:
    """The privacy policy written from the manifest now (422 listing what is missing, or
    the check errors that keep it from being published)."""
    from personvern.policy.render import render_policy

    manifest = runtime(request).loaded.manifest
    refused = incomplete_policy(request, manifest) or unpublishable_policy(request)
    if refused is not None:
        return refused
    return Response(render_policy(manifest, lang, fmt), media_type=MEDIA[fmt])


@api_router.get("/policy/versions", dependencies=[need("policy:read")])
def policy_versions(request: Request) -> list[dict[str, Any]]:
    """Every published version, oldest first, and which one is in force now."""
    from personvern.policy.versions import describe, in_force, versions

    rt = runtime(request)
    with unit(rt) as session:
        current = in_force(session, rt.clock())
        return [{**describe(v), "in_force": current is not None and v.number == current.number}
                for v in versions(session)]


@api_router.get("/policy/versions/{number}", response_class=Response,
            responses={200: {"content": {"text/html": {}, "text/markdown": {}},
                             "description": "the version exactly as it was frozen"}},
            dependencies=[need("policy:read")])
def policy_version(
    request: Request, number: Annotated[int, Path(ge=1, le=1_000_000)],
    lang: Lang = "nb", fmt: PolicyFormat = "html",
) -> Response:
    """A published version exactly as it was frozen (404 for an unknown number)."""
    from personvern.policy.versions import get_version

    with unit(runtime(request)) as session:
        version = get_version(session, number)
        text = version.documents[lang][fmt]
        headers = {"Policy-Version": str(version.number),
                   "Policy-Effective-From": version.effective_from.isoformat()}
    return Response(text, media_type=MEDIA[fmt], headers=headers)


def _side(rt: Runtime, session: Session, value: str) -> tuple[str, Manifest]:
    from personvern.policy.versions import get_version, version_manifest

    value = value.strip().lower()
    if value == "current":
        return "current", rt.loaded.manifest
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{value!r} is not a version number (1, 2, ...) or 'current'")
    version = get_version(session, int(value))
    return str(version.number), version_manifest(version)


Side = Annotated[str, Query(pattern=r"^(current|[1-9][0-9]{0,8})$",
                            description="a version number, or `current` (the manifest now)")]


@api_router.get("/policy/diff", dependencies=[need("policy:read")])
def policy_diff(request: Request, a: Side, b: Side = "current") -> dict[str, Any]:
    """What changed from version ``a`` to ``b``, in plain words, each change classified."""
    from personvern.policy.diff import diff

    rt = runtime(request)
    with unit(rt) as session:
        (old_name, old), (new_name, new) = _side(rt, session, a), _side(rt, session, b)
    changes = diff(old, new)
    return {"from": old_name, "to": new_name, "material": any(c.material for c in changes),
            "changes": [c.as_dict() for c in changes]}


class PublishIn(BaseModel):
    """When the new version takes effect."""

    model_config = ConfigDict(extra="forbid")
    effective: str = Field(
        min_length=10, max_length=40, examples=["2027-03-08", "2027-03-08T00:00:00+01:00"],
        description="YYYY-MM-DD (midnight in the controller's time zone) or an ISO 8601 time "
                    "with offset; no earlier than the manifest's notice period allows")

    def when(self) -> date | datetime:
        """The date or aware time given; InvalidInput for anything else."""
        value = self.effective.strip()
        try:
            when: date | datetime = (date.fromisoformat(value) if len(value) == 10
                                     else datetime.fromisoformat(value))
        except ValueError:
            raise InvalidInput(f"effective {value!r} is not a date (YYYY-MM-DD) or a time with "
                               "an offset (2027-03-08T00:00:00+01:00)") from None
        if isinstance(when, datetime) and (when.tzinfo is None or when.utcoffset() is None):
            raise InvalidInput(f"effective {value!r} needs a UTC offset, "
                               "e.g. 2027-03-08T00:00:00+01:00, or give a date")
        if not 1970 <= when.year <= 9000:
            raise InvalidInput(f"effective {value!r}: the year must lie between 1970 and 9000")
        return when


@api_router.post("/policy/versions", status_code=201, responses=responses(409))
def publish_policy(body: PublishIn, request: Request,
                   key: Annotated[ApiKey, need("policy:publish")]) -> dict[str, Any]:
    """Freeze the policy of the manifest as the next version (422 inside the notice period or
    while `personvern check` reports errors, 409 when unchanged; nothing is stored then).
    A material change queues e-mail notices (``notices_queued``); ``notices_unreachable``
    counts the people with no e-mail address on record, whom the promised notice does not
    reach."""
    from personvern.check.gate import publish_checked
    from personvern.policy.versions import describe

    rt = runtime(request)
    with unit(rt) as session:
        done = publish_checked(session, rt.clock, rt.loaded, body.when(), actor=_actor(key))
        return {**describe(done.version), "notices_queued": done.notices,
                "notices_unreachable": done.unreachable}


# ---- the record of processing ----------------------------------------------------------

@api_router.get("/ropa", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "text/html": {},
                                         "application/ld+json": {}},
                             "description": "the record of processing activities"}},
            dependencies=[need("records:read")])
def ropa(
    request: Request,
    fmt: Annotated[Literal["csv", "html", "jsonld"], Query(alias="format")] = "html",
    lang: Lang = "nb",
    processor: Annotated[bool, Query(
        description="the processor's record (Art. 30(2)) instead of the controller's")] = False,
) -> Response:
    """The record of processing (Art. 30(1)), or with ``processor`` the processor's (30(2))."""
    from personvern.ropa import export as ex
    from personvern.ropa.record import build_processor_record, build_record

    m = runtime(request).loaded.manifest
    if processor:
        proc = build_processor_record(m, lang)
        if proc is None:
            raise NotFound(f"{m.service.name} processes no data on behalf of customers "
                           "(GDPR Art. 30(2)), so it keeps no processor's record")
        text = (ex.processor_to_csv(proc) if fmt == "csv" else ex.processor_to_html(proc)
                if fmt == "html" else json.dumps(ex.processor_to_jsonld(proc),
                                                 ensure_ascii=False, indent=2))
    else:
        from zoneinfo import ZoneInfo

        from personvern.law import get_jurisdiction
        from personvern.storage.manifests import manifest_sha256

        rt = runtime(request)
        zone = ZoneInfo(get_jurisdiction(m.jurisdiction.country).timezone)
        record = build_record(m, lang, drawn_up=rt.clock().astimezone(zone).date(),
                              version=manifest_sha256(rt.loaded.text))
        text = (ex.to_csv(record) if fmt == "csv" else ex.to_html(record) if fmt == "html"
                else json.dumps(ex.to_jsonld(record), ensure_ascii=False, indent=2))
    return Response(text, media_type=MEDIA[fmt])


# ---- breaches ---------------------------------------------------------------------------

def _view(session: Session, breach: Breach, now: datetime) -> dict[str, Any]:
    from personvern.breach.register import breach_view, recorded_details, updates_of

    view = breach_view(breach, now, updates_of(session, breach.id),
                       recorded_details(session, breach.id))
    result: dict[str, Any] = _iso(view)
    return result


@api_router.get("/breaches", dependencies=[need("records:read")])
def breaches(
    request: Request,
    open_only: Annotated[bool, Query(alias="open", description="only breaches not closed")]
    = False,
) -> list[dict[str, Any]]:
    """Every breach, newest awareness first, with its deadline and time left."""
    from personvern.breach.register import breach_view, list_breaches

    rt = runtime(request)
    now = rt.clock()
    with unit(rt) as session:
        return [_iso(breach_view(b, now)) for b in list_breaches(session, open_only=open_only)]


Count = Annotated[int, Field(ge=0, le=2_000_000_000)]
Short = Annotated[str, Field(max_length=300)]
# Bounded so that a body near every limit still fits the request size limit (64 KiB).
Long = Annotated[str, Field(max_length=4_000)]
Note = Annotated[str, Field(max_length=1_000)]
Key64 = Annotated[str, Field(min_length=1, max_length=64)]


class BreachIn(BaseModel):
    """A breach as the controller documents it (GDPR Art. 33(5))."""

    model_config = ConfigDict(extra="forbid")
    title: Short = Field(min_length=1)
    description: Long = Field(min_length=1)
    risk: Literal["none", "low", "risk", "high"]
    aware_at: When | None = Field(
        None, description="when the controller became aware (default now; not in the future)")
    occurred_at: When | None = None
    data_categories: list[Key64] = Field(default_factory=list, max_length=20)
    subject_categories: list[Key64] = Field(default_factory=list, max_length=20)
    approx_subjects: Count | None = None
    approx_records: Count | None = None
    consequences: Note = ""
    measures: Note = ""
    no_notice_reason: Note | None = None
    notify_authority: bool | None = None
    nature: list[Literal["confidentiality", "integrity", "availability"]] = Field(
        default_factory=list, max_length=3)
    cross_border: bool | None = Field(
        None, description="people in other EEA countries are affected (GDPR Art. 33(3), 56); "
        "left out or null is kept as not stated, and the report says so, never no")
    countries: list[Annotated[str, Field(min_length=2, max_length=2)]] = Field(
        default_factory=list, max_length=30)
    discovery: Note | None = None


@api_router.post("/breaches", status_code=201)
def record(body: BreachIn, request: Request, key: BreachKey) -> dict[str, Any]:
    """Document a breach; the 72-hour clock starts at ``aware_at`` (422 when in the future)."""
    from personvern.breach.register import record_breach

    rt = runtime(request)
    with unit(rt) as session:
        breach = record_breach(
            session, rt.clock, title=body.title, description=body.description, risk=body.risk,
            aware_at=body.aware_at, occurred_at=body.occurred_at,
            data_categories=body.data_categories, subject_categories=body.subject_categories,
            approx_subjects=body.approx_subjects, approx_records=body.approx_records,
            consequences=body.consequences, measures=body.measures,
            no_notice_reason=body.no_notice_reason, notify_authority=body.notify_authority,
            nature=body.nature, cross_border=body.cross_border, countries=body.countries,
            discovery=body.discovery, manifest=rt.loaded.manifest, actor=_actor(key),
        )
        return _view(session, breach, rt.clock())


@api_router.get("/breaches/{breach_id}", dependencies=[need("records:read")])
def show_breach(breach_id: BreachId, request: Request) -> dict[str, Any]:
    """A breach with its deadline, time left, status and history."""
    from personvern.breach.register import get_breach

    rt = runtime(request)
    with unit(rt) as session:
        return _view(session, get_breach(session, breach_id), rt.clock())


class UpdateIn(BaseModel):
    """An entry in a breach's history."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["authority_notice", "phase", "note", "subject_notice"]
    text: Long = Field(min_length=1)
    late_reason: Note | None = Field(
        None, description="required for an authority notice after the 72-hour deadline")


@api_router.post("/breaches/{breach_id}/updates", status_code=201, responses=responses(409))
def breach_update(breach_id: BreachId, body: UpdateIn, request: Request,
                  key: BreachKey) -> dict[str, Any]:
    """Add the notice to the authority, a later phase (Art. 33(4)), a note, or that the
    people were told (Art. 34). Answers the breach as it is now."""
    from personvern.breach.register import add_update, get_breach

    rt = runtime(request)
    with unit(rt) as session:
        add_update(session, rt.clock, breach_id, body.kind, body.text,
                   late_reason=body.late_reason, actor=_actor(key))
        return _view(session, get_breach(session, breach_id), rt.clock())


class CloseIn(BaseModel):
    """Closing a breach."""

    model_config = ConfigDict(extra="forbid")
    subjects_exemption: Note | None = Field(
        None, description="high risk, people not told: the GDPR Art. 34(3) reason")
    note: Note | None = None


@api_router.post("/breaches/{breach_id}/close", responses=responses(409))
def close(breach_id: BreachId, request: Request, key: BreachKey,
          body: CloseIn | None = None) -> dict[str, Any]:
    """Close a breach once every notice the law requires is given (422 otherwise)."""
    from personvern.breach.register import close_breach

    body = body or CloseIn()
    rt = runtime(request)
    with unit(rt) as session:
        breach = close_breach(session, rt.clock, breach_id,
                              subjects_exemption=body.subjects_exemption, note=body.note,
                              actor=_actor(key))
        return _view(session, breach, rt.clock())


@api_router.get("/breaches/{breach_id}/report", response_class=Response,
            responses={200: {"content": {"text/markdown": {}, "text/html": {},
                                         "application/json": {}},
                             "description": "the facts of the notification to Datatilsynet"}},
            dependencies=[need("records:read")])
def breach_report(
    breach_id: BreachId, request: Request,
    fmt: Annotated[Literal["md", "html", "json"], Query(alias="format")] = "md",
    lang: Lang = "nb",
) -> Response:
    """The facts Datatilsynet's notification form asks for, as Markdown, HTML or JSON."""
    from personvern.breach.report import build_report, render

    rt = runtime(request)
    with unit(rt) as session:
        report = build_report(session, breach_id, rt.loaded.manifest, rt.clock(), lang)
    return Response(render(report, fmt), media_type=MEDIA[fmt])


# What app.py includes: the API above and the public pages (personvern.web.pages).
router = APIRouter()
router.include_router(api_router)
router.include_router(pages_router)
