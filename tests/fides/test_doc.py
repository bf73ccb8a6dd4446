"""docs/fides.md's commands, run as written (the Fides file is the test fixture): the minute
it promises ends in a clean `check`, and the export commands it shows work."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from cli_inprocess import run_personvern

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fides.md"
SHOP = Path(__file__).parent / "data" / "shop_postgres.yml"


def blocks() -> list[list[list[str]]]:
    """Each ```sh block of the page: its commands as argument lists, comments dropped."""
    found = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return [[shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
            for block in found]


def test_the_minute_and_the_export_run_as_written(tmp_path: Path) -> None:
    minute, export = blocks()
    assert [c[:3] for c in minute] == [["personvern", "init", "personvern.yaml"],
                                       ["personvern", "import", "fides"],
                                       ["personvern", "check", "personvern.yaml"]]
    outs = []
    for command in [*minute, *export]:
        args = [str(SHOP) if a == "fides/postgres_dataset.yml" else a for a in command[1:]]
        out = run_personvern(*args, cwd=tmp_path)
        assert out.returncode == 0, (command, out.stdout, out.stderr)
        outs.append(out)
    # No error: only which imported tables (PV091) and categories (PV092) no purpose of the
    # template uses yet.
    assert " 0 errors, " in outs[2].stdout.splitlines()[-1]
    assert all(" PV091 " in x or " PV092 " in x for x in outs[2].stdout.splitlines()[:-1])
    written = yaml.safe_load((tmp_path / "personvern_dataset.yml").read_text(encoding="utf-8"))
    assert [d["fides_key"] for d in written["dataset"]] == ["app", "shop_postgres"]
    assert [d["fides_key"] for d in yaml.safe_load(outs[-1].stdout)["dataset"]] == ["app"]
