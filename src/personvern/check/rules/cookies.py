"""Cookies and similar technologies: ekomloven § 3-15 and GDPR Art. 7(3)."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest


@rule("PV016", "cookies-without-consent", Severity.ERROR,
      "Non-necessary cookies without consent", "ekomloven § 3-15")
def cookies_without_consent(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Storing or reading information on the user's device needs consent to the
    GDPR standard, except what is strictly necessary for the service asked for.
    Browser settings are not consent."""
    optional = [(i, c) for i, c in enumerate(m.cookies) if c.category != "necessary"]
    mechanism = m.cookie_consent.mechanism if m.cookie_consent else "none"
    if optional and mechanism in {"none", "browser_settings"}:
        i = optional[0][0]
        names = ", ".join(sorted({c.name.get('en') for _, c in optional}))
        yield ("cookies", i, "category"), (
            f"non-necessary cookies ({names}) are set without asking for consent "
            f"(mechanism: {mechanism}); {j.cookie_source.citation} requires consent"
        )


@rule("PV017", "cookie-choice-not-symmetric", Severity.WARNING,
      "Refusing or withdrawing cookie consent is harder than giving it",
      "ekomloven § 3-15, GDPR Art. 7(3)")
def cookie_choice_not_symmetric(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Refusing must be as easy as accepting, and withdrawing as easy as giving.
    Sending people to their browser settings to withdraw is not as easy as the
    checkbox that gave consent."""
    cc = m.cookie_consent
    if cc is None or cc.mechanism in {"none", "browser_settings"}:
        return
    if cc.withdraw == "browser_settings":
        yield ("cookie_consent", "withdraw"), (
            "consent is given on the site but can only be withdrawn in the browser settings; "
            "withdrawing must be as easy as giving"
        )
    if cc.reject_as_easy_as_accept is False:
        yield ("cookie_consent", "reject_as_easy_as_accept"), (
            "refusing cookies is harder than accepting them"
        )
    elif cc.reject_as_easy_as_accept is None:
        yield ("cookie_consent", "mechanism"), (
            "whether refusing cookies is as easy as accepting them is not stated "
            "(reject_as_easy_as_accept); the policy says nothing about it until it is"
        )
    if cc.withdraw is None:
        yield ("cookie_consent", "mechanism"), (
            "where a cookie choice is changed or withdrawn is not stated (withdraw)"
        )


@rule("PV032", "cookie-lifetime-missing", Severity.WARNING,
      "A cookie's lifetime is not stated", "ekomloven § 3-15, GDPR Art. 13(2)(a)")
def cookie_lifetime_missing(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Clear and complete information about a cookie includes how long it stays
    on the device."""
    for i, c in enumerate(m.cookies):
        if c.lifetime is None:
            yield ("cookies", i, "name"), (
                f"cookie {c.name.get('en')!r} ({c.provider}) has no lifetime")
