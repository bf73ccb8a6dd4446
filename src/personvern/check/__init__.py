"""``personvern check``: lint a manifest against GDPR and Norwegian law, like a code linter."""

from personvern.check import rules as _rules  # noqa: F401  (registers every rule)
from personvern.check.engine import Finding, run_checks
from personvern.check.registry import RULES, Rule, Severity

__all__ = ["RULES", "Finding", "Rule", "Severity", "run_checks"]
