"""Staff accounts: add, list, disable, and sign in with an argon2-hashed password.

Passwords are hashed with argon2id (``argon2-cffi``, its recommended parameters);
only the encoded hash is stored. Checking takes the same work whether or not the
user exists, so the answer's timing does not reveal which e-mail addresses are staff.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from personvern.audit import append_audit
from personvern.clock import Clock
from personvern.contact import normalise_email
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.staff.roles import check_role
from personvern.staff.tables import StaffUser

MIN_LENGTH = 12
# Long enough for any passphrase, short enough that hashing one is no denial of service.
MAX_LENGTH = 256
MIN_DISTINCT = 6
# The most used passwords of 12+ characters (lower-cased); a short list, only the
# obvious. Length is what protects the rest.
COMMON = frozenset({
    "passwordpassword", "password1234", "123456789012", "1234567890123", "qwertyuiopas",
    "qwerty123456", "iloveyou1234", "administrator", "passord12345", "sommer2024!!",
    "correcthorsebatterystaple", "personvern123", "letmeinletmein", "welcome12345",
})
# The same generic message for an unknown user, a wrong password and a disabled account:
# telling them apart would tell an attacker which addresses belong to staff.
SIGN_IN_FAILED = "the e-mail address or password is wrong, or the account is disabled"

_hasher = PasswordHasher()
# Verified against when the user is unknown, so that path costs one argon2 check too.
_DUMMY_HASH = _hasher.hash("personvern: no such user")


@dataclass(frozen=True)
class StaffView:
    """A staff user as shown in lists: never the hash."""

    id: int
    email: str
    name: str
    role: str
    disabled: bool
    created_at: str
    last_sign_in_at: str | None

    @classmethod
    def of(cls, user: StaffUser) -> StaffView:
        """The view of ``user``."""
        return cls(user.id, user.email, user.name, user.role, user.disabled_at is not None,
                   user.created_at.isoformat(),
                   user.last_sign_in_at.isoformat() if user.last_sign_in_at else None)


def check_password(password: str, email: str = "", name: str = "") -> str:
    """``password`` if strong enough, else InvalidInput saying what to change."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password is too short: use at least {MIN_LENGTH} characters "
                           "(a few unrelated words make a good one)")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password is longer than {MAX_LENGTH} characters")
    if password != password.strip():
        raise InvalidInput("the password must not start or end with a space")
    folded = password.casefold()
    if len(set(folded)) < MIN_DISTINCT:
        raise InvalidInput(f"the password repeats too few characters: use at least "
                           f"{MIN_DISTINCT} different ones")
    if folded in COMMON:
        raise InvalidInput("the password is one of the most common passwords; choose another")
    local = email.partition("@")[0].casefold()
    if len(local) >= 4 and local in folded:
        raise InvalidInput("the password must not contain the e-mail address")
    if any(len(part) >= 4 and part.casefold() in folded for part in name.split()):
        raise InvalidInput("the password must not contain the person's name")
    return password


def add_user(
    session: Session, clock: Clock, email: str, password: str, *, role: str,
    name: str | None = None, actor: str = "cli",
) -> StaffUser:
    """A new staff user; InvalidInput for a bad address, role or weak password."""
    address = normalise_email(email)
    check_role(role)
    full_name = (name or "").strip() or address.partition("@")[0]
    if len(full_name) > 200:
        raise InvalidInput("the name is longer than 200 characters")
    check_password(password, address, full_name)
    if find_user(session, address) is not None:
        raise Conflict(f"there is already a staff user {address}")
    user = StaffUser(email=address, name=full_name, role=role,
                     password_hash=_hasher.hash(password), created_at=clock(),
                     disabled_at=None, last_sign_in_at=None)
    session.add(user)
    session.flush()
    append_audit(session, clock, actor, "staff.user_added", f"staff:{address}", {"role": role})
    return user


def find_user(session: Session, email: str) -> StaffUser | None:
    """The staff user with ``email`` (compared in its normal form), or None."""
    try:
        address = normalise_email(email)
    except InvalidInput:
        return None  # no address, so no user: signing in says only that it failed
    return session.scalars(select(StaffUser).where(StaffUser.email == address)).first()


def get_user(session: Session, email: str) -> StaffUser:
    """The staff user with ``email``, or NotFound."""
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"no staff user {email.strip()!r}")
    return user


def user_by_id(session: Session, user_id: int) -> StaffUser | None:
    """The staff user with ``user_id``, or None."""
    return session.get(StaffUser, user_id)


def list_users(session: Session) -> list[StaffUser]:
    """Every staff user, by e-mail address."""
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def disable_user(
    session: Session, clock: Clock, email: str, *, reason: str, actor: str = "cli"
) -> StaffUser:
    """Disable a user: they cannot sign in, and their open sessions stop working."""
    why = reason.strip()
    if not why:
        raise InvalidInput("say why the user is disabled (--reason)")
    user = get_user(session, email)
    if user.disabled_at is not None:
        raise Conflict(f"{user.email} is already disabled")
    if user.role == "owner" and not _other_owner(session, user.id):
        raise Conflict(f"{user.email} is the only active owner; add another owner first")
    user.disabled_at = clock()
    append_audit(session, clock, actor, "staff.user_disabled", f"staff:{user.email}",
                 {"reason": why})
    return user


def _other_owner(session: Session, user_id: int) -> bool:
    return session.scalars(select(StaffUser.id).where(
        StaffUser.role == "owner", StaffUser.disabled_at.is_(None), StaffUser.id != user_id,
    ).limit(1)).first() is not None


def sign_in(session: Session, clock: Clock, email: str, password: str) -> StaffUser | None:
    """The user for ``email`` and ``password``, or None (then say SIGN_IN_FAILED).

    Every failure is audited with the address tried (the password never is); it
    returns rather than raises so the caller commits that audit event.
    """
    user = find_user(session, email) if len(password) <= MAX_LENGTH else None
    try:
        # argon2's check compares in constant time; the dummy makes "unknown" cost the same.
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_LENGTH])
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled_at is not None:
        why = "unknown user" if user is None else "disabled" if ok else "wrong password"
        append_audit(session, clock, "anonymous", "staff.sign_in_failed",
                     f"staff:{email.strip().casefold()[:254]}", {"why": why})
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        # Parameters grew since this hash was made: store a stronger one while we can.
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = clock()
    append_audit(session, clock, f"staff:{user.email}", "staff.signed_in", f"staff:{user.email}")
    return user
