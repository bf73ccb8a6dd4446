"""The demo's templates: one synthetic service per seed, with its data map and its labels."""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, MetaData, Table

from personvern.errors import InvalidInput

TEMPLATES = ("snapmentor", "vekstly", "lillemini", "minmentor", "teoritentamen")
DEFAULT = "snapmentor"
# Reserved example domains: nobody real is ever e-mailed by the demo.
DOMAINS = ("example.no", "eksempel.no", "test.example.com")


@dataclass(frozen=True)
class Label:
    """What one column of a generated table holds: the generator's own truth, against which
    the data map is checked and discovery is measured."""

    categories: tuple[str, ...] = ()
    identity: str | None = None


@dataclass(frozen=True)
class Person:
    """Someone of the service registered as a subject of the engine."""

    uid: int | None  # the service's user id (an external_id), when it has one
    email: str
    phone: str | None
    kind: str  # the manifest's subject id
    birth_date: date | None = None
    customer: bool = False


@dataclass
class Generated:
    """What a template's generator wrote."""

    counts: dict[str, int]
    people: list[Person]
    # (guardian's e-mail, child's e-mail): guardianships the service records.
    guardians: list[tuple[str, str]] = field(default_factory=list)
    # Customer organisations the service records: (name, orgnr, [(member's e-mail, role)]),
    # role "admin" (may act for the members) or "member".
    organisations: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)


Progress = Callable[[int], None]


class Generator(Protocol):
    """Writes a template's tables into an empty database."""

    def __call__(self, engine: Engine, subjects: int, *, now: datetime, seed: int,
                 progress: Progress | None = None) -> Generated: ...


@dataclass(frozen=True)
class Template:
    """One seed's demo service."""

    name: str
    # The manifest demo init copies: its dataset's ``url_env: URL_ENV`` becomes the URL.
    manifest: Path
    url_env: str
    metadata: MetaData
    generate: Generator
    labels: dict[tuple[str, str], Label]
    min_subjects: int
    who: str  # why min_subjects: the people the smallest service needs


def get_template(name: str) -> Template:
    """Template ``name``, or a clear error naming the five."""
    if name not in TEMPLATES:
        raise InvalidInput(f"unknown demo template {name!r}; choose one of "
                           f"{', '.join(TEMPLATES)}")
    module = importlib.import_module(f"personvern.demo.templates.{name}")
    template: Template = module.TEMPLATE
    return template


def example_manifest(name: str) -> Path:
    """``examples/<name>.yaml``: the seed's manifest is also its demo's manifest."""
    from personvern.templates import examples_dir

    return examples_dir() / f"{name}.yaml"


class People:
    """Synthetic Norwegian people (Faker ``no_NO``), deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        from personvern.demo.generate import _pools

        self.rng = random.Random(seed)
        self.first, self.last, self.addresses = _pools(seed)

    def name(self) -> tuple[str, str]:
        """A given name and a family name."""
        return self.rng.choice(self.first), self.rng.choice(self.last)

    def email(self, given: str, family: str, uid: int, tag: str = "") -> str:
        """An address unique by ``uid`` (and ``tag``) on a reserved example domain."""
        from personvern.demo.generate import _ascii

        return f"{_ascii(given)}.{_ascii(family)}.{tag}{uid}@{DOMAINS[uid % 3]}"

    def phone(self, uid: int, prefix: str = "4") -> str:
        """A Norwegian mobile number, unique by ``uid`` and ``prefix`` (4 or 9)."""
        return f"+47{prefix}{uid:07d}"

    def address(self) -> str:
        """A street address with postcode and town."""
        return self.rng.choice(self.addresses)


def insert(conn: Any, table: Table, rows: Iterator[dict[str, Any]] | list[dict[str, Any]],
           counts: dict[str, int], progress: Progress | None = None) -> None:
    """Write ``rows`` in batches and count them."""
    from personvern.demo.generate import _insert

    counts.setdefault(table.name, 0)
    _insert(conn, table, iter(rows), counts, progress)
