"""Rows kept only for bookkeeping are for finance to see: everyone else sees how many and
until when, not which. The dashboard, the API and the CLI all show a request through here.
"""

from __future__ import annotations

import copy
from typing import Any

from personvern.law import get_jurisdiction
from personvern.manifest.model import Manifest

HIDDEN = "kept only for bookkeeping: visible to finance"


def bookkeeping_rules(manifest: Manifest) -> set[str]:
    """Ids of the retention rules that keep data only for bookkeeping."""
    j = get_jurisdiction(manifest.jurisdiction.country)
    return {r.id for r in manifest.retention if j.is_bookkeeping(r.bookkeeping, r.statute)}


def hide_bookkeeping(outcome: dict[str, Any] | None, rules: set[str]) -> dict[str, Any] | None:
    """``outcome`` without the row keys kept under bookkeeping ``rules``: how many rows and
    until when stays visible, which rows does not."""
    if not outcome or not rules:
        return outcome
    shown = copy.deepcopy(outcome)
    for k in shown.get("kept", []):
        if k.get("rule") in rules:
            k["keys"] = None
            k["hidden"] = HIDDEN
    return shown
