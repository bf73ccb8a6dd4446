"""The one exception root of Personvern, and its tree.

    PersonvernError                 every error the package raises on purpose
    ├── ManifestError               the manifest cannot be read or is invalid (CLI exit 2)
    │   └── ManifestTooLarge        the file is larger than the configured limit
    ├── ConfigurationError          settings or environment are unusable
    ├── StorageError                the engine's database cannot be reached or migrated
    ├── NotFound                    a named thing (subject, purpose, version, ...) does not exist
    │   ├── UnknownSubject          no subject has this id or identity
    │   └── UnknownPurpose          the manifest declares no such purpose
    ├── InvalidInput                a value from outside breaks a rule (a child consenting alone)
    ├── Conflict                    the request contradicts what is stored (a reused key)
    ├── Unauthorized                no valid credentials (a missing or wrong API key)
    └── Forbidden                   valid credentials, but not for this (not your child)
        └── MissingScope            the API key lacks the scope the route needs

HTTP-facing errors carry their status as ``status``, so one handler can render
problem+json for the API and a page for the portal. A refusal a person may meet in the
portal also carries a language-free ``code`` (``guardian_required``) and the values its
message needs (``params``): the portal words it in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass


class PersonvernError(Exception):
    """Base of every error Personvern raises on purpose."""

    status: int = 500
    exit_code: int = 1

    def __init__(self, *args: object, code: str | None = None, **params: object) -> None:
        super().__init__(*args)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, with where it is (1-based line and column)."""

    path: str
    message: str
    file: str = "<manifest>"
    line: int | None = None
    column: int | None = None

    def location(self) -> str:
        """``file:line:column`` as editors and CI annotate it."""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.location()}: {where}{self.message}"


class ManifestError(PersonvernError):
    """The manifest cannot be read or does not satisfy the schema."""

    status = 422
    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ManifestTooLarge(ManifestError):
    """The manifest file is larger than the limit; it is not parsed at all."""


class ConfigurationError(PersonvernError):
    """Settings or environment are unusable (missing key, bad URL, ...)."""

    exit_code = 2


class StorageError(PersonvernError):
    """The engine's database cannot be reached, created or migrated."""

    status = 503


class NotFound(PersonvernError):
    """A named thing (template, version, record) does not exist."""

    status = 404


class UnknownSubject(NotFound):
    """No subject has this id or identity (or the subject was erased)."""


class UnknownPurpose(NotFound):
    """The manifest declares no purpose by this id."""


class InvalidInput(PersonvernError):
    """A value from outside breaks a rule; nothing was stored."""

    status = 422
    exit_code = 2


class Conflict(PersonvernError):
    """The request contradicts what is already stored (e.g. a reused idempotency key)."""

    status = 409


class Unauthorized(PersonvernError):
    """No valid credentials: a missing, unknown or revoked API key."""

    status = 401


class Forbidden(PersonvernError):
    """Known caller, but not allowed to act here (e.g. not the child's guardian)."""

    status = 403


class MissingScope(Forbidden):
    """The API key is valid but lacks the scope the route needs."""
