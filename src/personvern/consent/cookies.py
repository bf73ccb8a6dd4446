"""Cookie choices: which cookie categories a browser (or a signed-in subject) allows.

A choice is stored per category declared in the manifest's cookie list; ``necessary``
is always allowed (ekomloven § 3-15 exempts what the service cannot work without).
A Global Privacy Control signal refuses every other category, whatever the body says.
Choices expire: the manifest's ``cookie_consent.expires_after`` when declared, else
the configured number of months (6 by default); after that only ``necessary`` is
allowed until the browser chooses again. Rows are only ever added, never changed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.consent.decide import add_duration
from personvern.consent.service import ConsentContext
from personvern.consent.subjects import require_subject
from personvern.consent.tables import CookieChoice
from personvern.errors import ConfigurationError, InvalidInput, NotFound
from personvern.manifest.model import Manifest
from personvern.storage.models import ManifestVersion

NECESSARY = "necessary"
# The order categories are shown in; the manifest's Literal allows exactly these.
CATEGORY_ORDER = ("necessary", "preferences", "statistics", "marketing")
DEFAULT_CHOICE_MONTHS = 6
# Browser ids are ours (random, url-safe) or the banner's own; never anything personal.
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def categories_of(manifest: Manifest) -> list[str]:
    """The cookie categories the service uses, ``necessary`` always first."""
    used = {NECESSARY} | {c.category for c in manifest.cookies}
    return [c for c in CATEGORY_ORDER if c in used]


def choice_expiry(manifest: Manifest, at: datetime, months: int) -> datetime:
    """When a choice made at ``at`` lapses: the manifest's period if declared, else ``months``."""
    declared = manifest.cookie_consent.expires_after if manifest.cookie_consent else None
    if declared is not None and not declared.unlimited:
        return add_duration(at, declared)
    return at + relativedelta(months=months)


def new_browser_id() -> str:
    """A random anonymous browser id (32 url-safe characters)."""
    return secrets.token_urlsafe(24)


def check_browser_id(browser_id: str) -> str:
    """``browser_id`` if well-formed; InvalidInput otherwise."""
    if not _BROWSER_ID.match(browser_id):
        raise InvalidInput("a browser id is 16 to 64 characters of A-Z, a-z, 0-9, - and _")
    return browser_id


@dataclass(frozen=True)
class CookieState:
    """Which categories are allowed now for a browser, and the choice behind it."""

    browser_id: str
    subject_id: str | None
    allowed: dict[str, bool]
    gpc: bool
    chosen_at: datetime | None
    expires_at: datetime | None
    expired: bool
    policy_version: str | None
    current_policy: bool

    @property
    def needs_choice(self) -> bool:
        """Whether the banner should ask: no choice, an expired one, or a new policy."""
        return self.chosen_at is None or self.expired or not self.current_policy


def record_choice(
    session: Session,
    ctx: ConsentContext,
    at: datetime,
    choices: Mapping[str, bool],
    *,
    browser_id: str | None = None,
    subject_id: str | None = None,
    gpc: bool = False,
    months: int | None = None,
) -> CookieState:
    """Store a browser's choice; unknown categories are refused, missing ones are off.

    ``gpc`` (a ``Sec-GPC: 1`` request) refuses every non-necessary category.
    """
    known = categories_of(ctx.manifest)
    unknown = sorted(set(choices) - set(known))
    if unknown:
        raise InvalidInput(f"unknown cookie categor{'y' if len(unknown) == 1 else 'ies'} "
                           f"{', '.join(unknown)}; the manifest declares: {', '.join(known)}")
    if subject_id is not None:
        subject_id = require_subject(session, subject_id).id
    browser = new_browser_id() if browser_id is None else check_browser_id(browser_id)
    # Necessary cookies need no consent and cannot be refused; a "reject all" that
    # sends necessary=false is taken as a refusal of the rest.
    allowed = {c: c == NECESSARY or (not gpc and bool(choices.get(c, False))) for c in known}
    row = CookieChoice(
        browser_id=browser, subject_id=subject_id, choices=allowed, gpc=gpc,
        policy_version=ctx.policy_version, at=at,
        expires_at=choice_expiry(ctx.manifest, at, _months(months)),
    )
    session.add(row)
    session.flush()
    return _state(ctx, row, at, gpc)


def current_choice(
    session: Session, ctx: ConsentContext, at: datetime, browser_id: str, *, gpc: bool = False
) -> CookieState:
    """What ``browser_id`` allows at ``at``; only ``necessary`` without a live choice.

    ``gpc`` is the signal on the asking request: it refuses non-necessary categories now.
    """
    check_browser_id(browser_id)
    row = session.scalars(
        select(CookieChoice).where(CookieChoice.browser_id == browser_id, CookieChoice.at <= at)
        .order_by(CookieChoice.at.desc(), CookieChoice.id.desc()).limit(1)
    ).first()
    if row is None:
        allowed = {c: c == NECESSARY for c in categories_of(ctx.manifest)}
        return CookieState(browser_id, None, allowed, gpc, None, None, False, None, False)
    return _state(ctx, row, at, gpc)


def _state(ctx: ConsentContext, row: CookieChoice, at: datetime, gpc_now: bool) -> CookieState:
    expired = row.expires_at <= at
    gpc = gpc_now or row.gpc
    # Categories the manifest added since the choice was made were never offered: off.
    allowed = {
        c: c == NECESSARY or (not expired and not gpc and bool(row.choices.get(c, False)))
        for c in categories_of(ctx.manifest)
    }
    return CookieState(
        browser_id=row.browser_id, subject_id=row.subject_id, allowed=allowed, gpc=gpc,
        chosen_at=row.at, expires_at=row.expires_at, expired=expired,
        policy_version=row.policy_version,
        current_policy=row.policy_version == ctx.policy_version,
    )


def _months(months: int | None) -> int:
    if months is None:
        return DEFAULT_CHOICE_MONTHS
    if months < 1:
        raise ConfigurationError(f"a cookie choice must last at least a month, not {months}")
    return months


def gpc_last_update(session: Session, ctx: ConsentContext) -> date:
    """For ``/.well-known/gpc.json``: the day the policy in force was first loaded."""
    loaded = session.scalars(
        select(ManifestVersion.loaded_at).where(ManifestVersion.sha256 == ctx.policy_version)
    ).first()
    if loaded is None:
        raise NotFound(f"policy version {ctx.policy_version} is not recorded")
    return loaded.date()
