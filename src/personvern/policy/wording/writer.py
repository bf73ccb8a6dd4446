"""The whole policy in one language: the title, the lead, the sections in their order.

Each section comes from its family's module; this one only puts them together and adds
the draft notice that lists what is missing.
"""

from __future__ import annotations

from personvern.policy.completeness import ELEMENTS
from personvern.policy.document import Document, as_runs
from personvern.policy.wording.commitments import commitments_section
from personvern.policy.wording.context import Context
from personvern.policy.wording.controller import (
    changes_section,
    complaint_section,
    controller_section,
    security_section,
)
from personvern.policy.wording.data import (
    categories_section,
    cookies_section,
    retention_section,
)
from personvern.policy.wording.purposes import purposes_section
from personvern.policy.wording.recipients import recipients_section
from personvern.policy.wording.rights import (
    automated_section,
    children_section,
    rights_section,
)
from personvern.policy.wording.summary import summary_section


def policy_document(ctx: Context) -> Document:
    """The :class:`Document` for ``ctx``'s manifest in its language."""
    p, m = ctx.p, ctx.m
    meta = []
    if ctx.version is not None:
        meta.append(p.text("meta_version", version=ctx.version))
    if ctx.effective is not None:
        meta.append(p.text("meta_effective", date=p.date(ctx.effective)))
    lead = [p.say("intro", controller=m.controller.name, service=m.service.name)]
    if m.service.description is not None:
        lead.append(as_runs(ctx.t(m.service.description)))
    lead.append(p.say("articles_note"))
    # Sections that have nothing to say for this manifest (no cookies, no children, no
    # security text) return None and are left out, also from the first layer's links.
    sections = [
        controller_section(ctx), purposes_section(ctx),
        categories_section(ctx),
        retention_section(ctx), recipients_section(ctx), cookies_section(ctx),
        children_section(ctx), automated_section(ctx), rights_section(ctx),
        complaint_section(ctx), security_section(ctx), commitments_section(ctx),
        changes_section(ctx),
    ]
    title = p.text("title", service=m.service.name)
    if ctx.draft:
        # A draft is marked in its title too, so every tab, print and copy says so.
        title = p.text("draft_mark_title", title=title)
    full = [s for s in sections if s is not None]
    # The first layer is the navigation too: it links every section (issue 12, item 7).
    doc = Document(ctx.lang, title, meta, lead, [summary_section(ctx, full), *full])
    if ctx.draft:
        doc.draft_mark = p.text("draft_mark")
        doc.draft_title = p.text("draft_title")
        doc.draft_lead = p.text("draft_lead" if ctx.missing else "draft_lead_checked")
        doc.draft_items = [
            p.text("draft_item", what=getattr(ELEMENTS[x.element], ctx.lang),
                   path=x.path, article=x.article)
            for x in ctx.missing
        ]
    return doc
