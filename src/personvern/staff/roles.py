"""The roles and the permissions table: what each role may see and do on the dashboard.

    permission            owner  privacy_officer  support  finance
    requests.view           x          x             x
    requests.act            x          x             x
    subjects.search         x          x             x
    consent.stats           x          x             x
    policy.view             x          x             x
    ropa.view               x          x
    retention.view          x          x
    retention.run           x
    breaches.view           x          x
    audit.view              x          x
    bookkeeping.view                                          x
    users.manage            x

Finance alone sees data kept only for bookkeeping (rows and columns held under a
retention rule with ``bookkeeping: true``): the storage limitation of Art. 5(1)(e) and
the "strictly limited access" such rules promise mean even the owner does not browse it.
"""

from __future__ import annotations

from personvern.errors import Forbidden, InvalidInput

ROLES = ("owner", "privacy_officer", "support", "finance")
ROLE_NAMES = {"owner": "Owner", "privacy_officer": "Privacy officer", "support": "Support",
              "finance": "Finance"}

PERMISSIONS: dict[str, frozenset[str]] = {
    "requests.view": frozenset({"owner", "privacy_officer", "support"}),
    "requests.act": frozenset({"owner", "privacy_officer", "support"}),
    "subjects.search": frozenset({"owner", "privacy_officer", "support"}),
    "consent.stats": frozenset({"owner", "privacy_officer", "support"}),
    "policy.view": frozenset({"owner", "privacy_officer", "support"}),
    "ropa.view": frozenset({"owner", "privacy_officer"}),
    "retention.view": frozenset({"owner", "privacy_officer"}),
    "retention.run": frozenset({"owner"}),
    "breaches.view": frozenset({"owner", "privacy_officer"}),
    "audit.view": frozenset({"owner", "privacy_officer"}),
    "bookkeeping.view": frozenset({"finance"}),
    "users.manage": frozenset({"owner"}),
}

# What a refusal says, so a person knows whom to ask rather than seeing a bare 403.
DESCRIPTIONS = {
    "requests.view": "the requests queue",
    "requests.act": "acting on requests",
    "subjects.search": "the subject search",
    "consent.stats": "the consent statistics",
    "policy.view": "the policy versions",
    "ropa.view": "the record of processing",
    "retention.view": "the retention plan",
    "retention.run": "running the retention sweep",
    "breaches.view": "the breach register",
    "audit.view": "the audit log",
    "bookkeeping.view": "data kept only for bookkeeping",
    "users.manage": "managing staff users",
}


def check_role(role: str) -> str:
    """``role`` if it is one of ROLES, else InvalidInput naming them."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def may(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (an unknown permission is nobody's)."""
    return role in PERMISSIONS.get(permission, frozenset())


def require(role: str, permission: str) -> None:
    """Forbidden, with a message saying which roles may, unless ``role`` holds it."""
    if not may(role, permission):
        allowed = ", ".join(ROLE_NAMES[r].lower() for r in ROLES
                            if r in PERMISSIONS.get(permission, frozenset()))
        raise Forbidden(f"your role ({ROLE_NAMES.get(role, role).lower()}) may not use "
                        f"{DESCRIPTIONS.get(permission, permission)}; that is for: {allowed}")


def permissions_of(role: str) -> frozenset[str]:
    """Every permission ``role`` holds."""
    return frozenset(p for p, roles in PERMISSIONS.items() if role in roles)
