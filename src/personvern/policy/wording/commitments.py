"""The controller's declared commitments (``commitments:``): only what the manifest declares.

Each is said in the controller's own words when the manifest gives them, else in the
catalogue's wording for its kind. `personvern check` says what of each Personvern checks
(PV088), so the policy publishes the promise as the controller's, never as enforced.
"""

from __future__ import annotations

from personvern.manifest.model import Commitment
from personvern.policy.document import Bullets, Inline, Section, as_runs
from personvern.policy.wording.context import Context
from personvern.policy.wording.phrases import period


def commitments_section(ctx: Context) -> Section | None:
    """The list of commitments; None when the manifest declares none."""
    if not ctx.m.commitments:
        return None
    items: list[Inline] = [commitment_runs(ctx, c) for c in ctx.m.commitments]
    return Section("commitments", ctx.heading("commitments_heading"), [Bullets(items)])


def commitment_runs(ctx: Context, c: Commitment) -> Inline:
    """One commitment as a sentence: the controller's words, else the kind's wording."""
    if c.text is not None:
        return as_runs(period(ctx.t(c.text)))
    names = {x.id: ctx.t(x.name) for x in ctx.m.purposes}
    purposes = ctx.names([ctx.quoted(names[x]) for x in c.purposes if x in names], lower=False)
    return ctx.p.say(f"commitment.{c.kind}", purposes=purposes)
