"""What ``personvern check`` on the shipped examples leaves out of the process.

email-validator (its Unicode patterns compile on import) and python-stdnum (its helpers
import ssl and pydoc) cost a plain manifest's check ~30 and ~50 ms of CPU of its 300 ms
budget; the examples' addresses and organisation numbers are plain, so neither may load.
Nor may importlib.metadata (with the email package, zipfile, csv, socket…: ~40 modules,
~20 ms), which Pydantic's plugin loader imports even with plugins off, nor difflib, which
only an unknown key's "did you mean" needs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
NOT_FOR_A_PLAIN_MANIFEST = ("email_validator", "idna", "stdnum")
NOT_FOR_ANY_CHECK = ("importlib.metadata", "email", "zipfile", "difflib")
WATCHED = NOT_FOR_A_PLAIN_MANIFEST + NOT_FOR_ANY_CHECK


def _loaded_after(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the console entry on ``argv`` in a fresh interpreter; the listed modules it loaded."""
    probe = ("import atexit, sys\n"
             f"watch = {WATCHED!r}\n"
             "atexit.register(lambda: print('LOADED', sorted({w for w in watch for m in "
             "sys.modules if m == w or m.startswith(w + '.')}), file=sys.stderr))\n"
             f"sys.argv = ['personvern', *{argv!r}]\n"
             "from personvern.cli.entry import run\nrun()\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=False, cwd=ROOT)
    line = next(x for x in out.stderr.splitlines() if x.startswith("LOADED"))
    return out, ast.literal_eval(line.removeprefix("LOADED "))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_check_of_an_example_loads_none_of_the_watched_modules(example: Path) -> None:
    out, loaded = _loaded_after(["check", str(example.relative_to(ROOT))])
    assert out.returncode in (0, 1), out.stderr
    assert out.stdout  # a report was printed
    assert loaded == []


def test_check_as_json_loads_none_of_the_watched_modules() -> None:
    out, loaded = _loaded_after(["check", "examples/minmentor.yaml", "--format", "json"])
    assert out.returncode == 1 and out.stdout.startswith("["), out.stderr
    assert loaded == []


def test_an_unknown_key_still_gets_its_did_you_mean(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "vekstly.yaml").read_text()
    path = tmp_path / "typo.yaml"
    path.write_text(text.replace("\nservice:\n", "\nservise:\n", 1))
    out, loaded = _loaded_after(["check", str(path)])
    assert out.returncode == 2
    assert "unknown key 'servise'; did you mean 'service'?" in out.stderr
    assert "difflib" in loaded


def test_an_address_that_is_not_plain_is_still_checked_by_email_validator(
        tmp_path: Path) -> None:
    text = (ROOT / "examples" / "minmentor.yaml").read_text()
    assert "post@minmentor.no" in text
    path = tmp_path / "unicode.yaml"
    path.write_text(text.replace("post@minmentor.no", "pøst@minmentor.no", 1))
    out, loaded = _loaded_after(["check", str(path)])
    assert "email_validator" in loaded
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("post@minmentor.no", "post@minmentor.test", 1))
    out, loaded = _loaded_after(["check", str(bad)])
    assert out.returncode == 2 and "special-use or reserved name" in out.stderr
    assert "email_validator" in loaded
