"""Property-based tests of the whole API from its own /openapi.json (schemathesis, ~20 s).

Every generated request must get an answer the document describes: no 5xx, the
documented status codes and content types, bodies that match their schemas (a problem's
``type`` one of the registered ones, which the document lists as an enum), 405s
whose Allow header lists the methods. Semantic refusals (422: a malformed e-mail, an
unknown cookie category) are expected answers to schema-valid input.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
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


def test_api_conforms_to_its_openapi(served: UvicornThread, app: FastAPI,
                                     tmp_path: Path) -> None:
    import httpx

    script = Path(sys.executable).with_name("schemathesis")
    if not script.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    token = new_key(app)
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as http:
        kari = http.post("/api/v1/subjects", json={"email": KARI}).json()["id"]
        given = http.post("/api/v1/consents", json={"subject": kari, "purpose": "newsletter",
                                                     "type": "consent_given"})
        assert given.status_code == 201
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(kari=kari), encoding="utf-8")
    result = subprocess.run(
        [str(script), "--config-file", str(config), "run", f"{served.url}/openapi.json",
         "--header", f"Authorization: Bearer {token}", "--max-examples", "25",
         "--seed", "20270301", "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
