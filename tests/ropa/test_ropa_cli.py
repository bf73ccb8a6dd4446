"""``personvern ropa export``: from the manifest alone, no database."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from personvern.cli import ropa_cmd
from personvern.errors import NotFound

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXE = str(Path(sys.executable).parent / "personvern")

# The sub-app mounted as cli/main.py mounts it, so these tests need no change there.
app = typer.Typer()
app.add_typer(ropa_cmd.app, name="ropa")


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.exception


def test_csv_to_stdout_is_the_default() -> None:
    code, out, _ = invoke("ropa", "export", "--manifest", str(EXAMPLES / "snapmentor.yaml"))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["purpose_id"] == "sessions"
    assert rows[0]["controller_name"] == "SnapMentor AS"


def test_jsonld_and_html_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "ropa.jsonld"
    code, _, _ = invoke("ropa", "export", "-m", str(EXAMPLES / "teoritentamen.yaml"),
                        "--format", "jsonld", "--lang", "en", "--out", str(target))
    assert code == 0
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["@context"]["dpv"] == "https://w3id.org/dpv#"
    assert doc["@context"]["@language"] == "en"
    page = tmp_path / "ropa.html"
    code, _, _ = invoke("ropa", "export", "-m", str(EXAMPLES / "teoritentamen.yaml"),
                        "--format", "html", "--out", str(page))
    assert code == 0 and '<html lang="nb">' in page.read_text(encoding="utf-8")


def test_csv_file_keeps_crlf_row_ends(tmp_path: Path) -> None:
    target = tmp_path / "ropa.csv"
    invoke("ropa", "export", "-m", str(EXAMPLES / "vekstly.yaml"), "--out", str(target))
    raw = target.read_bytes()
    assert raw.count(b"\r\n") >= 2 and b"\r\r\n" not in raw


def test_processor_record_for_seed_003_and_refusal_elsewhere() -> None:
    code, out, _ = invoke("ropa", "export", "-m", str(EXAMPLES / "minmentor.yaml"),
                          "--processor", "--format", "jsonld")
    assert code == 0
    assert json.loads(out)["dpv:hasDataProcessor"]["dpv:hasName"] == "MIN MENTOR AS"
    code, _, exc = invoke("ropa", "export", "-m", str(EXAMPLES / "vekstly.yaml"), "--processor")
    assert code == 1 and isinstance(exc, NotFound)
    assert "processes no data on behalf of customers" in str(exc)


def test_bad_options_are_usage_errors() -> None:
    code, _, _ = invoke("ropa", "export", "-m", str(EXAMPLES / "vekstly.yaml"), "--lang", "de")
    assert code == 2
    code, _, _ = invoke("ropa", "export", "-m", str(EXAMPLES / "vekstly.yaml"), "-f", "xml")
    assert code == 2


def test_installed_script(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PERSONVERN_MANIFEST": str(EXAMPLES / "lillemini.yaml")}
    out = subprocess.run([EXE, "ropa", "export", "--format", "csv", "--lang", "en"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    # Seed 002's purposes: the service, marketing, usage analysis, accounting, legal claims.
    assert len(list(csv.DictReader(io.StringIO(out.stdout)))) == 5
    refused = subprocess.run([EXE, "ropa", "export", "--processor"], capture_output=True,
                             text=True, env=env, timeout=60, check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: Lillemini processes no data on behalf")
    missing = subprocess.run([EXE, "ropa", "export", "-m", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
