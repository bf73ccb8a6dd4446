"""The plan: what a sweep at ``now`` would do, rule by rule and why, changing nothing.

Also the report a plan and a run both give: per step the rows, a few example keys (never
personal values), where the date came from and the people erased, and per rule its reason
in words.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from personvern.manifest.model import RetentionRule
from personvern.requests.information import rule_text
from personvern.retention.due import Due, by_dataset, holding
from personvern.retention.notices import queue_due
from personvern.retention.resolve import HOLD, Resolution, TableRules
from personvern.storage.engine import storage_errors

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
    resumed_batches: int = 0
    sweep_id: int | None = None
    # PostgreSQL datasets: tables whose erased rows stay in the files until VACUUM FULL.
    left_until_vacuum: dict[str, list[str]] = field(default_factory=dict)

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
                "resumed_batches": self.resumed_batches,
                "left_until_vacuum": self.left_until_vacuum}


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


@dataclass
class Planner:
    """A plan: counts what each step would take, as the run would take it, changing nothing."""

    due: Due
    report: Report = field(init=False)
    # A plan changes nothing, so a row an earlier step would take is not counted twice.
    planned: dict[tuple[str, str], set[Any]] = field(default_factory=lambda: defaultdict(set))

    def __post_init__(self) -> None:
        self.report = Report(self.due.now, dry_run=True)

    def plan(self) -> Report:
        """Every step counted, then the notices that would be queued."""
        self.report.undated += self.due.undated()
        for rule, by_column, by_engine in self.due.steps():
            for tr in by_column:
                self._column_step(rule, tr)
            if by_engine:
                self._engine_step(rule, by_engine)
        self.report.notices += queue_due(self.due, dry_run=True)
        return self.report

    def _column_step(self, rule: RetentionRule, tr: TableRules) -> None:
        """Count a column-dated step batch by batch, as the run reads it."""
        result = StepResult.of(self.due, rule, tr)
        scope = self.due.column_scope(rule, tr)
        if scope is None:
            return
        seen = self.planned[(tr.dataset, tr.table)]
        for keys, _, _ in self.due.key_pages(tr, *scope):
            fresh = [k for k in keys if k not in seen]
            seen.update(fresh)
            result.rows += len(fresh)
            result.examples += fresh[:EXAMPLES - len(result.examples)]
        if result.rows or result.note:
            self.report.steps.append(result)

    def _engine_step(self, rule: RetentionRule, trs: list[TableRules]) -> None:
        """Count an engine-dated step page of people by page, dataset by dataset."""
        for tables in by_dataset(trs):
            results = {tr.table: StepResult.of(self.due, rule, tr) for tr in tables}
            for page in self.due.fired_pages(rule):
                self._engine_page(rule, tables, page, results)
            for tr in tables:
                r = results[tr.table]
                if r.rows or r.erased_subjects or r.restricted_subjects or r.note:
                    self.report.steps.append(r)

    def _engine_page(self, rule: RetentionRule, tables: list[TableRules], page: list[str],
                     results: dict[str, StepResult]) -> None:
        """Count one page of people whose rule fired: their rows, and who would be gone."""
        ds = self.due.res.datasets[tables[0].dataset]
        ended, idents = self.due.who_ended(tables, page)
        with storage_errors(ds.engine.url), ds.engine.begin() as conn:
            for tr, scoped in self.due.page_rows(rule, tables, page, ended, idents):
                n, ex = self._count(conn, tr, scoped)
                r = results[tr.table]
                r.rows += n
                r.examples += ex[:EXAMPLES - len(r.examples)]
        profile, gone = self.due.gone(rule, tables, page, ended)
        if profile is not None:
            results[profile.table].erased_subjects += len(gone)

    def _count(self, conn: Connection, tr: TableRules, where: ColumnElement[bool]
               ) -> tuple[int, list[Any]]:
        """How many rows a step would take that no earlier step of the plan took."""
        ds = self.due.res.datasets[tr.dataset]
        t = ds.tables[tr.table]
        key = t.c[ds.mapped[tr.table].key]
        seen = self.planned[(tr.dataset, tr.table)]
        keys = [k for k in conn.scalars(select(key).where(where).order_by(key)) if k not in seen]
        seen.update(keys)
        return len(keys), keys[:EXAMPLES]
