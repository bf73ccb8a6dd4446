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
from personvern.policy.document import Inline, Paragraph, Run, Section, Table, as_runs, link
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import join_sentences, lower_first, period


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
    s.blocks.append(Paragraph(p.say("recipients_lead")))
    rows = []
    for r in m.recipients:
        what: list[Run] = [Run(period(ctx.t(r.service)))]
        purposes = [ctx.t(x.name) for x in m.purposes if r.id in x.recipients]
        if purposes:
            what.append(Run(" " + p.text("for_purposes", purposes=ctx.names(purposes))))
        if isinstance(r.dpa_signed, date):
            what.append(Run(" " + p.text("dpa_dated", date=p.date(r.dpa_signed))))
        elif r.dpa_signed is True:
            what.append(Run(" " + p.text("dpa_yes")))
        if r.sub_processors is not None:
            what.append(Run(" " + p.text(f"sub.{r.sub_processors}")))
        if r.privacy_policy:
            what += [Run(" "), link(p.text("their_policy"), r.privacy_policy)]
        # An unknown country is a gap (PV008), never "not stated" passed off as an answer.
        country = as_runs(p.country(r.country)) if r.country else ctx.gap("recipient_country")
        # The role is named only when the manifest states it (PV074 asks for it).
        role = as_runs(p.text(f"role.{r.role}")) if r.role_stated else ()
        rows.append([as_runs(r.name), role, tuple(what), country, transfer_cell(ctx, r)])
    s.blocks.append(Table(p.text("recipients_caption"),
                          list(p.get("recipients_headers")), rows))
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
        items = [
            p.text("transfer_item", name=r.name, country=p.country(r.country or ""),
                   mechanism=lower_first(safeguard(ctx, r) or p.text("not_stated")))
            for r in third
        ]
        notes.append(p.say("transfers_text", list=p.plain_join(items)))
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


def transfer_cell(ctx: Context, r: Recipient) -> Inline:
    """The recipients table's transfer cell: the safeguard and its note, or a gap."""
    if r.country is None and r.transfer is None:
        return ctx.gap("recipient_country")
    text = safeguard(ctx, r)
    if text is None:
        return ctx.gap("transfer_safeguard")
    if r.transfer is not None and r.transfer.description is not None:
        text = f"{period(text)} {ctx.t(r.transfer.description)}"
    return as_runs(text)
