"""Tasks of a request outside the engine's reach: ``http`` datasets (the app answers a
signed call, retried with back-off while it is down) and ``manual`` datasets (a processor
asked by e-mail; the privacy owner marks the task done with a note).

A request with an open task waits; it completes only when every task is done. Tasks are
rows of ``request_tasks``, opened once per request and dataset, so a retried run never
asks twice and a task is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from personvern.audit import append_audit
from personvern.clock import Clock
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.mail.outbox import Mail, queue
from personvern.manifest.model import Dataset, Manifest
from personvern.requests.notices import backoff
from personvern.requests.tables import Request
from personvern.storage.models import Base, as_utc

# Request type -> the action asked of the dataset (the callback protocol's words).
ACTIONS = {"access": "access", "erasure": "erase"}
MAX_NOTE = 2000


class RequestTask(Base):
    """One dataset's part of a request: a callback to make or a processor to hear from."""

    __tablename__ = "request_tasks"
    __table_args__ = (UniqueConstraint("request_id", "dataset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # http | manual
    action: Mapped[str] = mapped_column(String(16))  # access | erase
    # pending -> done; an http task stays pending while its app is down (retried)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # http: the app's answer (access rows are replaced by their count once packaged)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    asked: Mapped[str | None] = mapped_column(String(320))  # manual: whom the e-mail went to
    note: Mapped[str | None] = mapped_column(Text)  # manual: what the owner recorded
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(200))


def outside(manifest: Manifest) -> list[Dataset]:
    """The datasets the engine cannot reach itself."""
    return [ds for ds in manifest.datasets if ds.kind in ("http", "manual")]


def tasks_of(session: Session, request_id: str) -> list[RequestTask]:
    """A request's tasks, in the order they were opened."""
    return list(session.scalars(select(RequestTask).where(RequestTask.request_id == request_id)
                                .order_by(RequestTask.id)))


# Whether any of some requests has a task: a Core read (no ORM load), built once.
_ANY_TASK = select(RequestTask.__table__.c.id).where(
    RequestTask.__table__.c.request_id.in_(bindparam("ids", expanding=True))).limit(1)


def tasks_of_many(session: Session, request_ids: Sequence[str], *, probe: bool = False
                  ) -> dict[str, list[RequestTask]]:
    """:func:`tasks_of` for several requests, a statement per chunk; by request id.
    ``probe``: most likely none has a task (no dataset outside the engine's reach), so a
    chunk is first looked at with a cheap Core read and loaded only if it has one."""
    found: dict[str, list[RequestTask]] = {}
    for start in range(0, len(request_ids), 500):
        if probe and session.connection().execute(
                _ANY_TASK, {"ids": list(request_ids[start:start + 500])}).first() is None:
            continue
        for t in session.scalars(select(RequestTask).where(
                RequestTask.request_id.in_(request_ids[start:start + 500]))
                .order_by(RequestTask.id)):
            found.setdefault(t.request_id, []).append(t)
    return found


def ensure(session: Session, clock: Clock, manifest: Manifest, request_id: str, type: str,
           subject_id: str, identities: dict[str, list[str]], actor: str) -> list[RequestTask]:
    """Open the request's tasks once (a manual one e-mails its processor); all of them."""
    action = ACTIONS.get(type)
    have = tasks_of(session, request_id)
    if action is None:
        return have
    known = {t.dataset for t in have}
    now = clock()
    for ds in outside(manifest):
        if ds.id in known:
            continue
        task = RequestTask(request_id=request_id, dataset=ds.id, kind=ds.kind, action=action,
                           state="pending", attempts=0, created_at=now,
                           next_attempt_at=now if ds.kind == "http" else None)
        if ds.kind == "manual":
            task.asked = _ask(session, clock, manifest, ds, request_id, action, subject_id,
                              identities)
        session.add(task)
        append_audit(session, clock, actor, "request.task_opened", f"request:{request_id}",
                     {"dataset": ds.id, "kind": ds.kind, "action": action,
                      "asked": task.asked or ""})
        have.append(task)
    session.flush()
    return have


def _contact(manifest: Manifest, ds: Dataset) -> str | None:
    if ds.contact:
        return str(ds.contact)
    recipient = manifest.recipient(ds.recipient) if ds.recipient else None
    contact = getattr(recipient, "contact", None)
    return str(contact) if contact else None


def _ask(session: Session, clock: Clock, manifest: Manifest, ds: Dataset, request_id: str,
         action: str, subject_id: str, identities: dict[str, list[str]]) -> str | None:
    """Queue the e-mail asking the processor to act; None when there is no address."""
    to = _contact(manifest, ds)
    if to is None:
        return None
    verb_nb, verb_en = ("sende oss", "send us") if action == "access" else ("slette", "erase")
    who = "\n".join(f"  {k}: {v}" for k, vs in identities.items() for v in vs)
    body = (
        f"Vi har fått en forespørsel fra en registrert (GDPR art. "
        f"{'15' if action == 'access' else '17'}). Vennligst {verb_nb} personopplysningene "
        f"om personen nedenfor i «{ds.id}», og svar oss når det er gjort.\n"
        f"We have received a data-subject request (GDPR Art. "
        f"{'15' if action == 'access' else '17'}). Please {verb_en} the personal data about "
        f"the person below in \"{ds.id}\", and reply when it is done.\n\n{who}\n\n"
        f"Referanse / reference: {request_id}\nFra / from: {manifest.controller.name}"
    )
    queue(session, clock, Mail(
        kind="request_processor", to_address=to,
        title=f"Forespørsel fra registrert / data-subject request ({action}) {request_id}",
        body_text=body, dedupe_key=f"request:{request_id}:processor:{ds.id}"))
    return to


def due_http(tasks: list[RequestTask], now: datetime, *, force: bool) -> list[RequestTask]:
    """The http tasks to call now: every pending one when forced, else those due."""
    return [t for t in tasks if t.kind == "http" and t.state == "pending"
            and (force or t.next_attempt_at is None or as_utc(t.next_attempt_at) <= as_utc(now))]


def record_call(session: Session, clock: Clock, task_id: int, answer: dict[str, Any] | None,
                error: str | None, actor: str) -> RequestTask:
    """Record one attempt at an http task: done with the answer, or retried with back-off."""
    task = session.get(RequestTask, task_id)
    assert task is not None
    now = clock()
    task.attempts += 1
    if error is None:
        task.state, task.result, task.done_at, task.done_by = "done", answer, now, actor
        task.next_attempt_at = task.last_error = None
    else:
        task.last_error = error[:2000]
        task.next_attempt_at = now + backoff(task.attempts)
    append_audit(session, clock, actor, "request.task_called", f"request:{task.request_id}",
                 {"dataset": task.dataset, "attempt": task.attempts, "ok": error is None,
                  "error": error or ""})
    session.flush()
    return task


def mark_done(session: Session, clock: Clock, request_id: str, dataset: str, note: str,
              actor: str) -> RequestTask:
    """The privacy owner records that a processor did its part (a manual task)."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("say what the processor answered (--note)")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is longer than {MAX_NOTE} characters")
    task = session.scalars(select(RequestTask).where(
        RequestTask.request_id == request_id, RequestTask.dataset == dataset)).first()
    if task is None:
        names = ", ".join(t.dataset for t in tasks_of(session, request_id)) or "none"
        raise NotFound(f"request {request_id} has no task for dataset {dataset!r} "
                       f"(its tasks: {names})")
    if task.kind != "manual":
        raise Conflict(f"the task for {dataset!r} is a callback: it is done when the app "
                       "answers (run the request again)")
    if task.state == "done":
        raise Conflict(f"the task for {dataset!r} was already marked done")
    task.state, task.note, task.done_at, task.done_by = "done", note, clock(), actor
    append_audit(session, clock, actor, "request.task_done", f"request:{request_id}",
                 {"dataset": dataset, "note": note})
    session.flush()
    return task


def pending(tasks: list[RequestTask], kind: str) -> list[RequestTask]:
    """The tasks of ``kind`` not yet done."""
    return [t for t in tasks if t.kind == kind and t.state != "done"]


def answers(tasks: list[RequestTask]) -> dict[str, Any]:
    """The http datasets' answers, and each manual task's state and note, by dataset, for
    the package (Art. 15(1), (3): it names what a processor hands over separately)."""
    found: dict[str, Any] = {t.dataset: t.result for t in tasks
                             if t.kind == "http" and t.state == "done"}
    found.update({t.dataset: {"manual": {"state": t.state, "note": t.note}}
                  for t in tasks if t.kind == "manual"})
    return found


def settle(tasks: list[RequestTask]) -> None:
    """Once packaged, keep only how many rows an app answered, not the rows themselves."""
    for t in tasks:
        if t.kind == "http" and t.action == "access" and t.result and "tables" in t.result:
            t.result = {"rows": {name: len(rows) for name, rows in t.result["tables"].items()}}


def due_requests(session: Session, now: datetime, limit: int = 100) -> list[str]:
    """Waiting requests with an http task due for another attempt."""
    rows = session.scalars(select(RequestTask.request_id).join(
        Request, Request.id == RequestTask.request_id).where(
        Request.state == "waiting", RequestTask.kind == "http", RequestTask.state == "pending",
        RequestTask.next_attempt_at <= as_utc(now)).order_by(RequestTask.next_attempt_at)
        .limit(limit))
    return list(dict.fromkeys(rows))


def open_manual(session: Session) -> int:
    """How many manual tasks of waiting requests wait for a processor's answer: what
    ``run-due`` cannot bring, which a person records (``request task-done``)."""
    return session.scalar(select(func.count()).select_from(RequestTask).join(
        Request, Request.id == RequestTask.request_id).where(
        Request.state == "waiting", RequestTask.kind == "manual",
        RequestTask.state == "pending")) or 0


def view(tasks: list[RequestTask]) -> list[dict[str, Any]]:
    """The tasks as the owner sees them (no answers: they may hold personal data)."""
    return [{"dataset": t.dataset, "kind": t.kind, "action": t.action, "state": t.state,
             "attempts": t.attempts, "last_error": t.last_error, "asked": t.asked,
             "note": t.note,
             "next_attempt_at": t.next_attempt_at.isoformat() if t.next_attempt_at else None,
             "done_at": t.done_at.isoformat() if t.done_at else None, "done_by": t.done_by}
            for t in tasks]
