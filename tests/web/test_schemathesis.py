"""Property-based tests of the whole API from its own /openapi.json (schemathesis, ~20 s).

Every generated request must get an answer the document describes: no 5xx, the
documented status codes and content types, bodies that match their schemas (a problem's
``type`` one of the registered ones, which the document lists as an enum), 405s
whose Allow header lists the methods. Semantic refusals (422: a malformed e-mail, an
unknown cookie category) are expected answers to schema-valid input.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI

from web.support import KARI, UvicornThread, new_key

CONFIG = """\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[parameters]
"path.ref" = "{kari}"
"query.subject" = "{kari}"
"query.purpose" = "newsletter"
"""

# Values the server must accept for the creating calls, so that the scenarios get past
# them to the linked operations: the manifest's subject kind, an adult's birth date.
STATEFUL = """\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# Only the document's own links: what they promise is what is tested.
[phases.stateful.inference]
algorithms = []

[[operations]]
include-name = "POST /api/v1/requests"
[operations.parameters]
"body.subject" = "{kari}"
"body.type" = "access"
"body.opened_by" = "owner"
"body.verified_by" = "checked in a video call"

[[operations]]
include-name = "POST /api/v1/breaches"
[operations.parameters]
"body.aware_at" = "2027-03-01T09:00:00+01:00"
"body.risk" = "low"
"""


def schemathesis(served: UvicornThread, token: str, config: Path, *args: str
                 ) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` against the served API with ``token``; its result."""
    script = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [str(script), "--config-file", str(config), "run", f"{served.url}/openapi.json",
         "--header", f"Authorization: Bearer {token}", "--seed", "20270301",
         "--request-timeout", "10", "--no-color", *args],
        capture_output=True, text=True, timeout=240, check=False, cwd=config.parent,
    )


def kari(served: UvicornThread, token: str) -> str:
    """Kari, registered with a newsletter consent, for the runs to find; her id."""
    import httpx

    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as http:
        subject: str = http.post("/api/v1/subjects", json={"email": KARI}).json()["id"]
        given = http.post("/api/v1/consents", json={"subject": subject, "purpose": "newsletter",
                                                     "type": "consent_given"})
        assert given.status_code == 201
    return subject


def test_api_conforms_to_its_openapi(served: UvicornThread, app: FastAPI,
                                     tmp_path: Path) -> None:
    token = new_key(app)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(kari=kari(served, token)), encoding="utf-8")
    result = schemathesis(served, token, config, "--max-examples", "25",
                          "--phases", "examples,coverage,fuzzing")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_the_api_walked_along_its_links_answers_as_documented(
        served: UvicornThread, app: FastAPI, tmp_path: Path) -> None:
    """The stateful phase: sequences of calls that follow the document's links (a subject
    created, then read, consented, decided; a request opened, then verified, run, read),
    each answer checked as above; the links must really be walked, not only listed."""
    token = new_key(app)
    config = tmp_path / "schemathesis.toml"
    config.write_text(STATEFUL.replace("{kari}", kari(served, token)), encoding="utf-8")
    result = schemathesis(served, token, config, "--phases", "stateful",
                          "--max-examples", "60")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    covered = re.search(r"API Links:\s+(\d+) covered", result.stdout)
    assert covered is not None, result.stdout[-3000:]
    # The request's links (read, run, extend, refuse, verify, package) from a request opened
    # for Kari; the walk is random, so a floor rather than all of them.
    assert int(covered.group(1)) >= 4, result.stdout[-6000:]
