"""``personvern policy publish`` of a material change, in a manifest that promises an
e-mail notice of one, says who the notice cannot reach: the people with no e-mail address
on record, to whom "queued N e-mail notices" would otherwise pass for everyone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from mail.test_mail_cli import env_for, ok
from policy.support import lawful_data

NOW = "2027-03-01T12:00:00+01:00"


def first_version_with(tmp_path: Path, data: dict[str, Any], *people: tuple[str, str]) -> None:
    """Version 1 of ``data``'s policy published by the CLI, then ``people`` added, each as
    ``subject add``'s option and value."""
    env = env_for(tmp_path, data)
    ok("policy", "publish", "--effective", "2027-03-08", "--now", NOW, env=env)
    for option, value in people:
        ok("subject", "add", option, value, "--now", NOW, env=env)


def with_processor(data: dict[str, Any], recipient: str) -> None:
    """A processor in the US added to the error reports: a material change."""
    data["recipients"].append({
        "id": recipient, "name": recipient.title(), "role": "processor", "country": "US",
        "service": {"nb": "Feilrapporter", "en": "Error reports"},
        "transfer": {"mechanism": "scc"}, "dpa_signed": True})
    data["purposes"][6]["recipients"].append(recipient)
    data.pop("no_third_country_transfers", None)


def test_a_material_change_names_the_people_no_notice_reaches(tmp_path: Path) -> None:
    data = lawful_data()
    first_version_with(tmp_path, data, ("--email", "kari@example.no"),
                       ("--phone", "+47 912 34 567"), ("--external-id", "elev-7"))
    with_processor(data, "sentry")
    env = env_for(tmp_path, data)
    out = ok("policy", "publish", "--effective", "2027-03-09", "--now", NOW, env=env)
    assert "queued 1 e-mail notices" in out
    assert "not enforced: 2 people have no e-mail address on record: the notice of this " \
        "material change the policy promises does not reach them; tell them another way" \
        in out, out
    with_processor(data, "bugsnag")
    env = env_for(tmp_path, data)
    out = ok("policy", "publish", "--effective", "2027-03-10", "--now", NOW, "--json", env=env)
    assert json.loads(out)["notices_unreachable"] == 2
    # The audit trail keeps it too: each publish's event says whom its notice missed.
    with sqlite3.connect(tmp_path / "pv.db") as db:
        said = [json.loads(d)["notices_unreachable"] for (d,) in db.execute(
            "SELECT details FROM audit_events WHERE action = 'policy.published' ORDER BY id")]
    assert said == [0, 2, 2]
