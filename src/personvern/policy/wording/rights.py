"""The person's rights and what protects them: children, automated decisions, the rights.

The rights listed are those the legal bases give (:func:`personvern.rights.basis.rights_given`),
then the ways to use them, each said once; objection is worded by what it does
(:func:`personvern.rights.basis.objection`); the age of consent comes from
:func:`personvern.rights.acting.consent_age`. :func:`channel_runs` is also used by the diffs.
"""

from __future__ import annotations

from personvern.manifest.model import Channel
from personvern.policy.document import (
    Block,
    Bullets,
    Facts,
    Inline,
    Paragraph,
    Run,
    Section,
    Value,
    as_runs,
    link,
    tel_href,
    url_run,
)
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import join_sentences
from personvern.rights.acting import consent_age
from personvern.rights.basis import RIGHTS, Objection, objection, rights_given


def children_section(ctx: Context) -> Section | None:
    """Children: the age of consent by law, and a guardian's consent if promised; None without."""
    p, m = ctx.p, ctx.m
    if not (m.children.present or any(x.includes_children for x in m.subjects)):
        return None
    age = consent_age(m, ctx.j)
    s = Section("children", ctx.heading("children_heading"))
    sentences = [p.say("children_present"),
                 p.say("children_law", age=str(age),
                       statute=ctx.j.child_consent_source.citation)]
    # What the law then asks, or what the manifest promises to do about it: not both.
    sentences.append(p.say("children_guardian") if m.children.guardian_consent
                     else p.say("children_law_guardian"))
    if m.children.verification is not None:
        sentences.append(p.say("children_verification",
                               text=ctx.t(m.children.verification)))
    s.blocks.append(Paragraph(join_sentences(sentences)))
    # As rights.acting lets a guardian act: requests until majority (consent until ``age``
    # is said by children_law above).
    s.blocks.append(Paragraph(p.say("children_rights", majority=str(ctx.j.age_of_majority))))
    return s


def automated_section(ctx: Context) -> Section:
    """Significant automated decisions (Art. 22) with their logic, and profiling.

    "We make no such decisions" and "we do not profile" are said only when the manifest
    states them (``no_automated_decisions``, ``no_profiling``): a purpose without
    ``profiling`` is not a statement that there is none. The Art. 22 right is the law's,
    so it is always stated.
    """
    p, m = ctx.p, ctx.m
    s = Section("automated", ctx.heading("automated_heading"))
    deciding = [x for x in m.purposes
                if x.automated_decisions and x.automated_decisions.legal_or_similar_effect]
    for x in deciding:
        ad = x.automated_decisions
        assert ad is not None
        logic: Inline = as_runs(ctx.t(ad.logic)) if ad.logic else ctx.gap("automated_logic")
        sentences = [p.say("automated_yes", purpose=ctx.t(x.name), logic=logic)]
        if ad.human_review:
            sentences.append(p.say("automated_review"))
        s.blocks.append(Paragraph(join_sentences(sentences)))
    if not deciding:
        none = [p.say("automated_none")] if m.no_automated_decisions is True else []
        s.blocks.append(Paragraph(join_sentences([*none, p.say("automated_right")])))
    profiling = [ctx.quoted(ctx.t(x.name)) for x in m.purposes if x.profiling]
    if profiling:
        s.blocks.append(Paragraph(p.say("profiling_used", purposes=ctx.names(profiling))))
    elif m.no_profiling is True:
        s.blocks.append(Paragraph(p.say("profiling_none")))
    return s


def rights_section(ctx: Context) -> Section:
    """Each right the bases give, how to use them, the deadline, verification and GPC.

    The rights are one list; the ways to use them follow once, grouped by the rights that
    share the same ways (issue 12: "how to do it" was repeated under every right).
    """
    p, m = ctx.p, ctx.m
    s = Section("rights", ctx.heading("rights_heading"))
    s.blocks.append(Paragraph(p.say("rights_lead")))
    given = rights_given(m.purposes)
    bases = {x.legal_basis for x in m.purposes}
    # A purpose without a basis is objectable (rights.basis) but names no basis here: the
    # policy says "based on legitimate interests" only of purposes that state it.
    objections = {o for x in m.purposes
                  if (o := objection(x)) is not Objection.WEIGHED or x.legal_basis is not None}
    facts: list[tuple[str, Inline]] = []
    ways: dict[str, list[int]] = {}
    for right in RIGHTS:
        if right not in given:
            continue
        sentences: list[Inline] = []
        if right == "objection":
            if Objection.WEIGHED in objections:
                # Art. 21(1) names both bases; the policy names those its purposes use.
                public = any(x.legal_basis == "public_task" for x in m.purposes
                             if objection(x) is Objection.WEIGHED)
                sentences.append(p.say("right_text.objection_public" if public
                                       else "right_text.objection_interest"))
            if Objection.ABSOLUTE in objections:
                sentences.append(p.say("right_text.objection_marketing"))
            if not sentences:
                continue
        else:
            sentences.append(p.say(f"right_text.{right}"))
        # Art. 17(3)(b): what the law requires us to keep is not erased on request.
        if right == "erasure" and "legal_obligation" in bases:
            sentences.append(p.say("erasure_kept"))
        facts.append((p.text(f"right.{right}"), join_sentences(sentences)))
        ways[right] = serving(ctx, right)
    s.blocks.append(Facts(facts))
    s.blocks += ways_blocks(ctx, ways)
    d = m.rights.deadline
    if d.months is not None:
        deadline = p.amount("months", d.months)
        s.blocks.append(Paragraph(p.say(
            "deadline_month" if d.months == ctx.j.response_months else "deadline_other",
            deadline=deadline)))
    else:
        unit, n = (("working_days", d.working_days) if d.working_days is not None
                   else ("virkedager", d.virkedager) if d.virkedager is not None
                   else ("days", d.days or 0))
        s.blocks.append(Paragraph(p.say("deadline_other", deadline=p.amount(unit, n))))
    if m.rights.identity_verification is not None:
        s.blocks.append(Paragraph(p.say(
            "verification", text=ctx.t(m.rights.identity_verification))))
    # The signal is promised only where the manifest says the service honours it, and
    # there is something it refuses: marketing, sharing or cookies that are not necessary.
    if m.rights.gpc is True and (any(x.marketing or x.third_party_sharing for x in m.purposes)
                                 or any(c.category != "necessary" for c in m.cookies)):
        s.blocks.append(Paragraph(p.say("gpc")))
    return s


def serving(ctx: Context, right: str) -> list[int]:
    """The channels (by their place in the manifest) that serve ``right``; -1 stands for
    our contact details, used where no channel serves it."""
    found = [n for n, ch in enumerate(ctx.m.rights.channels)
             if ch.rights is None or right in ch.rights]
    return found or [-1]


def ways_blocks(ctx: Context, ways: dict[str, list[int]]) -> list[Block]:
    """How to use the rights, each way said once: the ways every right shares in one
    sentence, then each other way with the rights it serves (issue 12, item 7)."""
    p = ctx.p
    channels = ctx.m.rights.channels

    def words(n: int) -> Inline:
        if n >= 0:
            return channel_runs(ctx, channels[n])
        contacts = ctx.controller_contacts()
        return p.say("contact_us", contacts=contacts) if contacts \
            else ctx.gap("controller_contact")

    common = [n for n in next(iter(ways.values()), []) if all(n in w for w in ways.values())]
    if common:
        out: list[Block] = [Paragraph(p.say(
            "rights_how_all", channels=p.join([words(n) for n in common], "or")))]
        others = sorted({n for w in ways.values() for n in w} - set(common))
        out += [Paragraph(p.say("rights_how_also", rights=ctx.names(
                    [p.text(f"right.{r}") for r, w in ways.items() if n in w]).lower(),
                    channels=words(n)))
                for n in others]
        return out
    # No way serves every right: each set of ways once, with the rights that use it.
    groups: dict[tuple[int, ...], list[str]] = {}
    for right, w in ways.items():
        groups.setdefault(tuple(w), []).append(p.text(f"right.{right}"))
    return [Paragraph(p.say("rights_how_lead")), Bullets([
        (Run(ctx.names(names), strong=True), Run(": "),
         *p.join([words(n) for n in key], "or"))
        for key, names in groups.items()])]


def channel_runs(ctx: Context, ch: Channel) -> Inline:
    """One channel in words: ``send e-post til x``, ``bruk appen``, ``skriv til <adresse>``."""
    p, address = ctx.p, ch.address
    if ch.label is not None and ch.type not in {"email", "phone"}:
        # A place in the app or a form, named in the reader's language.
        return p.say(f"channel.{ch.type}", address=ctx.t(ch.label))
    if ch.type == "email" and address:
        return p.say("channel.email", address=link(address, f"mailto:{address}"))
    if ch.type == "phone" and address:
        return p.say("channel.phone", address=link(address, tel_href(address)))
    if address:
        value: Value = url_run(address) if address.startswith(("http://", "https://")) \
            else address
        return p.say(f"channel.{ch.type}", address=value)
    if ch.type in {"portal", "in_app", "web_form"}:
        return p.say(f"channel.{ch.type}_default")
    return p.say("contact_us", contacts=ctx.controller_contacts())
