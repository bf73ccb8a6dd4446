"""OpenAPI links: how one operation's answer feeds the next (a subject created, then its
consents read; a request opened, then run), so a client generator or a stateful test can
walk the API the way an app does (OpenAPI 3.1, 4.8.20 Link Object)."""

from __future__ import annotations

from typing import Any

# (path, method, status) of the answer → link name → (target path, method, parameters).
# Parameters are runtime expressions (OpenAPI 3.1, 4.8.20.4) into the answer's body.
_SUBJECT = "$response.body#/id"
_REQUEST = "$response.body#/id"
_FROM_SUBJECT = {
    "GetSubject": ("/api/v1/subjects/{ref}", "get", {"path.ref": _SUBJECT}),
    "RecordActivity": ("/api/v1/subjects/{ref}/activity", "post", {"path.ref": _SUBJECT}),
    "ListConsents": ("/api/v1/subjects/{ref}/consents", "get", {"path.ref": _SUBJECT}),
    "Decide": ("/api/v1/decisions", "get", {"query.subject": _SUBJECT}),
    "ListRequests": ("/api/v1/requests", "get", {"query.subject": _SUBJECT}),
}
_FROM_REQUEST = {
    "GetRequest": ("/api/v1/requests/{request_id}", "get", {"path.request_id": _REQUEST}),
    "VerifyRequest": ("/api/v1/requests/{request_id}/verify", "post",
                      {"path.request_id": _REQUEST}),
    "RunRequest": ("/api/v1/requests/{request_id}/run", "post",
                   {"path.request_id": _REQUEST}),
    "ExtendRequest": ("/api/v1/requests/{request_id}/extend", "post",
                      {"path.request_id": _REQUEST}),
    "RefuseRequest": ("/api/v1/requests/{request_id}/refuse", "post",
                      {"path.request_id": _REQUEST}),
    "GetPackage": ("/api/v1/requests/{request_id}/package", "get",
                   {"path.request_id": _REQUEST}),
}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/api/v1/subjects", "post", "201"): _FROM_SUBJECT,
    ("/api/v1/subjects", "post", "200"): _FROM_SUBJECT,
    ("/api/v1/subjects/{ref}", "get", "200"): {
        k: v for k, v in _FROM_SUBJECT.items() if k != "GetSubject"},
    ("/api/v1/consents", "post", "201"): {
        "ListConsents": ("/api/v1/subjects/{ref}/consents", "get",
                         {"path.ref": "$response.body#/subject_id"}),
        "Decide": ("/api/v1/decisions", "get",
                   {"query.subject": "$response.body#/subject_id",
                    "query.purpose": "$response.body#/purpose"}),
    },
    ("/api/v1/requests", "post", "201"): _FROM_REQUEST,
    ("/api/v1/breaches", "post", "201"): {
        "GetBreach": ("/api/v1/breaches/{breach_id}", "get",
                      {"path.breach_id": "$response.body#/id"}),
        "UpdateBreach": ("/api/v1/breaches/{breach_id}/updates", "post",
                         {"path.breach_id": "$response.body#/id"}),
    },
}


def add_links(schema: dict[str, Any]) -> None:
    """Write ``LINKS`` into ``schema`` (FastAPI's generated document), by operationId; a
    link naming an operation or answer the document lacks is a programming error."""
    paths: dict[str, Any] = schema["paths"]
    for (path, method, status), links in LINKS.items():
        answer = paths[path][method]["responses"][status]
        answer["links"] = {
            name: {"operationId": paths[target][target_method]["operationId"],
                   "parameters": dict(parameters)}
            for name, (target, target_method, parameters) in links.items()}
