"""Findings as text (for people), JSON (for scripts) and SARIF 2.1.0 (for code hosts)."""

from __future__ import annotations

import json

from personvern.check.engine import Finding
from personvern.check.registry import RULES, Severity
from personvern.wording import count

DOCS_URL = "https://github.com/personvern/personvern/blob/main/docs/rules.md"


def as_text(findings: list[Finding], file: str) -> str:
    """One line per finding, ``file:line:col: severity PV000 message [source]``, and a summary."""
    lines = [
        f"{file}:{f.line}:{f.column}: {f.severity} {f.rule} {f.message} [{f.source}]"
        for f in findings
    ]
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    lines.append(
        f"{file}: {count(counts[Severity.ERROR], 'error')}, "
        f"{count(counts[Severity.WARNING], 'warning')}, {count(counts[Severity.INFO], 'note')}"
    )
    return "\n".join(lines)


def as_json(findings: list[Finding]) -> str:
    """A JSON list of findings (rule, name, severity, message, path, line, column, source)."""
    return json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2)


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def as_sarif(findings: list[Finding], file: str, version: str) -> str:
    """A SARIF 2.1.0 log with one run, every rule described, one result per finding."""
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.explanation},
            "helpUri": f"{DOCS_URL}#{r.id.lower()}",
            "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
            "properties": {"legalSource": r.source},
        }
        for r in RULES.values()
    ]
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message} [{f.source}]"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": file},
                    "region": {"startLine": f.line, "startColumn": f.column},
                },
                "logicalLocations": [{"fullyQualifiedName": f.path}],
            }],
        }
        for f in findings
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "personvern", "version": version, "informationUri": DOCS_URL,
                "rules": rules,
            }},
            "results": results,
        }],
    }
    return json.dumps(log, ensure_ascii=False, indent=2)
