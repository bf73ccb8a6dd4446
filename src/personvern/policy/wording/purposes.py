"""What the data is used for: the purposes, their legal bases and what each basis means.

One table holds what every purpose has (what we do, its data, its basis, whether the
person must provide the data, Art. 13(2)(e)); what a legal basis means is said once for
all the purposes resting on it; a statement several purposes share (the same way to
withdraw consent, the same consequence of withdrawing it) is said once with the purposes
it concerns (issue 12: seed 000's policy repeated its consent paragraph six times). What
remains of a purpose (legitimate interest, Art. 9 condition, its own statements) is its
own subsection, so a purpose's name is not repeated as a heading above one sentence
(issue 12, item 7). The storage periods are in the retention section, with the purposes each
rule applies to, so they are not repeated here.
"""

from __future__ import annotations

from personvern.manifest.model import LEGAL_BASIS_ARTICLE, Purpose
from personvern.policy.document import (
    Block,
    Bullets,
    Facts,
    Inline,
    Paragraph,
    Run,
    Section,
    Subsection,
    Table,
    as_runs,
    link,
)
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import capitalise, join_sentences
from personvern.policy.wording.shared import shared_statements

# The order in which the bases are explained, as Art. 6(1) lists them.
BASES = ("consent", "contract", "legal_obligation", "vital_interests", "public_task",
         "legitimate_interests")


def purposes_section(ctx: Context) -> Section:
    """The purposes table, each basis explained once, shared statements, then each purpose."""
    p, m = ctx.p, ctx.m
    s = Section("purposes", ctx.heading("purposes_heading"))
    if not m.purposes:
        s.blocks.append(Paragraph(ctx.gap("purposes")))
        return s
    own = {x.id: statements(ctx, x) for x in m.purposes}
    alone, shared = shared_statements([(x.id, own[x.id]) for x in m.purposes])
    details = {x.id: purpose_detail(ctx, x, alone.get(x.id, [])) for x in m.purposes}
    rows = []
    for x in m.purposes:
        name = (link(ctx.t(x.name), f"#purpose-{x.id}") if details[x.id] is not None
                else Run(ctx.t(x.name)))
        categories = [ctx.category_name(k) for k in x.categories]
        what = as_runs(ctx.t(x.description)) if x.description is not None else ()
        rows.append([(name,), what,
                     as_runs(ctx.names(categories)) if categories else ctx.gap("categories"),
                     basis_label(ctx, x, article=False), required(ctx, x)])
    headers = list(p.get("purposes_headers"))
    if not any(x.description is not None for x in m.purposes):
        headers, rows = headers[:1] + headers[2:], [row[:1] + row[2:] for row in rows]
    s.blocks.append(Table(p.text("purposes_caption"), headers, rows))
    # The statements shared by the same purposes are one item; those every purpose on a
    # basis shares join that basis's explanation.
    by_owners: dict[tuple[str, ...], list[Inline]] = {}
    for statement, ids in shared:
        by_owners.setdefault(tuple(ids), []).append(statement)
    explained = []
    for b in BASES:
        on_basis = tuple(x.id for x in m.purposes if x.legal_basis == b)
        if on_basis:
            explained.append(join_sentences(
                [basis_explained(ctx, b), *by_owners.pop(on_basis, [])]))
    if explained:
        s.blocks.append(Bullets(explained))
    if by_owners:
        s.blocks.append(Paragraph(p.say("shared_lead")))
        s.blocks.append(Bullets([
            (Run(ctx.purpose_names(ids), strong=True), Run(": "), *join_sentences(group))
            for ids, group in by_owners.items()]))
    s.blocks += [d for d in details.values() if d is not None]
    return s


def basis_label(ctx: Context, purpose: Purpose, *, article: bool = True) -> Inline:
    """The legal basis with its article: ``Samtykke (art. 6 nr. 1 bokstav a)``; without
    the article in the table, whose explanation of each basis names it once."""
    p, basis = ctx.p, purpose.legal_basis
    if basis is None:
        return ctx.gap("legal_basis")
    name = p.text(f"basis.{basis}")
    statute = purpose.legal_obligation.statute if purpose.legal_obligation else None
    if basis == "legal_obligation" and statute:
        name = p.text("basis_with_statute", basis=name, statute=statute)
    if not article:
        return as_runs(name)
    return p.say("basis_with_article", basis=name, article=basis_article(ctx, basis))


def basis_article(ctx: Context, basis: str) -> str:
    """``art. 6 nr. 1 bokstav a``."""
    return ctx.p.text("basis_article", letter=LEGAL_BASIS_ARTICLE[basis])


def basis_explained(ctx: Context, basis: str) -> Inline:
    """What ``basis`` means for the person, said once for every purpose resting on it."""
    p = ctx.p
    rights = link(ctx.heading("rights_heading"), "#rights")
    name = p.text("basis_with_article", basis=p.text(f"basis.{basis}"),
                  article=basis_article(ctx, basis))
    key = f"basis_text.{basis}"
    if basis == "contract" and contract_consequence_shared(ctx):
        key = "basis_text.contract_required"
    return (Run(name, strong=True), Run(": "), *p.say(key, rights=rights))


def contract_consequence_shared(ctx: Context) -> bool:
    """Whether every purpose on a contract needs the data, so that what follows from not
    giving it (Art. 13(2)(e)) is said once with the basis, not in every row."""
    on_contract = [x for x in ctx.m.purposes if x.legal_basis == "contract"]
    return bool(on_contract) and all(x.required is not False for x in on_contract)


def required(ctx: Context, purpose: Purpose) -> Inline:
    """Art. 13(2)(e): whether the person must provide the data, and what if not."""
    basis, needed = purpose.legal_basis, purpose.necessary_for_service
    # What the manifest states wins; otherwise only a basis that decides it answers: the
    # contract basis means the contract needs the data (Art. 6(1)(b)), consent means it is
    # voluntary. A "required" that contradicts its basis is PV060, never two sentences.
    if purpose.required is not None:
        if basis == "contract":
            key = ("plain_no" if not purpose.required else
                   "contract_yes_short" if contract_consequence_shared(ctx) else "contract_yes")
        elif basis == "legal_obligation" and purpose.required:
            key = "law_yes"
        else:
            key = "plain_yes" if purpose.required else "plain_no"
    elif basis == "contract":
        key = "contract_yes_short" if contract_consequence_shared(ctx) else "contract_yes"
    elif basis == "consent":
        key = "consent_needed" if needed else "consent_free"
    elif basis is None:
        # The basis column of the same row already shows the gap.
        return ()
    else:
        # Art. 13(2)(e) is asked for by PV061; nothing is said the manifest does not say.
        return ()
    return ctx.p.say(f"required.{key}")


def statements(ctx: Context, x: Purpose) -> list[Inline]:
    """The sentences about one purpose beyond its table row: its consent, its statute's
    description, its marketing. Several purposes may share one; it is then said once."""
    p = ctx.p
    out: list[Inline] = []
    c = x.consent if x.legal_basis == "consent" else None
    if c is not None:
        if c.bundled:
            out.append(p.say("consent_bundled"))
        if c.explicit:
            out.append(p.say("consent_explicit"))
        if c.expires_after is not None:
            out.append(p.say("consent_expires", duration=p.duration(c.expires_after)))
        if c.on_withdrawal is not None:
            out.append(p.say("consent_on_withdrawal", what=ctx.t(c.on_withdrawal)))
        if c.how_to_withdraw is not None:
            out.append(p.say("consent_how", how=ctx.t(c.how_to_withdraw)))
    lo = x.legal_obligation if x.legal_basis == "legal_obligation" else None
    if lo is not None and lo.description is not None:
        out.append(as_runs(ctx.t(lo.description)))
    mk = x.marketing
    if mk is not None:
        # Where people have consented, the existing-customer exception is not relied on.
        if mk.existing_customer_exception and x.legal_basis != "consent":
            out.append(p.say("marketing_existing", statute=ctx.j.marketing_source.citation))
            if mk.similar_products_only:
                out.append(p.say("marketing_similar"))
            if mk.opt_out_at_collection:
                out.append(p.say("marketing_opt_out_collection"))
        # The right to object to direct marketing (Art. 21(2)-(3)) is said once, under
        # the rights, which list it whenever a purpose markets.
        if mk.opt_out_in_every_message:
            out.append(p.say("marketing_opt_out_message"))
    return out


def purpose_detail(ctx: Context, x: Purpose, own: list[Inline]) -> Subsection | None:
    """One purpose's own subsection: the facts only it has, and its own statements; None
    when the table row says everything there is."""
    p = ctx.p
    blocks: list[Block] = []
    facts: list[tuple[str, Inline]] = []
    if x.legal_basis == "legitimate_interests":
        li = x.legitimate_interest
        facts.append((p.text("fact_interest"),
                      as_runs(ctx.t(li.interest)) if li else ctx.gap("legitimate_interest")))
        if li is not None and li.balancing is not None:
            facts.append((p.text("fact_balancing"), as_runs(ctx.t(li.balancing))))
    if x.special_categories is not None:
        letter, name = p.get(f"art9.{x.special_categories.condition}")
        facts.append((p.text("fact_special"),
                      p.say("special_condition", letter=letter, name=name)))
    # A gap only for this purpose's own missing condition (loc is ("purposes", index, ...)).
    elif any(e.element == "special_condition" and e.loc[1:2] == (ctx.m.purposes.index(x),)
             for e in ctx.missing):
        facts.append((p.text("fact_special"), ctx.gap("special_condition")))
    # Who receives it is in the recipients table, by purpose; only a gap is shown here.
    if x.third_party_sharing and not x.recipients:
        facts.append((p.text("fact_recipients"), ctx.gap("recipients")))
    if x.marketing is not None and x.marketing.channels:
        channels = [p.text(f"channels.{c}") for c in x.marketing.channels]
        facts.append((p.text("fact_marketing"), capitalise(as_runs(ctx.names(channels)))))
    if facts:
        blocks.append(Facts(facts))
    if own:
        blocks.append(Paragraph(join_sentences(own)))
    if not blocks:
        return None
    return Subsection(f"purpose-{x.id}", ctx.t(x.name), blocks)

