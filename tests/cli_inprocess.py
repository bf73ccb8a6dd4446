"""``personvern ARGS`` run inside the test process, answered like a finished subprocess.

Starting the ``personvern`` script costs 1-2 s of interpreter start and imports per call;
most CLI tests are about what a command prints, stores and exits with, not about the
process. ``run_personvern`` calls the same console-script entry (``cli.entry.run``: the
fast ``check`` path, else the Typer app with its error handling), with exactly the given
environment, argv, working directory and standard input, and hands back a
``CompletedProcess`` (returncode, stdout, stderr), so a test reads the same either way.

What a fresh process would not share with the test process is reset and put back: the
environment, ``sys.argv``, the working directory, the standard streams and the process's
default keyring (``personvern.crypto.keyring``), which a command's runtime replaces.

A few tests still run the installed script in a real process on purpose: the script itself
(tests/breach, tests/ropa ``test_installed_script``), ``check``'s start-up budget and exit
codes (tests/cli/test_check_*), ``serve`` (tests/web/test_cli_keys_serve.py) and SIGKILL
mid-sweep (tests/retention/test_crash.py).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

PROG = "personvern"


def run_personvern(*args: str, env: Mapping[str, str] | None = None,
                   cwd: Path | str | None = None, stdin: str = ""
                   ) -> subprocess.CompletedProcess[str]:
    """``personvern ARGS`` in this process; ``env`` (if given) replaces the environment."""
    from personvern.cli.entry import run
    from personvern.crypto import keyring

    saved_env = dict(os.environ)
    saved_argv, saved_stdin = sys.argv, sys.stdin
    saved_cwd = Path.cwd()
    saved_keyring = keyring._DEFAULT
    out, err = io.StringIO(), io.StringIO()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = [PROG, *args]
        sys.stdin = io.StringIO(stdin)
        keyring.use_keyring(None)  # a new process has none until its runtime sets one
        with redirect_stdout(out), redirect_stderr(err):
            try:
                run()
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc, err)
    finally:
        keyring.use_keyring(saved_keyring)
        sys.argv, sys.stdin = saved_argv, saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([PROG, *args], code, out.getvalue(), err.getvalue())


def _exit_code(exc: SystemExit, err: io.StringIO) -> int:
    """The status the interpreter would exit with for ``exc`` (a message goes to stderr)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    err.write(f"{exc.code}\n")
    return 1
