"""The README's tour, run verbatim on a fresh ``make demo``: what it shows is what you get.

Every ```console block of the "A short tour" section is a terminal session: a line
``$ COMMAND`` (continued by a trailing backslash) runs, and the lines after it, up to the
next ``$``, are its output as shown. The commands run here in this process (the
``personvern`` console script's own entry, tests/cli_inprocess.py) in a fresh directory
where the demo was written by the Makefile's own ``demo`` recipe, with nothing of the
test's environment: only what the tour's ``export`` lines set.

What is compared, and the only normalisation: a shown line equals the line printed, where
``…`` inside a line stands for text that differs from run to run (a random request, key
or receipt id, the directory the tour runs in) and a line that is only ``…`` stands for
lines left out (a long policy, most of the findings). Everything dated is dated by the
demo's fixed "now" or by ``--now``, so no line depends on the day the test runs. A command
exits 0 unless its line says ``# exit N``.

Commands that do not return by themselves (``serve``, ``users add`` asking for a
password) are in ```sh blocks and inline code; those, the hints the CLI prints while the
tour runs, the hints written in the source and the lines ``make demo`` prints are parsed
with the CLI's own parser (every option and argument checked), not run.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer

from cli_inprocess import run_personvern
from personvern.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
GAP = "…"
# The one step of the tour done by hand: the README asks the reader to make this typo.
TYPO = ("check it again", "legal_basis: contract", "legal_basis: consnt", 85)


@dataclass
class Step:
    """One command of the tour: run (and compared) or only parsed."""

    line: int
    command: str
    shown: list[str] = field(default_factory=list)
    run: bool = True
    before: str = ""  # the prose just before its block


def tour() -> str:
    """The README's "A short tour" section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## A short tour\n")
    return text[start:text.index("\n## ", start + 1)]


def steps(section: str) -> list[Step]:
    """The tour's commands in order, with the output shown for each."""
    text = README.read_text(encoding="utf-8")
    offset = text[:text.index(section)].count("\n")
    found: list[Step] = []
    at = 0
    for block in re.finditer(r"```(\w*)\n(.*?)```", section, re.S):
        prose = section[at:block.start()]
        at = block.end()
        found += [Step(0, cmd, run=False, before="inline")
                  for cmd in re.findall(r"`(personvern [^`]+)`", prose)]
        lang, body = block.group(1), block.group(2)
        line = offset + section[:block.start()].count("\n") + 2  # the README's line
        if lang == "console":
            found += _session(body, line, prose)
        elif lang == "sh":
            found += [Step(line + i, cmd, run=False) for i, cmd in _commands(body.splitlines())]
    found += [Step(0, cmd, run=False, before="inline")
              for cmd in re.findall(r"`(personvern [^`]+)`", section[at:])]
    return found


def _commands(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Shell lines joined at trailing backslashes; comment lines left out."""
    pending, first = "", 0
    for i, raw in enumerate(lines):
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        first = first if pending else i
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        yield first, pending + raw
        pending = ""


def _session(body: str, line: int, prose: str) -> list[Step]:
    out: list[Step] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        text = lines[i]
        if text.startswith("$ "):
            command = text[2:]
            while command.rstrip().endswith("\\"):
                i += 1
                command = command.rstrip()[:-1] + " " + lines[i].strip()
            out.append(Step(line + i, command, before=prose))
        else:
            assert out, f"README line {line + i}: output before any command: {text!r}"
            out[-1].shown.append(text)
        i += 1
    return out


def _expected_exit(command: str) -> int:
    found = re.search(r"#\s*exit (\d+)\b", command)
    return int(found.group(1)) if found else 0


def _expand(value: str, env: dict[str, str]) -> str:
    """$NAME and ${NAME} from the session's environment, as the shell expands them."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


def matches(shown: list[str], printed: list[str]) -> bool:
    """Whether the printed lines are the shown ones (``…`` as the module docstring says)."""
    if not shown:
        return not printed
    head, rest = shown[0], shown[1:]
    if head == GAP:
        return any(matches(rest, printed[k:]) for k in range(len(printed) + 1))
    if not printed:
        return False
    pattern = ".*?".join(re.escape(part) for part in head.split(GAP))
    return re.fullmatch(pattern, printed[0]) is not None and matches(rest, printed[1:])


def parse(command: str, *, complete: bool = True) -> None:
    """Check ``personvern ARGS`` with the CLI's own parser: the command path, every option
    and argument (types, choices, required ones); nothing runs. Not ``complete``: a command
    named in prose (`personvern check`), whose required arguments may be left out."""
    argv = shlex.split(command, comments=True)
    while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):
        argv = argv[1:]  # NAME=value prefixes set the environment
    assert argv[0] == "personvern", command
    cmd = typer.main.get_command(app)
    ctx = cmd.make_context("personvern", argv[1:], resilient_parsing=not complete)
    while isinstance(cmd, typer.core.TyperGroup):
        # A group keeps the subcommand's name apart from the arguments after it.
        rest = [*ctx._protected_args, *ctx.args]
        assert rest, f"{command}: names a group, not a command"
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None and name is not None, command
        cmd, ctx = sub, sub.make_context(name, rest, parent=ctx,
                                         resilient_parsing=not complete)


def hints(text: str) -> list[str]:
    """The ``personvern ...`` commands a message tells a person to run."""
    found = re.findall(r"`(personvern [^`]+)`", text)
    found += re.findall(r"(?:^|\b)(?:try|next): (personvern [^;\n]+?)\s*$", text, re.M)
    return found


def _make_demo_command() -> tuple[list[str], dict[str, str]]:
    """The Makefile's `demo` recipe line that writes the demo, with its variables."""
    make = MAKEFILE.read_text(encoding="utf-8")
    variables = dict(re.findall(r"^(\w+)\s*\?=\s*(.*?)\s*$", make, re.M))
    recipe = make[make.index("\ndemo:"):]
    line = re.search(r"^\t\$\(BIN\)/(personvern demo init .*)$", recipe, re.M)
    assert line, "the demo recipe writes the demo with personvern demo init"
    text = re.sub(r"\$\((\w+)\)", lambda m: variables[m.group(1)], line.group(1))
    return shlex.split(text)[1:], variables


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Step, int, list[str], str]]:
    """The whole tour, run once in a fresh directory: (step, exit code, lines, stderr)."""
    work = tmp_path_factory.mktemp("tour")
    (work / "examples").symlink_to(ROOT / "examples")
    (work / ".venv").symlink_to(ROOT / ".venv")
    # What a terminal has before the tour: no Personvern settings, no master key.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
           "PWD": str(work)}
    args, _ = _make_demo_command()
    made = run_personvern(*args, env=env, cwd=work)
    assert made.returncode == 0, made.stderr
    # What make demo's `demo init` printed counts among the hints (its export line too).
    results = [(Step(0, "personvern " + shlex.join(args)), 0,
                (made.stdout + made.stderr).splitlines(), made.stderr)]
    for step in [s for s in steps(tour()) if s.run]:
        if step.before and TYPO[0] in step.before:
            _, old, new, line = TYPO
            lines = (work / "tt.yaml").read_text(encoding="utf-8").split("\n")
            assert old in lines[line - 1], lines[line - 1]
            lines[line - 1] = lines[line - 1].replace(old, new)
            (work / "tt.yaml").write_text("\n".join(lines), encoding="utf-8")
        argv = shlex.split(step.command, comments=True)
        if argv[0] == "export":
            for assignment in argv[1:]:
                name, value = assignment.split("=", 1)
                env[name] = _expand(value, env)
            results.append((step, 0, [], ""))
            continue
        assert argv[0] == "personvern", f"README line {step.line}: {step.command}"
        # The export lines must have put the installed script on the PATH.
        assert shutil.which("personvern", path=env["PATH"]) == str(
            work / ".venv" / "bin" / "personvern"), env["PATH"]
        out = run_personvern(*argv[1:], env=env, cwd=work)
        printed = (out.stdout + out.stderr).splitlines()
        results.append((step, out.returncode, printed, out.stderr))
    if os.environ.get("TOUR_PRINT"):  # for writing the README: what each command printed
        for step, code, printed, _ in results:
            print(f"$ {step.command}  [exit {code}]", *printed, sep="\n")
    return results


def test_every_command_of_the_tour_runs_and_prints_what_is_shown(
        ran: list[tuple[Step, int, list[str], str]]) -> None:
    assert len(ran) >= 30
    for step, code, printed, stderr in ran:
        assert code == _expected_exit(step.command), (step.line, step.command, stderr)
        if step.shown:
            assert matches(step.shown, printed), (step.line, step.command, printed)


def test_the_typo_the_tour_asks_for_is_reported_where_it_is(
        ran: list[tuple[Step, int, list[str], str]]) -> None:
    [(_, code, printed, _)] = [r for r in ran if TYPO[0] in r[0].before]
    assert code == 2 and printed[0].startswith(f"tt.yaml:{TYPO[3]}:")


def test_commands_not_run_are_valid_for_the_cli() -> None:
    shown = [s for s in steps(tour()) if not s.run]
    assert any("serve" in s.command for s in shown) and any("users add" in s.command
                                                             for s in shown)
    for step in shown:
        parse(step.command, complete=step.before != "inline")


def test_every_hint_the_tour_prints_is_a_valid_command(
        ran: list[tuple[Step, int, list[str], str]]) -> None:
    printed = [h for _, _, lines, _ in ran for h in hints("\n".join(lines))]
    assert printed  # init's "next: personvern check ..." at least
    for hint in printed:
        parse(hint)
    # The `export` lines it prints (keys init-master, keys rotate) name a file that exists.
    exports = [m for _, _, lines, _ in ran for line in lines
               if (m := re.fullmatch(r"\s*export (PERSONVERN_\w+)=(\S+)", line))]
    assert len(exports) >= 2
    assert all(Path(m.group(2)).is_file() for m in exports), [m.group(0) for m in exports]


def test_the_hints_make_demo_prints_are_valid_and_put_personvern_on_the_path() -> None:
    make = MAKEFILE.read_text(encoding="utf-8")
    recipe = make[make.index("\ndemo:"):make.index("\nclean:")]
    echoed = [m[1] for m in re.findall(r"^\t@echo ([\"'])\s*(.*)\1$", recipe, re.M)]
    assert 'export PATH="$$PWD/$(BIN):$$PATH"' in echoed
    commands = [e.replace("$(DEMO_DIR)", "demo") for e in echoed
                if re.match(r"(PERSONVERN_\w+=\S+ )?personvern ", e)]
    assert len(commands) >= 5
    for command in commands:
        parse(command)


def source_hints() -> dict[str, str]:
    """Every `personvern ...` in the source's strings (docstrings and comments left out:
    they are read by developers, not printed), placeholders ({...}) filled with a value."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src" / "personvern").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):  # an f-string: its parts, a value between
                text = "".join(v.value if isinstance(v, ast.Constant) else "x1"
                               for v in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings:
                text = node.value
            else:
                continue
            for hint in re.findall(r"`(personvern [^`]+)`", text):
                found[" ".join(hint.split())] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_hint_written_in_the_source_is_a_valid_command() -> None:
    found = source_hints()
    assert "personvern keys rotate --new-key-file FILE" in found
    bad = {}
    for hint, where in found.items():
        try:
            parse(hint)
        except (AssertionError, typer.BadParameter, typer._click.exceptions.ClickException,
                typer._click.exceptions.UsageError) as exc:
            bad[hint] = f"{where}: {exc}"
    assert bad == {}
