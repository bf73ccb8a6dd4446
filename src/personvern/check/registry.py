"""The rule registry: each rule has a stable id, a severity and its legal source."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest

Loc = tuple[str | int, ...]
Hit = tuple[Loc, str]
Check = Callable[[Manifest, Jurisdiction], Iterator[Hit]]


class Severity(StrEnum):
    """How bad a finding is; only ``error`` makes ``check`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    """A check with a stable id (never reused), a short name and the law it enforces."""

    id: str
    name: str
    severity: Severity
    title: str
    source: str
    explanation: str
    check: Check
    # Judged against the live datasets (`check --datasets`, check/drift.py), not the
    # manifest alone: ``check`` yields nothing for it.
    data: bool = False


RULES: dict[str, Rule] = {}


def rule(
    id: str, name: str, severity: Severity, title: str, source: str, *, data: bool = False
) -> Callable[[Check], Check]:
    """Register a rule; the function's docstring is its explanation in docs/rules.md."""

    def register(func: Check) -> Check:
        if id in RULES:
            raise RuntimeError(f"rule id {id} registered twice")
        RULES[id] = Rule(id, name, severity, title, source, (func.__doc__ or "").strip(), func,
                         data)
        return func

    return register
