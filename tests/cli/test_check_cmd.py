"""``personvern check`` and ``personvern init`` as a user runs them: a real process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from personvern.check import RULES
from personvern.check.reference import render_rules

EXE = str(Path(sys.executable).parent / "personvern")
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manifest ``personvern init`` writes, once per module."""
    path = tmp_path_factory.mktemp("init") / "clean.yaml"
    out = run("init", str(path))
    assert out.returncode == 0, out.stderr
    return path


@pytest.fixture
def clean(initialised: Path, tmp_path: Path) -> Path:
    """This test's copy of what ``personvern init`` wrote."""
    path = tmp_path / "clean.yaml"
    shutil.copy(initialised, path)
    return path


@pytest.fixture
def faulty(clean: Path) -> Path:
    text = clean.read_text().replace("legal_basis: contract", "legal_basis: consent")
    text = text.replace("    country: NO\n    dpa_signed: 2025-01-01\n", "    country: US\n")
    path = clean.with_name("faulty.yaml")
    path.write_text(text)
    return path


def test_clean_manifest_exits_zero(clean: Path) -> None:
    out = run("check", str(clean))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 errors, 0 warnings, 0 notes" in out.stdout


def test_errors_exit_one_with_located_lines(faulty: Path) -> None:
    out = run("check", str(faulty))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    pv006 = next(line for line in lines if " PV006 " in line)
    assert pv006.startswith(f"{faulty}:")
    assert "error PV006" in pv006 and "GDPR Art. 44-46" in pv006
    assert any(" PV002 " in line for line in lines)
    assert "Traceback" not in out.stderr


def test_json_format_keeps_the_public_contract(faulty: Path) -> None:
    out = run("check", str(faulty), "--format", "json")
    assert out.returncode == 1
    findings = json.loads(out.stdout)
    assert {"rule", "severity", "message", "line"} <= set(findings[0])
    by_rule = {f["rule"]: f for f in findings}
    assert by_rule["PV006"]["severity"] == "error"
    assert by_rule["PV019"]["path"] == "recipients[0].name"
    source = faulty.read_text().splitlines()
    assert "legal_basis: consent" in source[by_rule["PV002"]["line"] - 1]


def test_sarif_is_a_valid_2_1_0_log(faulty: Path) -> None:
    out = run("check", str(faulty), "--format", "sarif")
    log = json.loads(out.stdout)
    assert log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert len(driver["rules"]) == len(RULES)
    results = log["runs"][0]["results"]
    assert results and all(r["ruleId"] == driver["rules"][r["ruleIndex"]]["id"] for r in results)
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_unknown_format_is_a_usage_error(clean: Path) -> None:
    out = run("check", str(clean), "--format", "xml")
    assert out.returncode == 2
    assert "xml" in out.stderr and "Traceback" not in out.stderr


def test_manifest_from_environment(clean: Path) -> None:
    out = subprocess.run([EXE, "check"], capture_output=True, text=True, timeout=60, check=False,
                         env={"PATH": "/usr/bin:/bin", "PERSONVERN_MANIFEST": str(clean)})
    assert out.returncode == 0, out.stderr


def test_default_manifest_missing_is_a_clear_error(tmp_path: Path) -> None:
    out = run("check", cwd=tmp_path)
    assert out.returncode == 2
    assert "personvern.yaml: error: no such file" in out.stderr


def test_init_refuses_to_overwrite(clean: Path) -> None:
    before = clean.read_text()
    out = run("init", str(clean))
    assert out.returncode == 1 and "exists" in out.stderr
    assert clean.read_text() == before


def test_init_unknown_template(tmp_path: Path) -> None:
    out = run("init", str(tmp_path / "x.yaml"), "--template", "nope")
    assert out.returncode != 0
    assert "unknown template 'nope'" in out.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_every_command_has_help() -> None:
    for args in (["--help"], ["check", "--help"], ["init", "--help"], ["db", "--help"]):
        out = run(*args)
        assert out.returncode == 0, args
        assert "Usage:" in out.stdout


def test_rules_doc_is_in_sync() -> None:
    assert (ROOT / "docs" / "rules.md").read_text() == render_rules(), "run `make docs`"


FULL_CLI = "import sys; from personvern.cli.main import run; sys.argv[0] = 'personvern'; run()"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
@pytest.mark.parametrize("seed", ["lillemini", "teoritentamen"])
def test_fast_check_answers_exactly_like_the_full_cli(seed: str, fmt: str) -> None:
    manifest = str(ROOT / "examples" / f"{seed}.yaml")
    fast = run("check", manifest, f"--format={fmt}")
    full = subprocess.run([sys.executable, "-c", FULL_CLI, "check", manifest, "-f", fmt],
                          capture_output=True, text=True, timeout=60, check=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        full.returncode, full.stdout, full.stderr)
    assert fast.returncode == 1 and fast.stdout


# What `check` and `version` must not import: the CLI framework (~150 ms), the database,
# the web stack, the cryptography and mail: none of it is needed to read a manifest, and
# each would cost every editor save and CI run its import time (the 300 ms budget, issue 15).
NOT_FOR_CHECK = ("typer", "click", "sqlalchemy", "psycopg", "alembic", "fastapi", "starlette",
                 "uvicorn", "jinja2", "cryptography", "httpx", "phonenumbers",
                 "personvern.storage", "personvern.consent", "personvern.web",
                 "personvern.requests", "personvern.crypto", "personvern.mail")


@pytest.mark.parametrize("args", [["check", "{clean}"], ["check", "{clean}", "-f", "json"],
                                  ["version"]])
def test_fast_check_does_not_load_the_cli_framework_or_the_engine(
        clean: Path, args: list[str]) -> None:
    argv = [a.replace("{clean}", str(clean)) for a in args]
    probe = ("import atexit, sys\n"
             f"heavy = {NOT_FOR_CHECK!r}\n"
             "atexit.register(lambda: print(sorted(m for m in sys.modules if m in heavy "
             "or m.startswith(tuple(h + '.' for h in heavy))), file=sys.stderr))\n"
             f"sys.argv = ['personvern', *{argv!r}]\n"
             "from personvern.cli.entry import run\nrun()\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "[]"


def test_unusual_check_arguments_go_to_the_full_cli(clean: Path) -> None:
    helped = run("check", "--help")
    assert helped.returncode == 0 and "Output format" in helped.stdout
    two = run("check", str(clean), str(clean))
    assert two.returncode == 2 and "Traceback" not in two.stderr


def test_fast_check_reports_manifest_errors_with_locations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("personvern: 1\ncontroller: [\n")
    out = run("check", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith(f"{bad}:") and ": error: " in out.stderr


def test_version_answers_like_the_full_cli_without_loading_it() -> None:
    fast = run("version")
    full = subprocess.run([sys.executable, "-c", FULL_CLI, "version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (0, full.stdout, full.stderr)
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*\n", fast.stdout)
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print(sorted(m for m in ('typer', 'click', 'pydantic') "
             "if m in sys.modules), file=sys.stderr))\n"
             "sys.argv = ['personvern', 'version']\n"
             "from personvern.cli.entry import run\nrun()\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0 and out.stderr.strip() == "[]"
    helped = run("version", "--help")  # anything more goes to the full CLI
    assert helped.returncode == 0 and "Print the installed Personvern version" in helped.stdout
