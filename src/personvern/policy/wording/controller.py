"""Who is responsible and where to turn: the controller, complaints, security and changes.

The controller with its contact details, data protection officer or privacy contact and
representative (Art. 13(1)(a-b), Art. 27); the supervisory authority from the
jurisdiction (Art. 13(2)(d)); the security text; and how changes to the policy are
announced, promising only what ``policy_changes`` promises.
"""

from __future__ import annotations

from personvern.policy.document import (
    Bullets,
    Inline,
    Paragraph,
    Run,
    Section,
    as_runs,
    link,
    tel_href,
    url_run,
)
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import join_sentences


def controller_section(ctx: Context) -> Section:
    """The controller, its contact details, its DPO or privacy contact, its representative."""
    p, c = ctx.p, ctx.m.controller
    s = Section("controller", ctx.heading("controller_heading"))
    if c.orgnr is not None:
        orgnr = f"{c.orgnr[:3]} {c.orgnr[3:6]} {c.orgnr[6:]}"
        s.blocks.append(Paragraph(p.say("controller_is", controller=c.name, orgnr=orgnr)))
    else:
        # No number is better than an invented one (issue 12): the seed may give none.
        s.blocks.append(Paragraph(p.say("controller_is_no_orgnr", controller=c.name)))
    items: list[Inline] = []
    if c.email:
        items.append(p.say("contact_email", value=link(c.email, f"mailto:{c.email}")))
    if c.phone:
        items.append(p.say("contact_phone", value=link(c.phone, tel_href(c.phone))))
    if c.address:
        items.append(p.say("contact_address", value=c.address))
    if c.website:
        items.append(p.say("contact_website", value=url_run(c.website)))
    # The same test as the completeness element: a website alone is no contact detail.
    if not (c.email or c.phone or c.address):
        items.append(ctx.gap("controller_contact"))
    s.blocks += [Paragraph(p.say("contact_lead")), Bullets(items)]
    if c.dpo is not None:
        reach = ctx.contacts(c.dpo) or ctx.gap("dpo_contact")
        key = "dpo_named" if c.dpo.name else "dpo_unnamed"
        s.blocks.append(Paragraph(p.say(key, name=c.dpo.name or "", contacts=reach)))
    if c.privacy_contact is not None:
        pc = c.privacy_contact
        runs = list(p.say("privacy_contact_named", name=pc.name) if pc.name
                    else p.say("privacy_contact_unnamed"))
        reach = ctx.contacts(pc)
        runs.append(Run(" "))
        runs += (p.say("privacy_contact_reach", contacts=reach) if reach
                 else p.say("privacy_contact_via_us"))
        s.blocks.append(Paragraph(tuple(runs)))
    if c.representative is not None:
        rep = c.representative
        s.blocks.append(Paragraph(p.say("representative", name=rep.name or "",
                                        contacts=ctx.contacts(rep))))
    return s


def complaint_section(ctx: Context) -> Section:
    """The right to complain to the supervisory authority, with its address and form (the
    form is on the authority's website, so the website is not given twice)."""
    p, a = ctx.p, ctx.j.authority
    s = Section("complaints", p.text("complaint_heading", authority=a.name))
    s.blocks.append(Paragraph(p.say("complaint_text", authority=a.name)))
    s.blocks.append(Bullets([
        p.say("complaint_address", address=a.address),
        p.say("complaint_form", url=url_run(a.complaint_url)),
    ]))
    return s


def security_section(ctx: Context) -> Section | None:
    """The manifest's security text as it is; None without one."""
    if ctx.m.security is None:
        return None
    s = Section("security", ctx.heading("security_heading"))
    s.blocks.append(Paragraph(as_runs(ctx.t(ctx.m.security))))
    return s


def changes_section(ctx: Context) -> Section:
    """How changes are announced: the notice period, e-mail, fresh consent, the date."""
    p, pc = ctx.p, ctx.m.policy_changes
    s = Section("changes", ctx.heading("changes_heading"))
    sentences = [p.say("changes_notice", days=p.amount("days", pc.notice_days))
                 if pc.notice_days else p.say("changes_plain")]
    if pc.email_on_material_change:
        sentences.append(p.say("changes_email"))
    # Fresh consent after a material change is only asked where consent is a basis.
    if any(x.legal_basis == "consent" for x in ctx.m.purposes):
        sentences.append(p.say("changes_consent"))
    if ctx.effective is not None:
        sentences.append(p.say("changes_effective", date=p.date(ctx.effective)))
    s.blocks.append(Paragraph(join_sentences(sentences)))
    return s
