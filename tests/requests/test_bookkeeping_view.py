"""Which rows an erasure kept for bookkeeping is finance's to see, whoever asks: the core's
view of a request hides the keys (how many and until when stay), the CLI and the API too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from demo_support import open_as_owner
from personvern.requests.engine import Requests, get_request, view
from personvern.runtime import Runtime
from personvern.storage.models import AuditEvent

PV = str(Path(sys.executable).parent / "personvern")
HIDDEN = "kept only for bookkeeping: visible to finance"
PARENT = 8  # pays for pupils 31 and 54: their purchases are kept for the books


def _books(outcome: dict[str, object]) -> list[dict[str, object]]:
    return [k for k in outcome["kept"] if k["rule"] == "books"]  # type: ignore[attr-defined]


def test_only_finance_sees_which_rows_were_kept(rt: Runtime, service: Requests,
                                                demo: Path) -> None:
    rid = open_as_owner(rt, service, "erasure", f"ext:{PARENT}")
    assert service.run(rid, reason="identity checked").state == "completed"
    with rt.transaction() as s:
        req = get_request(s, rid)
        stored = _books(req.outcome or {})
        shown = _books(view(s, service.ctx, req)["outcome"])
    assert stored and all(k["keys"] for k in stored)
    assert [(k["rows"], k["until"]) for k in shown] == [(k["rows"], k["until"]) for k in stored]
    assert all(k["keys"] is None and k["hidden"] == HIDDEN for k in shown)
    with rt.transaction() as s:
        assert s.scalars(select(AuditEvent).where(
            AuditEvent.action == "request.bookkeeping_viewed")).all() == []
        seen = _books(view(s, service.ctx, get_request(s, rid), finance="staff:eva")["outcome"])
    assert seen == stored
    with rt.transaction() as s:
        [looked] = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "request.bookkeeping_viewed")).all()
    assert (looked.actor, looked.target) == ("staff:eva", f"request:{rid}")

    # The CLI: hidden by default, shown with --finance WHO (audited); a blank WHO refused.
    base = [PV, "request", "show", rid, "--json", "--manifest", str(demo / "personvern.yaml"),
            "--db", f"sqlite:///{demo / 'personvern.db'}", "--now", "2027-01-01T12:00:00+01:00"]
    out = subprocess.run(base, capture_output=True, text=True, timeout=120, check=True)
    assert all(k["keys"] is None for k in _books(json.loads(out.stdout)["outcome"]))
    out = subprocess.run([*base, "--finance", "kari"], capture_output=True, text=True,
                         timeout=120, check=True)
    assert _books(json.loads(out.stdout)["outcome"]) == stored
    bad = subprocess.run([*base, "--finance", "  "], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and "--finance names who looks" in bad.stderr
    with rt.transaction() as s:
        actors = s.scalars(select(AuditEvent.actor).where(
            AuditEvent.action == "request.bookkeeping_viewed")).all()
    assert actors == ["staff:eva", "cli:kari"]
