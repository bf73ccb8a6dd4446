"""The controller's declared commitments (``commitments:``): only what the manifest declares.

Each is said in the controller's own words when the manifest gives them, else in the
catalogue's wording for its kind. `personvern check` says what of each Personvern checks
(PV088), so the policy publishes the promise as the controller's, never as enforced.
"""

from __future__ import annotations

from personvern.policy.document import Bullets, Inline, Section, as_runs
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import period


def commitments_section(ctx: Context) -> Section | None:
    """The list of commitments; None when the manifest declares none."""
    p, m = ctx.p, ctx.m
    if not m.commitments:
        return None
    names = {x.id: ctx.t(x.name) for x in m.purposes}
    items: list[Inline] = []
    for c in m.commitments:
        if c.text is not None:
            items.append(as_runs(period(ctx.t(c.text))))
        else:
            purposes = ctx.names([ctx.quoted(names[x]) for x in c.purposes if x in names],
                                 lower=False)
            items.append(p.say(f"commitment.{c.kind}", purposes=purposes))
    return Section("commitments", ctx.heading("commitments_heading"),
                   [Bullets(items)])
