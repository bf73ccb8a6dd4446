"""GDPR Art. 15(1), (3): the access package names the data a processor hands over separately.

A manual dataset (a processor's system, reached by a task a person closes) is never in the
package's rows. The package's summary and ``data.json`` say it exists, who holds it, and
the task's state when the package was made: "not yet answered" while open, else the note
it was closed with, so the person can tell that more of their data exists.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from personvern.errors import Conflict
from personvern.mail.tables import OutboxMessage
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


def test_art15_3_the_last_task_closed_amends_the_package_the_person_downloads(
        with_datasets: Any, opener: Callable[..., str], tmp_path: Path) -> None:
    """Art. 15(1), (3): the package written while the processor had not answered is the one
    the person downloads once the owner closes the task; it must give the answer, and the
    letter says the dataset was handled by hand, not "not yet answered" beside "done"."""
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "access", "ext:31")
    service.run(rid, reason="identity checked", out_dir=tmp_path, lang="en")
    done = service.task_done(rid, "crm", "CRM sent the person their data directly",
                             out_dir=tmp_path)
    assert done is not None and done.state == "completed"
    path = Path(done.outcome["package"]["path"])
    assert path == tmp_path / f"access-{rid}.zip"
    document, text = _read(path)
    assert document["manual"] == [{"dataset": "crm", "processor": "Vipps MobilePay AS",
                                   "state": "done",
                                   "note": "CRM sent the person their data directly"}]
    assert "not yet answered" not in text
    assert "crm (Vipps MobilePay AS): answered: CRM sent the person their data directly" in text
    # Amended, and said so; the download's check is of the amended file.
    assert document["amended_at"] and document["information"]["language"] == "en"
    assert done.outcome["package"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert done.outcome["package"]["bytes"] == path.stat().st_size
    with rt.transaction() as s:
        [letter] = s.scalars(select(OutboxMessage.body_text).where(
            OutboxMessage.kind == "request_completed"))
    assert "The data in crm was handled by hand by our processor and is not in your copy" \
        in letter
    assert "Opplysningene i crm ble behandlet manuelt" in letter


def test_art15_3_a_package_gone_before_the_answer_is_said_not_completed_without_it(
        with_datasets: Any, opener: Callable[..., str], tmp_path: Path) -> None:
    """The package to amend is gone: the request is not completed with a letter offering a
    copy that does not give the answer; it waits, saying which file is missing."""
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "access", "ext:31")
    service.run(rid, reason="identity checked", out_dir=tmp_path, lang="en")
    (tmp_path / f"access-{rid}.zip").unlink()
    with pytest.raises(Conflict, match=f"the access package .*access-{rid}.zip written before"):
        service.task_done(rid, "crm", "CRM sent the person their data directly",
                          out_dir=tmp_path)
    with rt.transaction() as s:
        req = get_request(s, rid)
        assert req.state == "waiting" and "is not there to be amended" in req.outcome["error"]


def test_a_package_written_to_a_relative_directory_is_found_from_another(
        with_datasets: Any, opener: Callable[..., str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``request run --out .`` (the CLI's default) then ``request task-done`` from another
    directory: the stored path is absolute, so the package is found and amended, not
    reported missing while it sits where it was written."""
    rt, service = with_datasets(CRM)
    rid = opener(rt, service, "access", "ext:31")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    service.run(rid, reason="identity checked", out_dir=Path(), lang="en")
    monkeypatch.chdir(tmp_path / "second")
    done = service.task_done(rid, "crm", "CRM sent the person their data directly",
                             out_dir=Path())
    assert done is not None and done.state == "completed"
    path = Path(done.outcome["package"]["path"])
    assert path == tmp_path / "first" / f"access-{rid}.zip"
    assert _read(path)[0]["manual"][0]["state"] == "done"
