"""Running the rules over a loaded manifest."""

from __future__ import annotations

from dataclasses import dataclass

from personvern.check.registry import RULES, Severity
from personvern.law import get_jurisdiction
from personvern.manifest.loader import LoadedManifest, format_path


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one place in the manifest."""

    rule: str
    name: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int
    source: str

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of the public contract (rule, severity, message, line, ...)."""
        return {
            "rule": self.rule, "name": self.name, "severity": str(self.severity),
            "message": self.message, "path": self.path, "line": self.line,
            "column": self.column, "source": self.source,
        }


_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def run_checks(loaded: LoadedManifest) -> list[Finding]:
    """Every finding of every rule, ordered by line then severity."""
    from personvern.check import rules  # noqa: F401  (registers the rules)

    manifest = loaded.manifest
    jurisdiction = get_jurisdiction(manifest.jurisdiction.country)
    findings = []
    for r in RULES.values():
        if r.data:  # judged on the live datasets: check/drift.py
            continue
        for loc, message in r.check(manifest, jurisdiction):
            findings.append(Finding(
                r.id, r.name, r.severity, message, format_path(loc),
                loaded.line_of(loc), loaded.column_of(loc), r.source,
            ))
    return sort_findings(findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Findings ordered by line, then severity, then rule."""
    return sorted(findings, key=lambda f: (f.line, _ORDER[f.severity], f.rule))


def has_errors(findings: list[Finding]) -> bool:
    """Whether any finding is an error (``check`` then exits 1)."""
    return any(f.severity is Severity.ERROR for f in findings)
