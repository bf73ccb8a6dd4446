"""What data is processed, where it comes from, how long it is kept, and the cookies.

The categories of data with their sources (Art. 14), whose data it is, and the retention
rules in words ("slettes to år etter siste aktivitet"), with their exceptions and the
warnings sent before inactivity deletion; then the cookies and pixels, and how consent to
them is asked and changed. :func:`rule_phrase` is also used by the diffs.
"""

from __future__ import annotations

from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.model import Cookie, RetentionRule
from personvern.manifest.types import Duration
from personvern.policy.document import (
    Bullets,
    Inline,
    Paragraph,
    Run,
    Section,
    Table,
    as_runs,
)
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import capitalise, join_sentences, period


def categories_section(ctx: Context) -> Section:
    """The categories of data, their sources, and the groups of people they concern."""
    p, m = ctx.p, ctx.m
    s = Section("data", ctx.heading("categories_heading"))
    # In the order the purposes use them, then those declared but not used by any.
    keys: list[str] = []
    for x in m.purposes:
        keys += [k for k in x.categories if k not in keys]
    used = set(keys)
    keys += [c.id for c in m.categories if c.id not in keys]
    rows = []
    defaults = 0
    named = False  # a category the purposes table names, with nothing more to say here
    for key in keys:
        declared = ctx.categories.get(key)
        detail = ctx.t(declared.description) if declared else ""
        builtin = BUILTIN_CATEGORIES.get(key)
        special = declared.special if declared and declared.special is not None else (
            builtin.special if builtin else False)
        if special:
            detail = f"{detail} {p.text('special_mark')}".strip()
        source = ctx.t(declared.source) if declared and declared.source else ""
        if key in used and not detail and not source:
            # Named in the purposes table already; a row with only its name says it twice.
            named = True
            continue
        # Where the data comes from (Art. 14(2)(f)) is said once for every category that
        # comes from the person, and named in the row only for those that do not.
        defaults += not source
        rows.append([as_runs(ctx.category_name(key)), as_runs(detail), as_runs(source)])
    if rows:
        headers = list(p.get("categories_headers"))
        if defaults == len(rows):
            lead, headers, rows = "categories_lead_you", headers[:2], [r[:2] for r in rows]
        else:
            lead = "categories_lead_mixed" if defaults or named else "categories_lead"
        s.blocks.append(Paragraph(p.say(lead)))
        s.blocks.append(Table(p.text("categories_caption"), headers, rows))
    elif named:
        s.blocks.append(Paragraph(p.say("categories_lead_you")))
    else:
        s.blocks.append(Paragraph(ctx.gap("categories")))
    if m.subjects:
        s.blocks.append(Paragraph(p.say("subjects_lead")))
        items = []
        # Which purposes concern a group is said with the group, and only when not all of
        # those that name their groups do (once here, not under every purpose).
        naming = [x for x in m.purposes if x.subjects]
        for subj in m.subjects:
            runs: list[Run] = [Run(ctx.t(subj.name), strong=True)]
            if subj.description is not None:
                runs.append(Run(f": {ctx.t(subj.description)}"))
            concerned = [x.id for x in naming if subj.id in x.subjects]
            if concerned and len(concerned) < len(naming):
                runs.append(Run(" " + p.text("subject_purposes", purposes=ctx.purpose_names(
                    concerned, capital=False))))
            items.append(tuple(runs))
        s.blocks.append(Bullets(items))
    return s


def retention_section(ctx: Context) -> Section:
    """A table of the retention rules in words, the purposes using each, and their notes."""
    p, m = ctx.p, ctx.m
    s = Section("retention", ctx.heading("retention_heading"))
    # "The first rule that applies" is said only where a purpose has more than one.
    if any(len(x.retention) > 1 for x in m.purposes):
        s.blocks.append(Paragraph(p.say("retention_lead")))
    rows = []
    for r in m.retention:
        users = [x.id for x in m.purposes if r.id in x.retention]
        notes = [ctx.t(r.description)] if r.description else []
        notes += [p.text("retention_exception", text=ctx.t(c.description))
                  for c in r.conditions]
        if r.notice_before is not None:
            notes.append(p.text("retention_notice", duration=p.duration(r.notice_before)))
        rows.append([capitalise(as_runs(rule_phrase(ctx, r))), as_runs(ctx.purpose_names(users)),
                     as_runs(" ".join(period(n) for n in notes))])
    for x in m.purposes:
        if not x.retention:
            rows.append([ctx.gap("retention"), as_runs(ctx.t(x.name)), ()])
    if rows:
        headers = list(p.get("retention_headers"))
        if not any(r[2] for r in rows):
            # A column of empty cells says nothing.
            headers, rows = headers[:2], [r[:2] for r in rows]
        s.blocks.append(Table(p.text("retention_caption"), headers, rows))
    return s


def rule_phrase(ctx: Context, r: RetentionRule) -> str:
    """One rule in words: ``slettes to år etter siste aktivitet``."""
    p = ctx.p
    action = p.text(f"action.{r.action}")
    if r.duration.unlimited:
        return p.text("retention_unlimited")
    withdrawal = p.amount("days", ctx.j.withdrawal_period_days)
    zero = r.duration == Duration()
    if r.trigger == "purpose_fulfilled" and r.criterion is not None:
        # The criterion the author names, never "when we no longer need it" (PV040).
        phrase = p.text("retention_criterion", action=action, criterion=ctx.t(r.criterion))
    elif zero:
        phrase = p.text("retention_when", action=action,
                        trigger=p.text(f"trigger_when.{r.trigger}"))
        if r.plus_withdrawal_period:
            phrase += " " + p.text("retention_withdrawal", days=withdrawal)
    else:
        phrase = p.text("retention_after", action=action, duration=p.duration(r.duration),
                        trigger=p.text(f"trigger_after.{r.trigger}"))
        if r.plus_withdrawal_period:
            phrase += " " + p.text("retention_withdrawal_after", days=withdrawal)
    if r.statute:
        phrase += " " + p.text("retention_statute", statute=r.statute)
    return phrase


def cookies_section(ctx: Context) -> Section | None:
    """The cookies and pixels, and how consent to them is asked and changed; None without."""
    p, m = ctx.p, ctx.m
    if not m.cookies:
        return None
    s = Section("cookies", ctx.heading("cookies_heading"))
    s.blocks.append(Paragraph(p.say("cookies_lead")))
    # A lifetime no cookie states is said once, not as "not stated" in every row (PV032).
    lifetimes = any(c.lifetime is not None for c in m.cookies)
    # Cookies alike in all but name and provider (three ad platforms' pixels) share a row,
    # as identical recipients do: the same purpose is said once.
    groups: dict[tuple[str, bool, str, str], list[Cookie]] = {}
    for c in m.cookies:
        if c.lifetime == "session":
            lifetime = p.text("cookie_session")
        elif c.lifetime is None:
            lifetime = p.text("not_stated")
        else:
            lifetime = capitalise(as_runs(p.duration(c.lifetime)))[0].text
        groups.setdefault((c.category, c.third_party, ctx.t(c.purpose), lifetime), []).append(c)
    rows = []
    for (category, third_party, purpose, lifetime), alike in groups.items():
        providers = ctx.names(list(dict.fromkeys(c.provider for c in alike)), lower=False)
        provider = p.text("third_party", provider=providers) if third_party else providers
        rows.append([as_runs(ctx.names([ctx.t(c.name) for c in alike], lower=False)),
                     as_runs(provider), as_runs(p.text(f"cookie_category.{category}")),
                     as_runs(purpose), as_runs(lifetime)][:5 if lifetimes else 4])
    s.blocks.append(Table(p.text("cookies_caption"),
                          list(p.get("cookies_headers"))[:5 if lifetimes else 4], rows))
    sentences: list[Inline] = [] if lifetimes else [p.say("cookies_lifetime_unknown")]
    if any(c.category == "necessary" for c in m.cookies):
        sentences.append(p.say("cookies_necessary", statute=ctx.j.cookie_source.citation))
    cc = m.cookie_consent
    if any(c.category != "necessary" for c in m.cookies) and cc is not None:
        # "the others" only makes sense when some cookies need no consent.
        group = "cookies_consent" if any(c.category == "necessary" for c in m.cookies) \
            else "cookies_consent_all"
        sentences.append(p.say(f"{group}.{cc.mechanism}"))
        # Only what the author states: neither property has a default (PV017 asks for them).
        if cc.mechanism in {"banner", "checkboxes"} and cc.reject_as_easy_as_accept is True:
            sentences.append(p.say("cookies_easy"))
        if cc.withdraw is not None:
            sentences.append(p.say(f"cookies_withdraw.{cc.withdraw}"))
        if cc.expires_after is not None:
            sentences.append(p.say("cookies_expires",
                                   duration=p.duration(cc.expires_after)))
    if sentences:
        s.blocks.append(Paragraph(join_sentences(sentences)))
    return s
