"""``personvern consent``: give, withdraw, object, show, decide, and print receipts."""

import json
from typing import TYPE_CHECKING, Annotated

import typer

from personvern.cli.common import emit, runtime
from personvern.cli.options import DbOption, JsonOption, ManifestOption, NowOption

if TYPE_CHECKING:
    from personvern.consent.events import EventType

app = typer.Typer(help="Record consent and objections, and ask for decisions.",
                  no_args_is_help=True)

SubjectArg = Annotated[str, typer.Argument(help="Subject id, e-mail, +phone or ext:ID.")]
PurposeArg = Annotated[str, typer.Argument(help="Purpose id from the manifest.")]
GuardianOpt = Annotated[
    str | None, typer.Option("--guardian", help="Act as this guardian (id, e-mail or phone).")
]
AdminOpt = Annotated[
    str | None, typer.Option("--admin", help="Act as this organisation admin.")
]
ChannelOpt = Annotated[str, typer.Option(help="portal, api, banner, import or email.")]
TextOpt = Annotated[str | None, typer.Option("--text", help="The text the person was shown.")]
KeyOpt = Annotated[
    str | None, typer.Option("--idempotency-key", help="Replaying the same key adds nothing.")
]


def _record(
    kind: "EventType", subject: str, purpose: str, guardian: str | None, admin: str | None,
    channel: str, text: str | None, key: str | None, manifest: ManifestOption, db: DbOption,
    as_json: bool, now: str | None,
) -> None:
    from personvern.consent.events import Actor, Channel
    from personvern.consent.service import record_event
    from personvern.consent.subjects import get_subject
    from personvern.errors import InvalidInput

    try:
        via = Channel(channel)
    except ValueError:
        raise InvalidInput(f"unknown channel {channel!r}; use one of "
                           + ", ".join(c.value for c in Channel)) from None
    if guardian and admin:
        raise InvalidInput("act as a guardian or as an admin, not both")
    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        target = get_subject(s, subject)
        actor, actor_id = Actor.SELF, None
        if guardian or admin:
            actor = Actor.GUARDIAN if guardian else Actor.ADMIN
            actor_id = get_subject(s, guardian or admin or "").id
        event, replayed = record_event(
            s, rt.consent, rt.clock(), target.id, kind, purpose_id=purpose, actor=actor,
            channel=via, actor_subject_id=actor_id,
            evidence={"text_shown": text} if text else None, idempotency_key=key,
        )
        data = {"event": event.id, "seq": event.seq, "type": event.type, "purpose": purpose,
                "subject": target.id, "at": event.at, "replayed": replayed}
    note = " (replayed: already recorded)" if replayed else ""
    emit(data, as_json, [f"{event.type} for {purpose}: event {event.seq}{note}"])


@app.command("give")
def give(subject: SubjectArg, purpose: PurposeArg, guardian: GuardianOpt = None,
         admin: AdminOpt = None, channel: ChannelOpt = "api", text: TextOpt = None,
         idempotency_key: KeyOpt = None, manifest: ManifestOption = None, db: DbOption = None,
         as_json: JsonOption = False, now: NowOption = None) -> None:
    """Record that the subject (or their guardian) gave consent to a purpose."""
    from personvern.consent.events import EventType

    _record(EventType.CONSENT_GIVEN, subject, purpose, guardian, admin, channel, text,
            idempotency_key, manifest, db, as_json, now)


@app.command("withdraw")
def withdraw(subject: SubjectArg, purpose: PurposeArg, guardian: GuardianOpt = None,
             admin: AdminOpt = None, channel: ChannelOpt = "api",
             idempotency_key: KeyOpt = None, manifest: ManifestOption = None,
             db: DbOption = None, as_json: JsonOption = False, now: NowOption = None) -> None:
    """Record that consent to a purpose was withdrawn (GDPR Art. 7(3))."""
    from personvern.consent.events import EventType

    _record(EventType.CONSENT_WITHDRAWN, subject, purpose, guardian, admin, channel, None,
            idempotency_key, manifest, db, as_json, now)


@app.command("object")
def object_(subject: SubjectArg, purpose: PurposeArg, guardian: GuardianOpt = None,
            admin: AdminOpt = None, channel: ChannelOpt = "api", lift: Annotated[
                bool, typer.Option("--lift", help="Lift an earlier objection.")] = False,
            idempotency_key: KeyOpt = None, manifest: ManifestOption = None,
            db: DbOption = None, as_json: JsonOption = False, now: NowOption = None) -> None:
    """Record an objection (GDPR Art. 21), or lift one with --lift."""
    from personvern.consent.events import EventType

    kind = EventType.OBJECTION_LIFTED if lift else EventType.OBJECTION_RAISED
    _record(kind, subject, purpose, guardian, admin, channel, None, idempotency_key, manifest,
            db, as_json, now)


@app.command("show")
def show(subject: SubjectArg, manifest: ManifestOption = None, db: DbOption = None,
         as_json: JsonOption = False, now: NowOption = None) -> None:
    """Show the subject's ledger events and what each purpose allows now."""
    from personvern.consent.ledger import subject_events
    from personvern.consent.service import decisions_for
    from personvern.consent.subjects import get_subject

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        found = get_subject(s, subject)
        events = [{"seq": e.seq, "id": e.id, "type": e.type, "purpose": e.purpose,
                   "actor": e.actor, "channel": e.channel, "at": e.at}
                  for e in subject_events(s, found.id)]
        decisions = [{"purpose": d.purpose, "allowed": d.allowed, "basis": d.basis,
                      "reason": d.reason} for d in decisions_for(s, rt.consent, found.id,
                                                                 rt.clock())]
    lines = [f"{'yes' if d['allowed'] else 'no '} {d['purpose']}: {d['reason']}"
             for d in decisions]
    lines += [f"  #{e['seq']} {e['at']} {e['type']} {e['purpose'] or ''} by {e['actor']} "
              f"via {e['channel']}" for e in events]
    emit({"subject": found.id, "decisions": decisions, "events": events}, as_json, lines)


@app.command("decide")
def decide_cmd(subject: SubjectArg, purpose: PurposeArg, gpc: Annotated[
        bool, typer.Option("--gpc", help="The request carries Sec-GPC: 1.")] = False,
        manifest: ManifestOption = None, db: DbOption = None, as_json: JsonOption = False,
        now: NowOption = None) -> None:
    """May this be done with this subject's data now? Prints yes/no and the reason."""
    from personvern.consent.service import decide_for
    from personvern.consent.subjects import get_subject

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        found = get_subject(s, subject)
        d = decide_for(s, rt.consent, found.id, purpose, rt.clock(), gpc=gpc)
    data = {"subject": found.id, "purpose": d.purpose, "allowed": d.allowed, "basis": d.basis,
            "reason": d.reason, "code": d.code, "at": d.at}
    emit(data, as_json, [f"{'yes' if d.allowed else 'no'}: {d.reason}"])


@app.command("receipt")
def receipt_cmd(event: Annotated[str, typer.Argument(help="Event id or sequence number.")],
                lang: Annotated[str, typer.Option(help="nb or en.")] = "nb",
                manifest: ManifestOption = None, db: DbOption = None,
                now: NowOption = None) -> None:
    """Print an ISO/IEC TS 27560-style consent record for one ledger event (JSON)."""
    from sqlalchemy import select

    from personvern.consent.ledger import evidence_of
    from personvern.consent.receipts import receipt
    from personvern.consent.tables import LedgerEvent
    from personvern.errors import NotFound

    with runtime(manifest, db, now) as rt, rt.transaction() as s:
        column = LedgerEvent.seq if event.isdigit() else LedgerEvent.id
        row = s.scalars(select(LedgerEvent).where(column == (
            int(event) if event.isdigit() else event))).first()
        if row is None:
            raise NotFound(f"no ledger event {event!r}")
        data = receipt(rt.consent, row, evidence_of(s, row.seq), lang)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
