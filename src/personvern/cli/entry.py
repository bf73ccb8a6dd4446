"""The console-script entry: plain ``personvern check`` runs without the CLI framework.

``check`` is what editors and CI run on every save, against a 300 ms budget with the
interpreter's start included. Typer (with click and its pydantic adapters) costs about
150 ms to import, half of that budget, so the common invocations of ``check`` —
``check [FILE] [--format|-f text|json|sarif]`` — are parsed here with nothing but the
standard library. Anything else (``--help``, other commands, arguments this parser does
not know) goes to the Typer app in ``cli.main``, which stays the one description of the
CLI and gives the usage errors.

``version`` with no arguments is answered here too: through Typer it cost ~300 ms, most
of it Typer's parameter coercion importing Pydantic, to print one line.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

FORMATS = ("text", "json", "sarif")
# The values of PYDANTIC_DISABLE_PLUGINS with which Pydantic loads no plugin at all.
PLUGINS_OFF = ("__all__", "1", "true")
PLUGIN_LOADER = "pydantic.plugin._loader"


def parse_check(args: Sequence[str]) -> tuple[Path | None, str] | None:
    """(manifest, format) for a plain ``check`` argument list, or None to use the full CLI."""
    manifest: Path | None = None
    fmt = "text"
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("--format", "-f"):
            if not rest:
                return None
            fmt = rest.pop(0)
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg.startswith("-") or manifest is not None:
            return None  # --help, unknown options, a second file: the full CLI answers
        else:
            manifest = Path(arg)
    return (manifest, fmt) if fmt in FORMATS else None


def run_check(manifest: Path | None, fmt: str, echo: Callable[[str], None], *,
              datasets: bool = False) -> int:
    """Check ``manifest`` (and with ``datasets`` its map against the live databases), print
    the report in ``fmt`` with ``echo``; the exit code (0 or 1)."""
    from personvern.check.engine import has_errors, run_checks, sort_findings
    from personvern.check.output import as_json, as_sarif, as_text
    from personvern.manifest.loader import load_manifest
    from personvern.settings import get_settings

    settings = get_settings(manifest=manifest)
    loaded = load_manifest(settings.manifest, max_bytes=settings.max_manifest_bytes)
    findings = run_checks(loaded)
    if datasets:
        from personvern.check.drift import drift_findings

        findings = sort_findings([*findings, *drift_findings(loaded)])
    if fmt == "json":
        echo(as_json(findings))
    elif fmt == "sarif":
        from importlib.metadata import version

        echo(as_sarif(findings, loaded.file, version("personvern")))
    else:
        echo(as_text(findings, loaded.file))
    return 1 if has_errors(findings) else 0


def error_lines(exc: BaseException) -> list[str]:
    """How a known error is told on stderr: compiler-style lines for manifest problems."""
    from personvern.errors import ManifestError

    if isinstance(exc, ManifestError):
        # One line per problem, so editors and CI can jump to it.
        return [
            f"{p.location()}: error: {f'{p.path}: ' if p.path else ''}{p.message}"
            for p in exc.problems
        ]
    return [f"error: {exc}"]


def _get_plugins() -> tuple[object, ...]:
    """Pydantic's ``get_plugins`` as its loader answers: none while plugins are off, else
    the real loader's (imported then, in place of this stand-in)."""
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in PLUGINS_OFF:
        return ()
    if sys.modules.get(PLUGIN_LOADER) is _LOADER:
        del sys.modules[PLUGIN_LOADER]
    # Only when plugins were switched on after start-up: then the real loader is needed.
    from importlib import import_module

    return tuple(import_module(PLUGIN_LOADER).get_plugins())


_LOADER = ModuleType(PLUGIN_LOADER, "Stands in for Pydantic's plugin loader (cli.entry).")
_LOADER.get_plugins = _get_plugins  # type: ignore[attr-defined]


def skip_plugin_scan() -> None:
    """Stand in for Pydantic's plugin loader while plugins are off: its module imports
    importlib.metadata (~40 modules, ~20 ms of CPU) before it reads the switch."""
    if (os.environ.get("PYDANTIC_DISABLE_PLUGINS") in PLUGINS_OFF
            and PLUGIN_LOADER not in sys.modules):
        sys.modules[PLUGIN_LOADER] = _LOADER


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")


def run() -> None:
    """Console-script entry: the fast ``check`` path, else the full Typer CLI."""
    # We use no Pydantic plugins; without this Pydantic scans every installed
    # package's entry points on first validation (~40 ms of a 300 ms budget).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    skip_plugin_scan()
    argv = sys.argv[1:]
    if argv == ["version"]:
        from importlib.metadata import version

        _stdout(version("personvern"))
        sys.exit(0)
    parsed = parse_check(argv[1:]) if argv[:1] == ["check"] else None
    if parsed is None:
        from personvern.cli.main import run as full_cli

        full_cli()
        return
    # This process ends with the check. The cycle collector's passes over the ~30,000
    # objects that imports leave, and over a large manifest's, were 5-50 % of a check's CPU;
    # reference counting frees what the check drops, and peak memory is no higher without
    # them (docs/performance.md, "Start-up: check, stop 26").
    gc.disable()
    from personvern.errors import PersonvernError

    try:
        code = run_check(*parsed, echo=_stdout)
    except PersonvernError as exc:
        for line in error_lines(exc):
            sys.stderr.write(line + "\n")
        code = exc.exit_code
    sys.exit(code)
