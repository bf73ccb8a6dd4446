"""What the data is used for: the purposes, their legal bases and what each basis means.

A table of purposes (basis, storage), then each purpose in detail: its data, whose data,
storage, recipients, whether the person must provide the data (Art. 13(2)(e)) and the
basis explained: consent and how to withdraw it, the statute, the legitimate interest and
its balancing, marketing and the right to object.
"""

from __future__ import annotations

from personvern.manifest.model import LEGAL_BASIS_ARTICLE, Purpose
from personvern.policy.document import (
    Block,
    Facts,
    Inline,
    Paragraph,
    Section,
    Subsection,
    Table,
    as_runs,
    link,
)
from personvern.policy.wording.context import Context
from personvern.policy.wording.data import retention_of
from personvern.policy.wording.phrases import capitalise, join_sentences
from personvern.policy.wording.rights import how


def purposes_section(ctx: Context) -> Section:
    """The purposes table and one subsection per purpose."""
    p, m = ctx.p, ctx.m
    s = Section("purposes", ctx.heading("purposes_heading"))
    if not m.purposes:
        s.blocks.append(Paragraph(ctx.gap("purposes")))
        return s
    s.blocks.append(Paragraph(p.say("purposes_lead")))
    rows = [
        [(link(ctx.t(x.name), f"#purpose-{x.id}"),), basis_label(ctx, x),
         retention_of(ctx, x.retention)]
        for x in m.purposes
    ]
    s.blocks.append(Table(p.text("purposes_caption"), list(p.get("purposes_headers")), rows))
    # What consent means and how to withdraw it is said once, not under every purpose
    # (issue 12: seed 000's policy repeated it six times); each purpose adds only its own.
    if any(x.legal_basis == "consent" for x in m.purposes):
        s.blocks.append(Paragraph(join_sentences([
            p.say("consent_text_once"),
            p.say("consent_how_channels", channels=how(ctx, "withdraw_consent"))])))
    s.blocks += [purpose_detail(ctx, x) for x in m.purposes]
    return s


def basis_label(ctx: Context, purpose: Purpose) -> Inline:
    """The legal basis with its article: ``Samtykke (art. 6 nr. 1 bokstav a)``."""
    p, basis = ctx.p, purpose.legal_basis
    if basis is None:
        return ctx.gap("legal_basis")
    article = p.text("basis_article", letter=LEGAL_BASIS_ARTICLE[basis])
    name = p.text(f"basis.{basis}")
    statute = purpose.legal_obligation.statute if purpose.legal_obligation else None
    if basis == "legal_obligation" and statute:
        return p.say("basis_with_statute", basis=name, statute=statute, article=article)
    return p.say("basis_with_article", basis=name, article=article)


def required(ctx: Context, purpose: Purpose) -> Inline:
    """Art. 13(2)(e): whether the person must provide the data, and what if not."""
    basis, needed = purpose.legal_basis, purpose.necessary_for_service
    # What the manifest states wins; otherwise only a basis that decides it answers: the
    # contract basis means the contract needs the data (Art. 6(1)(b)), consent means it is
    # voluntary. A "required" that contradicts its basis is PV060, never two sentences.
    if purpose.required is not None:
        if basis == "contract":
            key = "contract_yes" if purpose.required else "plain_no"
        elif basis == "legal_obligation" and purpose.required:
            key = "law_yes"
        else:
            key = "plain_yes" if purpose.required else "plain_no"
    elif basis == "contract":
        key = "contract_yes"
    elif basis == "consent":
        key = "consent_needed" if needed else "consent_free"
    elif basis is None:
        return ctx.gap("legal_basis")
    else:
        # Art. 13(2)(e) is asked for by PV061; nothing is said the manifest does not say.
        return ()
    return ctx.p.say(f"required.{key}")


def purpose_detail(ctx: Context, x: Purpose) -> Subsection:
    """One purpose: its description, the facts about it, and its basis explained."""
    p = ctx.p
    blocks: list[Block] = []
    if x.description is not None:
        blocks.append(Paragraph(as_runs(ctx.t(x.description))))
    facts: list[tuple[str, Inline]] = [(p.text("fact_basis"), basis_label(ctx, x))]
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
    categories = [ctx.category_name(k) for k in x.categories]
    facts.append((p.text("fact_categories"),
                  as_runs(ctx.names(categories)) if categories else ctx.gap("categories")))
    if x.subjects:
        names = [ctx.t(ctx.subjects[i].name) for i in x.subjects if i in ctx.subjects]
        facts.append((p.text("fact_subjects"), as_runs(ctx.names(names))))
    facts.append((p.text("fact_retention"), retention_of(ctx, x.retention)))
    if x.recipients:
        names = [ctx.recipients[i].name for i in x.recipients if i in ctx.recipients]
        facts.append((p.text("fact_recipients"), as_runs(ctx.names(names, lower=False))))
    elif x.third_party_sharing:
        facts.append((p.text("fact_recipients"), ctx.gap("recipients")))
    if x.marketing is not None and x.marketing.channels:
        channels = [p.text(f"channels.{c}") for c in x.marketing.channels]
        facts.append((p.text("fact_marketing"), capitalise(as_runs(ctx.names(channels)))))
    if x.profiling:
        facts.append((p.text("fact_profiling"), p.say(
            "profiling_yes", section=link(ctx.heading("automated_heading"), "#automated"))))
    answer = required(ctx, x)
    if answer:
        facts.append((p.text("fact_required"), answer))
    blocks.append(Facts(facts))
    blocks += [Paragraph(runs) for runs in basis_text(ctx, x)]
    return Subsection(f"purpose-{x.id}", ctx.t(x.name), blocks)


def basis_text(ctx: Context, x: Purpose) -> list[Inline]:
    """The sentences that explain the basis: consent and withdrawal, the law, objection."""
    p = ctx.p
    rights = link(ctx.heading("rights_heading"), "#rights")
    out: list[Inline] = []
    if x.legal_basis == "consent":
        sentences = []
        c = x.consent
        if c is not None and c.bundled:
            sentences.append(p.say("consent_bundled"))
        if c is not None and c.explicit:
            sentences.append(p.say("consent_explicit"))
        if c is not None and c.expires_after is not None:
            sentences.append(p.say("consent_expires", duration=p.duration(c.expires_after)))
        if c is not None and c.on_withdrawal is not None:
            sentences.append(p.say("consent_on_withdrawal", what=ctx.t(c.on_withdrawal)))
        if c is not None and c.how_to_withdraw is not None:
            sentences.append(p.say("consent_how", how=ctx.t(c.how_to_withdraw)))
        if sentences:
            out.append(join_sentences(sentences))
    elif x.legal_basis == "contract":
        out.append(p.say("contract_text"))
    elif x.legal_basis == "legal_obligation":
        lo = x.legal_obligation
        sentences = [p.say("obligation_statute_text", statute=lo.statute) if lo
                     else p.say("obligation_text")]
        if lo is not None and lo.description is not None:
            sentences.append(as_runs(ctx.t(lo.description)))
        out.append(join_sentences(sentences))
    elif x.legal_basis == "vital_interests":
        out.append(p.say("vital_text"))
    elif x.legal_basis == "public_task":
        out.append(p.say("public_text"))
    elif x.legal_basis == "legitimate_interests":
        out.append(p.say("interest_text", rights=rights))
    mk = x.marketing
    if mk is not None:
        sentences = []
        # Where people have consented, the existing-customer exception is not relied on.
        if mk.existing_customer_exception and x.legal_basis != "consent":
            sentences.append(p.say("marketing_existing",
                                   statute=ctx.j.marketing_source.citation))
            if mk.similar_products_only:
                sentences.append(p.say("marketing_similar"))
            if mk.opt_out_at_collection:
                sentences.append(p.say("marketing_opt_out_collection"))
        else:
            sentences.append(p.say("marketing_objection"))
        if mk.opt_out_in_every_message:
            sentences.append(p.say("marketing_opt_out_message"))
        out.append(join_sentences(sentences))
    if x.third_party_sharing and x.recipients:
        out.append(p.say("sharing_text",
                         section=link(ctx.heading("recipients_heading"), "#recipients")))
    return out
