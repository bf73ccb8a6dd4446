"""The report a plan and a run both give: per step the rows, a few example keys (never
personal values), where the date came from and the people erased, and per rule its reason
in words. (A plan is the run rehearsed and rolled back: ``retention.rehearsal``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from personvern.manifest.model import RetentionRule
from personvern.requests.information import rule_text
from personvern.retention.due import Due, holding
from personvern.retention.resolve import HOLD, Resolution, TableRules
from personvern.wording import count

EXAMPLES = 3  # example row keys per step


@dataclass
class StepResult:
    """What one (rule, table) step did or would do."""

    rule: str
    dataset: str
    table: str
    action: str
    date_from: str
    rows: int = 0
    examples: list[Any] = field(default_factory=list)
    erased_subjects: int = 0
    restricted_subjects: int = 0
    note: str | None = None
    # Link rows (no personal column) deleted with the people whose profile went.
    links: dict[str, int] = field(default_factory=dict)
    # Part rows (part: true, a user's address row) erased with the rows pointing at them.
    parts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, due: Due, rule: RetentionRule, tr: TableRules) -> StepResult:
        """A step with nothing counted yet: its action in words, where its date comes from."""
        return cls(rule.id, tr.dataset, tr.table, action_words(due, rule, tr),
                   holding(tr, rule).dating.describe())

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dict(self.__dict__)


@dataclass
class Report:
    """A plan or a run: the steps, notices queued, and what no rule can date."""

    now: datetime
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    notices: int = 0
    undated: list[dict[str, str]] = field(default_factory=list)
    unmapped: list[dict[str, object]] = field(default_factory=list)
    # Mapped tables with personal columns no purpose holds (``Resolution.unheld``).
    unheld: list[dict[str, object]] = field(default_factory=list)
    # Tables the engine's records date whose people it does not know, or whose consent
    # it has no record of (``Due.strangers``).
    strangers: list[dict[str, object]] = field(default_factory=list)
    resumed_batches: int = 0
    sweep_id: int | None = None
    # PostgreSQL datasets: tables whose erased rows stay in the files until VACUUM FULL.
    left_until_vacuum: dict[str, list[str]] = field(default_factory=dict)
    # People with a restriction in force (GDPR Art. 18): no rule touched their rows.
    restricted: int = 0
    # children.erase_without_guardian_consent: the children found, and (a run) erased;
    # None when the switch is off.
    children: dict[str, Any] | None = None

    def as_dict(self, res: Resolution, lang: str = "en") -> dict[str, Any]:
        """Rule by rule, with the reason in words."""
        rules = []
        for rule in res.manifest.retention:
            steps = [s.as_dict() for s in self.steps if s.rule == rule.id]
            if not steps:
                continue
            rules.append({"rule": rule.id, "reason": reason(rule, res, lang),
                          "action": rule.action, "rows": sum(s["rows"] for s in steps),
                          "tables": steps})
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "sweep": self.sweep_id,
                "rules": rules, "notices": self.notices, "undated": self.undated,
                "unmapped": self.unmapped, "unheld": self.unheld,
                "strangers": self.strangers,
                "resumed_batches": self.resumed_batches,
                "left_until_vacuum": self.left_until_vacuum, "children": self.children,
                "restricted": self.restricted,
                # An app (http) or a processor (manual) is asked per person, never swept.
                "unswept": [{"dataset": ds.id, "kind": ds.kind}
                            for ds in res.manifest.datasets if ds.kind != "sql"]}


def reason(rule: RetentionRule, res: Resolution, lang: str = "en") -> str:
    """Why the rule acts, in words: what it says, its trigger, period and statute."""
    extra = " plus the right-of-withdrawal period" if rule.plus_withdrawal_period else ""
    if rule.trigger == "fiscal_year_end":
        when = (f"{rule.duration} after the end of the fiscal year of the document's date"
                + (" (at least the bookkeeping years of the law)" if rule.bookkeeping else ""))
    else:
        when = f"{rule.duration} after {rule.trigger.replace('_', ' ')}{extra}"
    text = f"{rule_text(rule, lang)} [{when}; then {rule.action}"
    purposes = [p for p in res.purposes_of(rule.id) if p != HOLD]
    if purposes:
        text += f"; purposes: {', '.join(purposes)}"
    if rule.statute:
        text += f"; {rule.statute}"
    return text + "]"


def action_words(due: Due, rule: RetentionRule, tr: TableRules) -> str:
    """What the step does to the table's rows, in words."""
    how = due.how(rule, tr)
    if rule.action == "restrict":
        return "restrict (kept; no use but storage and the purposes still holding it)"
    return {"delete": "delete rows", "none": "nothing (the data map keeps these rows)"}.get(
        how, f"erase personal columns ({how})")


def not_enforced(data: dict[str, Any]) -> list[str]:
    """Each retention promise a plan or run (``Report.as_dict``) shows cannot be kept, in
    words: what no rule can date, rules that reach no data, tables no purpose holds, rows
    of people the engine does not know, datasets no sweep reaches. The CLI and the
    dashboard say the same."""
    lines = [f"{u['dataset']}.{u['table']} under rule {u['rule']} (purpose {u['purpose']}): "
             f"{u['why']}" for u in data["undated"]]
    lines += [f"rule {u['rule']} reaches no data: {u['why']}" for u in data["unmapped"]]
    lines += [f"{u['dataset']}.{u['table']}: no purpose uses its categories "
              f"({', '.join(u['categories'])}), so no rule reaches it"
              for u in data.get("unheld") or []]
    for u in data.get("strangers") or []:
        where = f"{u['dataset']}.{u['table']}"
        if u["rows"]:
            lines.append(
                f"{where}: {count(u['rows'], 'row')} {'holds' if u['rows'] == 1 else 'hold'} "
                f"an identity ({', '.join(u['columns'])}) of nobody the engine knows, so no "
                "consent, withdrawal, objection or activity of theirs can end them under rule "
                f"{', '.join(u['rules'])} (e.g. keys {', '.join(map(str, u['examples']))}); "
                "register them: personvern subject sync")
        lines += [f"{where} under rule {c['rule']}: {count(c['people'], 'person', 'people')} "
                  f"with no consent on record for purpose {c['purpose']} (GDPR Art. 7(1)), so "
                  "no withdrawal or expiry can end it; record the consent they gave, or erase "
                  "what rests on none" for c in u["no_consent"]]
    if unswept := data.get("unswept"):
        lines.append(", ".join(f"{u['dataset']} ({u['kind']})" for u in unswept)
                     + ": no sweep reaches a dataset outside SQL; what they hold is erased on "
                     "a person's request only, never when a rule's time is up")
    if restricted := data.get("restricted"):
        lines.append(f"{count(restricted, 'person', 'people')} with a restriction in force "
                     "(GDPR Art. 18): no rule deletes or changes their rows until it is "
                     "lifted (personvern request lift)")
    return lines


def nothing_due(data: dict[str, Any]) -> str | None:
    """What to say when no rule has rows due (None when one has): never a bare "nothing
    is due" where rules reach no data, or while children are to be erased."""
    if data["rules"]:
        return None
    said = "no retention rule is due" if (data.get("children") or {}).get("to_erase") \
        else "nothing is due"
    return said + (" in the mapped data" if not_enforced(data) else "")
