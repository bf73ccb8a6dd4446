"""``personvern check`` on manifests it cannot use: exit 2, file:line:column, no traceback.

The installed console script runs in a child process, exactly as a user or CI runs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factories import (
    INVALID_ORGNR,
    VALID_ORGNR,
    manifest_yaml,
    minimal_manifest_dict,
    small_manifest_dict,
    write_manifest,
)

EXE = shutil.which("personvern", path=str(Path(sys.executable).parent)) or str(
    Path(sys.executable).parent / "personvern"
)
FORMATS = ["text", "json", "sarif"]


def check(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``personvern check ARGS`` and return the finished process."""
    return subprocess.run(
        [EXE, "check", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=60, check=False,
    )


def assert_refused(out: subprocess.CompletedProcess[str], *expected_lines: str) -> None:
    """Exit 2, each expected line on stderr, and no traceback anywhere."""
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.splitlines()
    for expected in expected_lines:
        assert expected in lines, f"{expected!r} not among {lines!r}"


# ---- files that are no manifest --------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_directory(tmp_path: Path, fmt: str) -> None:
    out = check(tmp_path, "--format", fmt, cwd=tmp_path)
    assert_refused(out, f"{tmp_path}: error: is a directory, not a manifest file")


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_binary_file(tmp_path: Path, fmt: str) -> None:
    path = write_manifest(tmp_path, PNG, name="logo.png")
    out = check(path, "--format", fmt, cwd=tmp_path)
    assert_refused(out, f"{path}: error: is a binary file, not a YAML manifest")


@pytest.mark.parametrize("content", ["", "# only a comment\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = write_manifest(tmp_path, content)
    assert_refused(check(path, cwd=tmp_path), f"{path}:1:1: error: the manifest is empty")


def test_ten_megabyte_file_is_refused_fast(tmp_path: Path) -> None:
    filler = "# " + "x" * 97 + "\n"
    text = manifest_yaml(small_manifest_dict()) + filler * (10 * 1024 * 1024 // len(filler))
    path = write_manifest(tmp_path, text)
    started = time.perf_counter()
    out = check(path, cwd=tmp_path)
    elapsed = time.perf_counter() - started
    assert_refused(
        out, f"{path}: error: the file is 10.0 MB; a manifest may be at most 2 MB"
    )
    # Refused before reading it whole; generous, since a busy machine slows the start.
    assert elapsed < 20.0, f"took {elapsed:.2f} s, interpreter start included"


def test_missing_file(tmp_path: Path) -> None:
    out = check("nowhere.yaml", cwd=tmp_path)
    assert_refused(out, "nowhere.yaml: error: no such file")


def test_non_utf8_file(tmp_path: Path) -> None:
    text = manifest_yaml(minimal_manifest_dict()).replace("Leksehjelp AS", "Ærlig AS")
    path = write_manifest(tmp_path, text.encode("latin-1"))
    line = text[: text.index("Ærlig")].count("\n") + 1
    assert_refused(
        check(path, cwd=tmp_path),
        f"{path}:{line}:1: error: is not UTF-8 text (a binary file or another encoding)",
    )


# ---- manifests with errors: every one with file:line:column ------------------------

HEAD = f"""\
personvern: 1
service:
  name: Leksehjelp
controller:
  name: Leksehjelp AS
  orgnr: "{VALID_ORGNR}"
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_orgnr(tmp_path: Path, fmt: str) -> None:
    path = write_manifest(tmp_path, HEAD.replace(VALID_ORGNR, INVALID_ORGNR))
    out = check(path, "--format", fmt, cwd=tmp_path)
    assert_refused(
        out,
        f"{path}:6:10: error: controller.orgnr: '{INVALID_ORGNR}' is not a valid "
        "organisasjonsnummer (The number's checksum or check digit is invalid.)",
    )
    if fmt != "text" and out.stdout.strip():
        json.loads(out.stdout)  # whatever is on stdout stays machine-readable


def test_broken_yaml(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, HEAD + "languages: [nb, en\nsubjects: []\n")
    out = check(path, cwd=tmp_path)
    assert_refused(out)
    assert out.stderr.startswith(f"{path}:8:9: error: invalid YAML: ")


def test_unknown_key_and_bad_reference_are_all_reported(tmp_path: Path) -> None:
    data = small_manifest_dict()
    data["purposes"][1]["subjects"] = ["custmer"]
    data["purposes"][1]["recipients"] = ["mailchimp"]
    text = manifest_yaml(data)
    path = write_manifest(tmp_path, text)
    subject_line = text[: text.index("custmer")].count("\n") + 1
    recipient_line = text[: text.index("mailchimp")].count("\n") + 1
    assert_refused(
        check(path, cwd=tmp_path),
        f"{path}:{subject_line}:5: error: purposes[1].subjects[0]: unknown subject "
        "'custmer'; did you mean 'customer'?",
        f"{path}:{recipient_line}:5: error: purposes[1].recipients[0]: unknown recipient "
        "'mailchimp'; declared: hosting",
    )


def test_unsupported_version(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, HEAD.replace("personvern: 1", "personvern: 2"))
    assert_refused(
        check(path, cwd=tmp_path),
        f"{path}:1:13: error: personvern: unsupported schema version 2; this Personvern "
        "reads version 1",
    )


def test_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    bomb = HEAD + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" if i else 'l0: &l0 ["lol"]\n'
        for i in range(10)
    )
    path = write_manifest(tmp_path, bomb)
    started = time.perf_counter()
    out = check(path, cwd=tmp_path)
    assert_refused(out, f"{path}: error: the document expands to more than 1,000,000 values")
    # Expanded, the document would hold 9**10 values (hours of work and tens of GB); any
    # bound far below that shows it was refused unexpanded. Generous, as the machine may
    # be busy: this is not a speed test.
    assert time.perf_counter() - started < 20.0


def test_deep_nesting_does_not_crash_the_process(tmp_path: Path) -> None:
    # 200,000 brackets fit in a 2 MB file and overflow the C stack of PyYAML's composer.
    path = write_manifest(tmp_path, HEAD + "security: " + "[" * 200_000 + "]" * 200_000 + "\n")
    out = check(path, cwd=tmp_path)
    assert out.returncode != -11, "segmentation fault"
    assert_refused(out)
    # One line, ours, with the position inside the brackets of line 7 (where exactly
    # depends on how far libyaml scans ahead before its own limit; the words do not).
    [line] = out.stderr.splitlines()
    found = re.fullmatch(
        rf"{re.escape(str(path))}:7:(\d+): error: the document nests more than 100 levels deep",
        line)
    assert found is not None, line
    assert 110 <= int(found.group(1)) <= 10 + 200_000


def test_a_valid_manifest_is_not_refused(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, small_manifest_dict())
    out = check(path, cwd=tmp_path)
    assert out.returncode in (0, 1), out.stderr
    assert "Traceback" not in out.stdout + out.stderr
