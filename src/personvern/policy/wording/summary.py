"""The first layer: who, what, why, your rights and how to complain, in a few lines.

Datatilsynet recommends a layered notice: a short first layer with the essentials, and
the full notice below it. Every line here is built from the same manifest fields as the
full sections it links to, so the two layers cannot disagree. The first layer is also the
navigation: its labels link their sections, and a last line links every other section, so
no separate table of contents repeats the headings (issue 12, item 7).
"""

from __future__ import annotations

from collections.abc import Sequence

from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.policy.document import Bullets, Inline, Run, Section, link
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import capitalise, lower_first
from personvern.rights.basis import RIGHTS, rights_given


def summary_section(ctx: Context, sections: Sequence[Section]) -> Section:
    """The first layer, each line linking to the section that says it in full, and a
    last line linking the ``sections`` no line links."""
    p, m = ctx.p, ctx.m
    s = Section("summary", ctx.heading("summary_heading"))
    items: list[Inline] = []

    def label(key: str, section: str) -> Run:
        # The label itself links to the section that says it in full.
        return link(p.text(f"summary_label.{key}"), f"#{section}")

    # The quick ways (e-mail, phone); the postal address and website are in the section
    # the label links to. Without either, every way there is.
    c = m.controller
    contacts = (ctx.contacts(None, email=c.email, phone=c.phone) if c.email or c.phone
                else ctx.controller_contacts())
    who = label("who", "controller")
    items.append(p.say("summary_who", label=who, controller=m.controller.name,
                       contacts=contacts) if contacts
                 else p.say("summary_who_plain", label=who, controller=m.controller.name))
    keys: list[str] = []
    for x in m.purposes:
        keys += [k for k in x.categories if k not in keys]
    if keys:
        names = summarised(ctx, keys)
        items.append(p.say("summary_what", label=label("what", "data"),
                           data=capitalise((Run(ctx.names(names)),))))
    if m.purposes:
        purposes = [ctx.t(x.name) for x in m.purposes]
        items.append(p.say("summary_why", label=label("why", "purposes"),
                           purposes=capitalise((Run(ctx.names(purposes)),))))
    given = rights_given(m.purposes)
    rights = [p.text(f"right.{r}") for r in RIGHTS if r in given]
    items.append(p.say("summary_rights", label=label("rights", "rights"),
                       rights=capitalise((Run(ctx.names(rights)),))))
    items.append(p.say("summary_complain", label=label("complain", "complaints"),
                       authority=ctx.j.authority.name))
    linked = {"controller", "data", "purposes", "rights", "complaints"}
    others = [link(x.heading if n == 0 else lower_first(x.heading), f"#{x.id}")
              for n, x in enumerate(y for y in sections if y.id not in linked)]
    if others:
        conj = f" {p.get('and')} "
        # "a, b og c og d" would be ambiguous when a heading has its own "og".
        if any(conj in r.text for r in others):
            joined: Inline = tuple(x for n, r in enumerate(others)
                                   for x in ((Run("; "), r) if n else (r,)))
        else:
            joined = p.join(others)
        items.append(p.say("summary_more", sections=joined))
    s.blocks.append(Bullets(items))
    return s


def summarised(ctx: Context, keys: Sequence[str]) -> list[str]:
    """The category names for the first layer: two or more built-in categories of one
    group (contact details, device information) named by the group; the full list is in
    the purposes table. What the author named, described or sourced, and a special
    category (Art. 9), is always named itself."""
    def group(key: str) -> str:
        head = ".".join(key.split(".")[:2])
        builtin, declared = BUILTIN_CATEGORIES.get(key), ctx.categories.get(key)
        plain = builtin is not None and not builtin.special and (declared is None or (
            declared.name is None and declared.description is None and declared.source is None
            and not declared.special))
        return head if plain and head != key and head in BUILTIN_CATEGORIES else key
    counts: dict[str, int] = {}
    for k in keys:
        counts[group(k)] = counts.get(group(k), 0) + 1
    names = [ctx.category_name(group(k) if counts[group(k)] > 1 else k) for k in keys]
    return list(dict.fromkeys(names))
