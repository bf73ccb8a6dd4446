"""``/api/v1/organisations``: customer organisations, their members and admins, and an
organisation leaving the service, the same as ``personvern org``.

Routes are thin: every rule (the mod-11 orgnr, one membership per person, erasing the
members through the request engine, legal holds) lives in
``personvern.requests.organisations``; its refusals are problem+json and leave nothing stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictStr

from personvern.consent.tables import ApiKey
from personvern.requests import organisations as orgs
from personvern.requests.engine import MAX_TEXT, Requests
from personvern.web.deps import need, runtime, unit
from personvern.web.problems import responses
from personvern.web.schemas import Strict, Utc

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"],
                   responses=responses(400, 401, 403, 404, 413, 422))

OrgRef = Annotated[str, Path(min_length=1, max_length=300,
                             description="the organisation's id, orgnr or exact name")]
MemberRef = Annotated[str, Path(min_length=1, max_length=320,
                                description="the member: subject id, e-mail, +phone or ext:ID")]


class OrganisationIn(Strict):
    """A new customer organisation."""

    name: str = Field(min_length=1, max_length=orgs.MAX_NAME)
    orgnr: str | None = Field(None, min_length=9, max_length=11,
                              description="organisasjonsnummer, checked with mod 11")


class MemberIn(Strict):
    """A subject who joins the organisation, as member or admin (who may act for members)."""

    subject: str = Field(min_length=1, max_length=320,
                         description="subject id, e-mail, +phone or ext:ID")
    role: Literal["member", "admin"] = "member"


class LeaveIn(Strict):
    """Why the organisation leaves, and how its notice came in."""

    reason: StrictStr = Field(description="why (required, at most 2000 characters; kept in "
                              "the audit log)", max_length=MAX_TEXT)
    channel: Literal["portal", "email", "api", "post", "phone"] = "api"


class OrganisationOut(BaseModel):
    """An organisation; ``left_at`` once it has left the service."""

    id: str
    name: str
    orgnr: str | None
    created_at: Utc
    left_at: Utc | None


class ListedOut(OrganisationOut):
    """An organisation in the list, with its counts."""

    members: int
    admins: int


class MemberOut(BaseModel):
    """A member and their role."""

    subject_id: str
    reference: str
    role: str


class ShownOut(OrganisationOut):
    """An organisation with its members."""

    members: list[MemberOut]


class MembershipOut(BaseModel):
    """A membership just made."""

    organisation_id: str
    subject_id: str
    role: str


class KeptOut(BaseModel):
    """Rows kept under a legal hold, restricted to its purpose, until a date."""

    dataset: str
    table: str
    rows: int
    rule: str | None
    until: str | None
    why: str
    restricted: bool


class WaitingOut(BaseModel):
    """A member whose erasure is waiting, and why."""

    subject_id: str
    request: str
    error: str | None


class StayedOut(BaseModel):
    """A member who belongs to an organisation that stays: not erased, membership ended."""

    subject_id: str
    organisations: list[str]


class LeaveOut(BaseModel):
    """What leaving did; ``complete`` is false (202) while anything is waiting."""

    organisation: OrganisationOut
    complete: bool
    erased: list[str]
    stayed: list[StayedOut]
    waiting: list[WaitingOut]
    kept: list[KeptOut]
    deleted: dict[str, int]
    unlinked: dict[str, int]
    errors: list[str]
    own_rows_not_mapped: bool = Field(description=(
        "not enforced: true when the data map marks no table with an organisation's rows "
        "(organisation: on a table), so its own rows were not looked for; only its members "
        "were erased"))


@router.post("", status_code=201, response_model=OrganisationOut,
             responses=responses(409), dependencies=[need("subjects:write")])
def add_organisation(body: OrganisationIn, request: Request) -> OrganisationOut:
    """Register a customer organisation (409 if its orgnr is taken)."""
    rt = runtime(request)
    with unit(rt) as session:
        return OrganisationOut(**orgs.describe(orgs.create(session, rt.clock, body.name,
                                                           body.orgnr)))


@router.get("", response_model=list[ListedOut], dependencies=[need("subjects:read")])
def list_organisations(request: Request) -> list[ListedOut]:
    """Every organisation, with its count of members and admins."""
    with unit(runtime(request)) as session:
        return [ListedOut(**row) for row in orgs.list_organisations(session)]


@router.get("/{ref}", response_model=ShownOut, dependencies=[need("subjects:read")])
def show_organisation(ref: OrgRef, request: Request) -> ShownOut:
    """An organisation and its members with their roles."""
    with unit(runtime(request)) as session:
        data: dict[str, Any] = orgs.show(session, ref)
        return ShownOut(**data)


@router.post("/{ref}/members", status_code=201, response_model=MembershipOut,
             responses=responses(409), dependencies=[need("subjects:write")])
def add_member(ref: OrgRef, body: MemberIn, request: Request) -> MembershipOut:
    """Make a subject a member or admin (409 if already in it, or if it has left)."""
    rt = runtime(request)
    with unit(rt) as session:
        m = orgs.add_member(session, rt.clock, ref, body.subject, body.role)
        return MembershipOut(organisation_id=m.organisation_id, subject_id=m.subject_id,
                             role=m.role)


@router.delete("/{ref}/members/{member}", status_code=204, response_class=Response,
               dependencies=[need("subjects:write")])
def remove_member(ref: OrgRef, member: MemberRef, request: Request) -> Response:
    """End a membership; the person's data stays."""
    with unit(runtime(request)) as session:
        orgs.remove_member(session, ref, member)
    return Response(status_code=204)


@router.post("/{ref}/leave", response_model=LeaveOut,
             responses={202: {"model": LeaveOut, "description": "not left yet: a member's "
                                                                "erasure or a dataset is waiting"},
                        **responses(409)})
def leave(ref: OrgRef, body: LeaveIn, request: Request,
          key: Annotated[ApiKey, need("requests:run")]) -> JSONResponse:
    """The organisation leaves: its members and its own rows erased, except what a legal hold
    keeps (200 complete, 202 waiting; 409 if it has left already)."""
    rt = runtime(request)
    service = Requests.of(rt)
    try:
        report = orgs.organisation_leaves(service, ref, reason=body.reason,
                                          channel=body.channel,
                                          actor=f"api:{key.name}"[:200])
    finally:
        service.close()
    out = LeaveOut.model_validate(report.as_dict())
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if report.complete else 202)
