"""Every ``--help`` lists each command with a whole sentence, never one cut off mid-way."""

from __future__ import annotations

import re
from pathlib import Path

from cli_inprocess import run_personvern

# A listed summary ends a sentence: not "...", not an abbreviation such as "(GDPR Art.".
ABBREVIATION_END = re.compile(r"\b(Art|e\.g|i\.e|cf|nr)\.$")


def listed(help_text: str) -> dict[str, str]:
    """The "Commands:" section of a help page: name -> summary on one line."""
    found: dict[str, str] = {}
    name = None
    section = help_text.split("\nCommands:\n", 1)[1] if "\nCommands:\n" in help_text else ""
    for line in section.splitlines():
        entry = re.match(r"^  (\S+)\s+(.*)$", line)
        if entry:
            name = entry.group(1)
            found[name] = entry.group(2).strip()
        elif name and line.startswith("    "):
            found[name] += " " + line.strip()
    return found


def walk(path: list[str]) -> dict[str, str]:
    """Every command under ``personvern PATH``: its full path -> the summary it is listed with."""
    out = run_personvern(*path, "--help")
    assert out.returncode == 0, (path, out.stderr)
    summaries: dict[str, str] = {}
    for name, summary in listed(out.stdout).items():
        summaries[" ".join([*path, name])] = summary
        summaries.update(walk([*path, name]))
    return summaries


def test_every_summary_is_a_whole_sentence() -> None:
    summaries = walk([])
    assert len(summaries) > 60 and "retention plan" in summaries and "ropa" in summaries
    bad = {cmd: s for cmd, s in summaries.items()
           if not s.endswith(".") or s.endswith("...") or ABBREVIATION_END.search(s)
           or s.count("(") != s.count(")")}
    assert bad == {}
    assert summaries["ropa"] == "The record of processing activities (GDPR Art. 30)."


def test_command_modules_evaluate_their_annotations_at_import() -> None:
    # Typer reads every command's signature each time it builds the tree (any --help);
    # string annotations (PEP 563) it compiles one by one: a fifth of --help's time.
    cli = Path(__file__).resolve().parents[2] / "src" / "personvern" / "cli"
    postponed = [p.name for p in sorted(cli.glob("*.py"))
                 if p.name.endswith("_cmd.py") or p.name == "main.py"
                 if "from __future__ import annotations" in p.read_text(encoding="utf-8")]
    assert postponed == []
