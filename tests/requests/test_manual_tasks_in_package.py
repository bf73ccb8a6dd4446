"""GDPR Art. 15(1), (3): the access package names the data a processor hands over separately.

A manual dataset (a processor's system, reached by a task a person closes) is never in the
package's rows. The package's summary and ``data.json`` say it exists, who holds it, and
the task's state when the package was made: "not yet answered" while open, else the note
it was closed with, so the person can tell that more of their data exists.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from personvern.requests import access, jobs, tasks
from personvern.requests.engine import get_request

CRM = {"id": "crm", "kind": "manual", "recipient": "vipps", "contact": "personvern@crm.example.no"}


def _read(path: Path) -> tuple[dict[str, Any], str]:
    """``data.json`` and the summary's text of the package at ``path``."""
    with zipfile.ZipFile(path) as zf:
        document = json.loads(zf.read("data.json"))
        html = zf.read("summary.html").decode()
    return document, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_art15_3_package_names_an_open_manual_dataset_as_not_yet_answered(
        with_datasets: Any, opener: Callable[..., str], tmp_path: Path) -> None:
    """Art. 15(1), (3): made while the processor has not answered, the package says so."""
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "access", "ext:31")
    assert service.run(rid, reason="identity checked", out_dir=tmp_path,
                       lang="en").state == "waiting"
    document, text = _read(tmp_path / f"access-{rid}.zip")
    assert document["manual"] == [{"dataset": "crm", "processor": "Vipps MobilePay AS",
                                   "state": "pending", "note": None}]
    assert "Data handed over separately" in text
    assert "crm (Vipps MobilePay AS): not yet answered" in text


def test_art15_3_package_gives_the_note_a_manual_task_was_closed_with(
        with_datasets: Any, opener: Callable[..., str], tmp_path: Path) -> None:
    """Art. 15(1), (3): once the task is closed, a package made from it gives its note."""
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "access", "ext:31")
    service.run(rid, reason="identity checked", out_dir=tmp_path, lang="en")
    service.task_done(rid, "crm", "CRM sent the person their data directly", out_dir=tmp_path)
    with rt.transaction() as s:
        job = replace(jobs.snapshot(s, get_request(s, rid)),
                      callbacks=tasks.answers(tasks.tasks_of(s, rid)))
    again = tmp_path / "again"
    env = jobs.Env(rt.loaded.manifest, service.ctx.jurisdiction, rt.clock, again, "nb")
    access.package(job, env, [])
    document, text = _read(again / f"access-{rid}.zip")
    assert document["manual"] == [{"dataset": "crm", "processor": "Vipps MobilePay AS",
                                   "state": "done",
                                   "note": "CRM sent the person their data directly"}]
    assert "Opplysninger som utleveres separat" in text
    assert "crm (Vipps MobilePay AS): besvart: CRM sent the person their data directly" in text
