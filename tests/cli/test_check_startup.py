"""The console entry's start-up shortcuts answer as what they stand in for.

With Pydantic's plugins off, ``cli.entry`` puts a stand-in for Pydantic's plugin loader in
place (the real one imports importlib.metadata before it reads the switch). These tests
install a real Pydantic plugin (an entry point in a distribution on ``sys.path``) and show
that it is still found whenever the switch lets it be, and never when it does not.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from personvern.cli.entry import run_check

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''\
import sys


class Recorder:
    """Counts the validators Pydantic builds with this plugin."""

    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        print("PLUGIN", schema_type_path.name, file=sys.stderr)
        return None, None, None


plugin = Recorder()
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A directory holding a distribution whose entry point is a Pydantic plugin."""
    (tmp_path / "recorder_plugin.py").write_text(PLUGIN)
    info = tmp_path / "recorder_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder-plugin\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nrecorder = recorder_plugin:plugin\n")
    return tmp_path


def _run(code: str, plugin_path: Path, switch: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with the plugin installed and the switch set."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_path), env.get("PYTHONPATH", "")])
    if switch is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = switch
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT, env=env)


def _check(plugin_path: Path, switch: str | None) -> subprocess.CompletedProcess[str]:
    """``personvern check`` of an example through the console entry."""
    return _run("import sys\nsys.argv = ['personvern', 'check', 'examples/vekstly.yaml']\n"
                "from personvern.cli.entry import run\nrun()\n", plugin_path, switch)


def test_the_plugin_is_real_pydantic_finds_it_without_the_entry(plugin_path: Path) -> None:
    out = _run("from pydantic import BaseModel\nclass M(BaseModel):\n    a: int\n"
               "M(a=1)\n", plugin_path, None)
    assert "PLUGIN M" in out.stderr, out.stderr


def test_check_with_plugins_off_by_default_builds_no_plugin(plugin_path: Path) -> None:
    out = _check(plugin_path, None)
    assert out.returncode == 1 and out.stdout, out.stderr
    assert "PLUGIN" not in out.stderr


@pytest.mark.parametrize("switch", ["", "some_other_plugin"])
def test_check_with_plugins_on_still_runs_them(plugin_path: Path, switch: str) -> None:
    out = _check(plugin_path, switch)
    assert out.returncode == 1 and out.stdout, out.stderr
    assert "PLUGIN Manifest" in out.stderr


def test_check_with_this_plugin_switched_off_by_name_skips_it(plugin_path: Path) -> None:
    out = _check(plugin_path, "recorder")
    assert out.returncode == 1 and out.stdout, out.stderr
    assert "PLUGIN" not in out.stderr


def test_plugins_switched_on_after_start_up_are_found(plugin_path: Path) -> None:
    code = ("import os, sys\n"
            "os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
            "from personvern.cli.entry import skip_plugin_scan\nskip_plugin_scan()\n"
            "from pydantic import BaseModel\n"
            "class A(BaseModel):\n    a: int\n"
            "A(a=1)\n"
            "print('METADATA', 'importlib.metadata' in sys.modules, file=sys.stderr)\n"
            "del os.environ['PYDANTIC_DISABLE_PLUGINS']\n"
            "class B(BaseModel):\n    b: int\n"
            "B(b=1)\n")
    out = _run(code, plugin_path, None)
    assert out.returncode == 0, out.stderr
    assert "METADATA False" in out.stderr
    assert "PLUGIN A" not in out.stderr and "PLUGIN B" in out.stderr


def test_check_in_process_leaves_the_cycle_collector_on(tmp_path: Path) -> None:
    printed: list[str] = []
    assert gc.isenabled()
    code = run_check(ROOT / "examples" / "vekstly.yaml", "text", printed.append)
    assert code == 1 and printed
    assert gc.isenabled()
