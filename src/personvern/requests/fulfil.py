"""Carrying a request out: the two steps the engine calls, and what the person is told.

Work is split in two so that a failure never loses a request:
:func:`perform` works on the service's datasets (each in its own transaction) and
returns what it did; :func:`finish` records the engine's side (ledger events, the
subject's identities, restriction, forgetting an erased person) in the engine's
transaction. The request engine
(:mod:`personvern.requests.engine`) calls both and keeps the state. Each type's work is
in its own module: :mod:`access` (also portability), :mod:`rectify`, :mod:`erase`,
:mod:`restrict` and :mod:`objection` (also withdrawal); :mod:`jobs` is what they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from personvern.clock import Clock
from personvern.manifest.model import Manifest
from personvern.requests import access, erase, objection, rectify, restrict
from personvern.requests.datamap import SqlDataset
from personvern.requests.jobs import Env, Job
from personvern.requests.proof import held_note
from personvern.wording import count

if TYPE_CHECKING:
    from personvern.consent.service import ConsentContext


def perform(job: Job, env: Env, datasets: Sequence[SqlDataset]) -> dict[str, Any]:
    """Do the dataset side of ``job``; returns what was done (keys with _ are internal)."""
    if job.type == "access":
        return access.package(job, env, datasets)
    if job.type == "portability":
        return access.export(job, env, datasets)
    if job.type == "rectification":
        return rectify.rectify(job, datasets)
    if job.type == "erasure":
        return erase.erase(job, env, datasets)
    return {}  # restriction, objection, withdrawal: the engine's side is all there is


def finish(session: Session, consent: ConsentContext, clock: Clock, job: Job,
           done: dict[str, Any], *, forgotten: bool = False) -> dict[str, Any]:
    """Record the engine's side of ``job`` and return the outcome to store (no secrets).
    ``forgotten``: an erasure whose engine side a batch did already (``erase.forget_many``)."""
    outcome = {k: v for k, v in done.items() if not k.startswith("_")}
    now = clock()
    if job.type == "access" and "package" in done:
        _amend_package(consent.manifest, job, done, outcome, now)
    if job.type in ("objection", "withdrawal"):
        outcome.update(objection.record(session, consent, now, job))
    elif job.type == "restriction":
        outcome.update(restrict.record(session, consent, job, now))
    elif job.type == "rectification":
        rectify.sync_identities(session, job, done.get("_identity_changes", []))
    elif job.type == "erasure" and not forgotten:
        erase.forget(session, consent, job, outcome, now)
    return outcome


def _amend_package(manifest: Manifest, job: Job, done: dict[str, Any],
                   outcome: dict[str, Any], now: datetime) -> None:
    """A package written while a manual task was open, answered once the last one closed:
    amend it so the person's copy gives each processor's answer (Art. 15(1), (3)), never
    "not yet answered" beside a letter that says the request is done."""
    current = access.manual_datasets(manifest, job.callbacks)
    if not current or done.get("_manual") == current:
        return
    outcome["package"] = access.amend_manual(Path(done["package"]["path"]), current, now)


# ---- telling: the event note and the letter ------------------------------------------------

def summary(type: str, outcome: dict[str, Any]) -> str:
    """One line for the request's history (no personal values)."""
    if type == "access":
        return (f"access package written ({count(sum(outcome.get('rows', {}).values()), 'row')}, "
                f"{count(outcome.get('redacted', 0), 'reference')} to others redacted)")
    if type == "portability":
        return f"portability export written ({count(sum(outcome.get('rows', {}).values()), 'row')})"
    if type == "rectification":
        done = [f"{r['table']}.{r['column']} ({count(r['rows'], 'row')})"
                for r in outcome.get("rectified", []) if r["rows"]]
        none = [f"{r['table']}.{r['column']}" for r in outcome.get("rectified", [])
                if not r["rows"]]
        return "; ".join(([f"rectified {', '.join(done)}"] if done else [])
                         + ([f"nothing found to correct in {', '.join(none)}"] if none else [])
                         ) or "nothing to correct"
    if type == "erasure":
        kept = sum(k["rows"] for k in outcome.get("kept", []))
        left = proof_note(outcome.get("proof"))
        return (f"erased: {count(sum(outcome.get('deleted', {}).values()), 'row')} deleted, "
                f"{sum(outcome.get('changed', {}).values())} masked, {kept} kept under a "
                f"legal hold;{left}")
    if type == "restriction":
        return "processing restricted: every use but storage is denied"
    if type in ("objection", "withdrawal"):
        key, did = (("objected", "objection recorded for") if type == "objection"
                    else ("withdrawn", "consent withdrawn for"))
        said = [f"{did} {', '.join(outcome[key])}"] if outcome.get(key) else []
        said += [f"not recorded for {s['purpose']}: {s['why']}"
                 for s in outcome.get("skipped", [])]
        return "; ".join(said) or "nothing recorded: no purpose to record it for"
    return f"{type}: done"


def proof_note(proof: dict[str, Any] | None) -> str:
    """The proof of erasure in a few words: never "clean" before it has run."""
    if not proof:
        return ""
    if proof.get("state") in ("pending", "running"):
        return " proof: pending (it runs after the answer)"
    if proof.get("state") == "failed":
        return f" proof: FAILED ({proof.get('error')}); it runs again when retried"
    if not (proof.get("searched") or {}).get("tables"):  # a search that read no table
        return " proof: nothing proven (no table searched)"
    if proof.get("clean"):
        held = held_note(proof.get("held") or ())
        return " proof: clean" + (f" ({held})" if held else "")
    return f" proof: {len(proof.get('unexpected', [])) + len(proof.get('engine', []))} left"


def changed_anything(type: str, outcome: dict[str, Any]) -> bool:
    """Whether a rectification, objection or withdrawal changed anything (a row corrected,
    an event recorded): the letter says "carried out" only then (GDPR Art. 12(1), 16)."""
    if type == "rectification":
        return any(r["rows"] for r in outcome.get("rectified", []))
    if type in ("objection", "withdrawal"):
        return bool(outcome.get("objected" if type == "objection" else "withdrawn"))
    return True


def letter(type: str, outcome: dict[str, Any]) -> str:
    """The e-mail to the person when the request is done (bokmål, then English)."""
    opening = ("Forespørselen din er behandlet. Your request has been carried out."
               if changed_anything(type, outcome) else
               "Forespørselen din er behandlet, men ingenting ble endret. "
               "Your request has been handled, but nothing was changed:")
    lines = [opening, "", summary(type, outcome)]
    for k in outcome.get("kept", []):
        until = k["until"] or "the end of the retention period"
        lines.append(f"Beholdt / kept: {k['rows']} rader i {k['table']} til {until}: {k['why']}."
                     " Tilgangen er begrenset til dette formålet. Access is restricted to it.")
    if type == "access":
        lines.append("Kopien din kan lastes ned i portalen. Your copy is ready in the portal.")
        by_hand = [t["dataset"] for t in outcome.get("tasks", []) if t["kind"] == "manual"]
        if by_hand:  # Art. 15(1), (3): data the copy does not hold is named, not left out
            lines.append(f"Opplysningene i {', '.join(by_hand)} ble behandlet manuelt av "
                         "databehandleren vår og er ikke i kopien; kopien sier hva de svarte. "
                         f"The data in {', '.join(by_hand)} was handled by hand by our "
                         "processor and is not in your copy; the copy says what they answered.")
    return "\n".join(lines)
