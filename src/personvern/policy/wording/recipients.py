"""Who receives the data, and what protects it outside the EEA.

Each recipient with its role, what it does and for which purposes, its data processing
agreement and sub-processor rule, its country and the transfer safeguard. "We transfer
nothing outside the EEA" is said only when every recipient's country is known and in the
EEA; an unknown country is "not stated", never assumed.
"""

from __future__ import annotations

from datetime import date

from personvern.law import is_eea
from personvern.manifest.model import Recipient
from personvern.policy.completeness import transfer_safeguard_missing
from personvern.policy.document import (
    Bullets,
    Inline,
    Paragraph,
    Run,
    Section,
    Table,
    as_runs,
    link,
)
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import join_sentences, period
from personvern.policy.wording.shared import shared_statements


def recipients_section(ctx: Context) -> Section | None:
    """The recipients table, then processors, transfers, joint controllers and Art. 19."""
    p, m = ctx.p, ctx.m
    s = Section("recipients", ctx.heading("recipients_heading"))
    if not m.recipients:
        # "We share it with no one" only when the author says so with `recipients: []`;
        # a manifest that leaves recipients out says nothing, and neither does the policy.
        if "recipients" not in m.model_fields_set:
            return None
        s.blocks.append(Paragraph(p.say("recipients_none")))
        return s
    if any(r.privacy_policy for r in m.recipients):
        s.blocks.append(Paragraph(p.say("recipients_lead_links")))
    # What several recipients share (the same agreement, the same sub-processor rule, the
    # same note on the transfer) is said once below the table, naming them (issue 12).
    own = {r.id: agreements(ctx, r) for r in m.recipients}
    alone, shared = shared_statements([(r.id, own[r.id]) for r in m.recipients])
    rows = []
    for r in m.recipients:
        what: list[Run] = [Run(period(ctx.t(r.service)))]
        purposes = [x.id for x in m.purposes if r.id in x.recipients]
        if purposes:
            what.append(Run(" " + p.text("for_purposes", purposes=ctx.purpose_names(purposes))))
        for statement in alone[r.id]:
            what += [Run(" "), *statement]
        # The name links to the recipient's own policy (an unsafe address stays text).
        name = link(r.name, r.privacy_policy) if r.privacy_policy else Run(r.name)
        # An unknown country is a gap (PV008), never "not stated" passed off as an answer.
        country = as_runs(p.country(r.country)) if r.country else ctx.gap("recipient_country")
        # The role is named only when the manifest states it (PV074 asks for it).
        role = as_runs(p.text(f"role.{r.role}")) if r.role_stated else ()
        rows.append([(name,), role, tuple(what), country, transfer_cell(ctx, r)])
    headers = list(p.get("recipients_headers"))
    if all(r.country is not None and is_eea(r.country) for r in m.recipients):
        # Nothing leaves the EEA: one sentence below says so, not "in the EEA" per row.
        headers, rows = headers[:4], [row[:4] for row in rows]
    rows = merged(ctx, rows)
    s.blocks.append(Table(p.text("recipients_caption"), headers, rows))
    if shared:
        # The statements shared by the same recipients are one item.
        names = {r.id: r.name for r in m.recipients}
        by_owners: dict[tuple[str, ...], list[Inline]] = {}
        for statement, ids in shared:
            by_owners.setdefault(tuple(ids), []).append(statement)
        s.blocks.append(Bullets([
            (Run(p.plain_join([names[i] for i in ids]), strong=True), Run(": "),
             *join_sentences(group))
            for ids, group in by_owners.items()]))
    notes: list[Inline] = []
    processors = [r for r in m.recipients
                  if r.role_stated and r.role in {"processor", "sub_processor"}]
    # "only on our instructions" is what an Art. 28(3) agreement binds a processor to: said
    # only when every processor has one recorded (PV019 reports those that do not).
    if processors and all(r.dpa_signed not in (None, False) for r in processors):
        notes.append(p.say("processors_text"))
    third = [r for r in m.recipients if r.country is not None and not is_eea(r.country)]
    if all(r.country is not None and is_eea(r.country) for r in m.recipients):
        notes.append(p.say("no_transfers"))
    elif third:
        # The table names each country and safeguard; they are not listed a second time.
        notes.append(p.say("transfers_text"))
        # Art. 13(1)(f): for these safeguards the person may obtain a copy.
        if any(r.transfer and r.transfer.mechanism in {"scc", "bcr"} for r in third):
            notes.append(p.say("transfers_copy"))
    joint = [r for r in m.recipients if r.role == "joint_controller"]
    if joint:
        sentences = [p.say("joint_text")]
        if all(r.joint_arrangement for r in joint):
            sentences.append(p.say("joint_arrangement"))
        notes.append(join_sentences(sentences))
    notes.append(p.say("art19"))
    s.blocks += [Paragraph(n) for n in notes]
    return s


def merged(ctx: Context, rows: list[list[Inline]]) -> list[list[Inline]]:
    """Recipients whose every other cell is the same share one row naming them all
    (seed 004's three ad networks: the same role, work, purpose, country and gap), so
    the row's text is not repeated (issue 12, item 7)."""
    groups: dict[tuple[Inline, ...], list[Inline]] = {}
    for name, *rest in rows:
        groups.setdefault(tuple(rest), []).append(name)
    return [[ctx.p.join(names), *rest] for rest, names in groups.items()]


def safeguard(ctx: Context, r: Recipient) -> str | None:
    """The transfer safeguard in words; None when one is needed but not given."""
    p = ctx.p
    mechanism = r.transfer.mechanism if r.transfer else None
    if transfer_safeguard_missing(r.country, mechanism):
        return None
    if r.country is not None and is_eea(r.country):
        return p.text("in_eea")
    if mechanism is not None:
        return p.text(f"mechanism.{mechanism}")
    return p.text("not_stated")


def agreements(ctx: Context, r: Recipient) -> list[Inline]:
    """What binds one recipient: its data processing agreement, its sub-processor rule, and
    the author's note on its transfer."""
    p = ctx.p
    out: list[Inline] = []
    if isinstance(r.dpa_signed, date):
        out.append(p.say("dpa_dated", date=p.date(r.dpa_signed)))
    elif r.dpa_signed is True:
        out.append(p.say("dpa_yes"))
    if r.sub_processors is not None:
        out.append(p.say(f"sub.{r.sub_processors}"))
    if r.transfer is not None and r.transfer.description is not None:
        out.append(as_runs(period(ctx.t(r.transfer.description))))
    return out


def transfer_cell(ctx: Context, r: Recipient) -> Inline:
    """The recipients table's transfer cell: the safeguard, or a gap."""
    if r.country is None and r.transfer is None:
        # The country column already shows this gap; the safeguard depends on it.
        return ()
    text = safeguard(ctx, r)
    if text is None:
        return ctx.gap("transfer_safeguard")
    return as_runs(text)
