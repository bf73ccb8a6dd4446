"""Support for the dashboard tests: staff passwords hashed once per run, not once per user.

Each dashboard test adds four or five staff users, and argon2id with its recommended
parameters takes about 0.15 s a hash: most of such a test's time. ``hash_once`` makes the
password hasher remember the hash of each password it has made (the same argon2id
parameters and code, one random salt per password per test run), so every user with the
same password gets the same real hash; signing in still verifies it with argon2.
tests/staff/test_users.py, which is about the hashing, does not use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(c: TestClient, path: str) -> str:
    """The CSRF token the form on ``path`` carries."""
    found = _TOKEN.search(c.get(path).text)
    assert found, path
    return found.group(1)


def sign_in_as(c: TestClient, email: str, password: str) -> TestClient:
    """``c`` signed in to the dashboard as ``email`` (a session of its own)."""
    c.cookies.clear()
    r = c.post("/dashboard/sign-in", data={"email": email, "password": password,
               "csrf_token": csrf_token(c, "/dashboard/sign-in")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


class HashOnce(PasswordHasher):
    """A PasswordHasher that hashes each password once and hands out that hash again."""

    def __init__(self, like: PasswordHasher) -> None:
        params = like._parameters
        super().__init__(time_cost=params.time_cost, memory_cost=params.memory_cost,
                         parallelism=params.parallelism, hash_len=params.hash_len,
                         salt_len=params.salt_len, type=params.type)
        self._made: dict[str | bytes, str] = {}

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        """The hash made for ``password`` before, or a new one (remembered)."""
        if salt is not None:
            return super().hash(password, salt=salt)
        if password not in self._made:
            self._made[password] = super().hash(password)
        return self._made[password]


_ONCE: list[HashOnce] = []


@pytest.fixture
def hash_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[HashOnce]:
    """personvern.staff.users hashes each password once per run (put back afterwards)."""
    from personvern.staff import users

    if not _ONCE:
        _ONCE.append(HashOnce(users._hasher))
    monkeypatch.setattr(users, "_hasher", _ONCE[0])
    yield _ONCE[0]
