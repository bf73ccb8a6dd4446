"""Generates docs/rules.md from the rule registry, so the list cannot drift from the code.

Run ``python -m personvern.check.reference > docs/rules.md`` (``make docs``).
"""

from __future__ import annotations

from personvern.check.registry import RULES, Severity
from personvern.wording import count

_INTRO = """\
# `personvern check` rules

`personvern check MANIFEST` (add `--format json` or `--format sarif` for tools) reads a manifest and
reports where it falls short of the GDPR and Norwegian law, like a linter does
code. Every finding names its rule, the place in the manifest (file:line:column)
and the legal source.

- **Exit codes:** 0 when no finding is an `error`; 1 when at least one is; 2 when
  the manifest cannot be read or is invalid (the message gives file:line:column).
- **Formats:** `text` (one line per finding, then a summary), `json` (a list of
  objects with `rule`, `name`, `severity`, `message`, `path`, `line`, `column`,
  `source`) and `sarif` (SARIF 2.1.0, for code-scanning tools).
- **Severities:** `error` — the manifest describes processing that breaks the law
  as written; `warning` — likely unlawful or incomplete, check it; `info` — worth
  knowing, often a deliberate choice.
- **Stable ids:** a rule keeps its id forever; a removed rule's id is never reused.
- **Jurisdiction:** numbers such as the child consent age (13), bookkeeping years
  (5) and the answer deadline (one month) come from the jurisdiction settings
  (`personvern.law`), not from the rules.

Where the law is read rather than quoted (for example the paragraph number of
ekomloven's cookie rule, known from secondary sources), the source says what it
is based on.

| id | name | severity | source |
|---|---|---|---|
"""


def render_rules() -> str:
    """The whole Markdown page: a summary table, then one section per rule."""
    from personvern.check import rules  # noqa: F401  (registers the rules)

    out = [_INTRO]
    ordered = sorted(RULES.values(), key=lambda r: r.id)
    for r in ordered:
        out.append(f"| [{r.id}](#{r.id.lower()}) | `{r.name}` | {r.severity} | {r.source} |\n")
    counts = {s: sum(1 for r in ordered if r.severity is s) for s in Severity}
    out.append(
        f"\n{count(len(ordered), 'rule')}: {count(counts[Severity.ERROR], 'error')}, "
        f"{count(counts[Severity.WARNING], 'warning')}, {count(counts[Severity.INFO], 'note')}.\n"
    )
    for r in ordered:
        explanation = " ".join(r.explanation.split())
        out.append(
            f"\n## {r.id}\n\n**{r.title}** · `{r.name}` · {r.severity}\n\n"
            f"Legal source: {r.source}\n\n{explanation}\n"
        )
    return "".join(out)


if __name__ == "__main__":
    print(render_rules(), end="")
