"""Staff users: argon2 passwords, weak-password messages, sign-in, disabling; roles."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.staff.roles import PERMISSIONS, ROLES, may, require
from personvern.staff.tables import StaffUser
from personvern.staff.users import (
    add_user,
    check_password,
    disable_user,
    get_user,
    list_users,
    sign_in,
)
from personvern.storage.models import AuditEvent

GOOD = "fjord lantern pebble 42"


def actions(session: Session) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in
            session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_password_is_stored_as_argon2id_only(db_session: Session, clock: Clock) -> None:
    user = add_user(db_session, clock, " Kari.Nordmann@Example.no ", GOOD, role="owner",
                    name="Kari Nordmann")
    db_session.commit()
    assert user.email == "kari.nordmann@example.no"
    assert user.password_hash.startswith("$argon2id$")
    assert GOOD not in user.password_hash
    assert actions(db_session) == [("cli", "staff.user_added", "staff:kari.nordmann@example.no")]


def test_sign_in_right_wrong_unknown_and_disabled(db_session: Session, clock: Clock) -> None:
    add_user(db_session, clock, "kari@example.no", GOOD, role="owner")
    add_user(db_session, clock, "ola@example.no", GOOD, role="support")
    assert sign_in(db_session, clock, "KARI@example.no", GOOD) is not None
    assert sign_in(db_session, clock, "kari@example.no", GOOD + "x") is None
    assert sign_in(db_session, clock, "nobody@example.no", GOOD) is None
    disable_user(db_session, clock, "ola@example.no", reason="left the company")
    assert sign_in(db_session, clock, "ola@example.no", GOOD) is None
    db_session.commit()
    failed = [(a, t) for a, act, t in actions(db_session) if act == "staff.sign_in_failed"]
    assert failed == [("anonymous", "staff:kari@example.no"),
                      ("anonymous", "staff:nobody@example.no"),
                      ("anonymous", "staff:ola@example.no")]
    events = db_session.scalars(select(AuditEvent).where(
        AuditEvent.action == "staff.sign_in_failed").order_by(AuditEvent.id)).all()
    assert [e.details["why"] for e in events] == ["wrong password", "unknown user", "disabled"]
    assert all(GOOD not in str(e.details) for e in events)
    assert get_user(db_session, "kari@example.no").last_sign_in_at is not None


def test_an_unknown_user_costs_a_password_check_too(db_session: Session, clock: Clock) -> None:
    """Timing must not tell which addresses are staff: both paths run argon2."""
    add_user(db_session, clock, "kari@example.no", GOOD, role="owner")

    def cost(email: str) -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            sign_in(db_session, clock, email, "wrong password here")
            runs.append(time.perf_counter() - start)
        return sorted(runs)[2]

    known, unknown = cost("kari@example.no"), cost("nobody@example.no")
    assert unknown > known * 0.4, (known, unknown)


@pytest.mark.parametrize(("password", "message"), [
    ("short pw 1", "too short: use at least 12 characters"),
    ("aaaaaaaaaaaaaaaa", "too few characters"),
    ("passwordpassword", "most common passwords"),
    ("Kari.Nordmann 2027!", "must not contain the e-mail address"),
    ("Nordmann rules 2027", "must not contain the person's name"),
    (" leading space pass", "must not start or end with a space"),
    ("x" * 200 + "abcdefghij" * 6, "longer than 256"),
])
def test_weak_passwords_are_refused_with_a_reason(password: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_password(password, "kari.nordmann@example.no", "Kari Nordmann")


def test_bad_input_stores_nothing(db_session: Session, clock: Clock) -> None:
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        add_user(db_session, clock, "not-an-address", GOOD, role="owner")
    with pytest.raises(InvalidInput, match="unknown role 'admin'; use one of owner, "
                                           "privacy_officer, support, finance"):
        add_user(db_session, clock, "kari@example.no", GOOD, role="admin")
    with pytest.raises(InvalidInput, match="too short"):
        add_user(db_session, clock, "kari@example.no", "short", role="owner")
    assert list_users(db_session) == []
    assert actions(db_session) == []


def test_duplicates_unknown_and_the_last_owner(db_session: Session, clock: Clock) -> None:
    add_user(db_session, clock, "kari@example.no", GOOD, role="owner")
    with pytest.raises(Conflict, match=r"already a staff user kari@example\.no"):
        add_user(db_session, clock, "KARI@example.no", GOOD, role="support")
    with pytest.raises(NotFound):
        disable_user(db_session, clock, "nobody@example.no", reason="x")
    with pytest.raises(InvalidInput, match="say why"):
        disable_user(db_session, clock, "kari@example.no", reason="  ")
    with pytest.raises(Conflict, match="only active owner"):
        disable_user(db_session, clock, "kari@example.no", reason="leaving")
    add_user(db_session, clock, "ola@example.no", GOOD, role="owner")
    disable_user(db_session, clock, "kari@example.no", reason="leaving")
    with pytest.raises(Conflict, match="already disabled"):
        disable_user(db_session, clock, "kari@example.no", reason="again")
    assert [u.email for u in db_session.scalars(select(StaffUser).where(
        StaffUser.disabled_at.is_(None)))] == ["ola@example.no"]


def test_the_permissions_table() -> None:
    who = {p: {r for r in ROLES if may(r, p)} for p in PERMISSIONS}
    # Finance alone sees data kept only for bookkeeping, and nothing of people's requests.
    assert who["bookkeeping.view"] == {"finance"}
    assert not may("finance", "requests.view") and not may("finance", "subjects.search")
    # Support handles requests, but not breaches.
    assert may("support", "requests.act") and not may("support", "breaches.view")
    # Only the owner manages users.
    assert who["users.manage"] == {"owner"}
    assert not may("owner", "no.such.permission")
    with pytest.raises(Forbidden, match=r"your role \(support\) may not use data kept only "
                                        r"for bookkeeping; that is for: finance"):
        require("support", "bookkeeping.view")
