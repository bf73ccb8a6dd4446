"""The first layer: who, what, why, your rights and how to complain, in a few lines.

Datatilsynet recommends a layered notice: a short first layer with the essentials, and
the full notice below it. Every line here is built from the same manifest fields as the
full sections it links to, so the two layers cannot disagree.
"""

from __future__ import annotations

from personvern.policy.document import Bullets, Inline, Paragraph, Run, Section, link
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import capitalise
from personvern.rights.basis import RIGHTS, rights_given


def summary_section(ctx: Context) -> Section:
    """The first layer, each line linking to the section that says it in full."""
    p, m = ctx.p, ctx.m
    s = Section("summary", ctx.heading("summary_heading"))
    items: list[Inline] = []
    contacts = ctx.controller_contacts()
    more = link(ctx.heading("controller_heading"), "#controller")
    items.append(p.say("summary_who", controller=m.controller.name, contacts=contacts,
                       more=more) if contacts
                 else p.say("summary_who_plain", controller=m.controller.name, more=more))
    keys: list[str] = []
    for x in m.purposes:
        keys += [k for k in x.categories if k not in keys]
    if keys:
        names = [ctx.category_name(k) for k in keys]
        items.append(p.say("summary_what", data=capitalise((Run(ctx.names(names)),)),
                           more=link(ctx.heading("categories_heading"), "#data")))
    if m.purposes:
        purposes = [ctx.t(x.name) for x in m.purposes]
        items.append(p.say("summary_why", purposes=capitalise((Run(ctx.names(purposes)),)),
                           more=link(ctx.heading("purposes_heading"), "#purposes")))
    given = rights_given(m.purposes)
    rights = [p.text(f"right.{r}") for r in RIGHTS if r in given]
    items.append(p.say("summary_rights", rights=capitalise((Run(ctx.names(rights)),)),
                       more=link(ctx.heading("rights_heading"), "#rights")))
    a = ctx.j.authority
    items.append(p.say("summary_complain", authority=a.name,
                       more=link(p.text("complaint_heading", authority=a.name),
                                 "#complaints")))
    s.blocks += [Paragraph(p.say("summary_lead")), Bullets(items)]
    return s
