"""``personvern export fides --dataset ID`` exports what it was asked for or refuses: a
dataset asked for by name that Fides cannot describe (kind http or manual) is refused with
exit 2 and nothing written, never "wrote …: 0 dataset(s)" with exit 0, and so is a name
the manifest does not have."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli_inprocess import run_personvern
from factories import minimal_manifest_dict

OLD = "dataset: []  # an earlier export\n"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    data = minimal_manifest_dict()
    data["datasets"] = [
        {"id": "shop", "url": "sqlite:///shop.db",
         "tables": [{"name": "members", "columns": [
             {"name": "email", "categories": ["user.contact.email"], "identity": "email"}]}]},
        {"id": "crm", "kind": "http", "callback": "https://crm.example.no/personvern"},
    ]
    path = tmp_path / "personvern.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("asked", "says"), [
    (["crm"], "dataset 'crm' is kind http: a Fides dataset describes a database's "
              "collections and fields, so only kind sql is exported; nothing was written. "
              "The manifest's SQL datasets: shop"),
    (["shop", "crm"], "dataset 'crm' is kind http"),
    (["nope"], "no dataset 'nope' in the manifest; its datasets: shop, crm"),
])
def test_a_dataset_that_cannot_be_exported_is_refused_and_nothing_written(
        manifest: Path, tmp_path: Path, asked: list[str], says: str) -> None:
    out = tmp_path / "fides.yml"
    out.write_text(OLD, encoding="utf-8")
    given = [x for name in asked for x in ("--dataset", name)]
    done = run_personvern("export", "fides", str(manifest), "--out", str(out), *given)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr, done.stderr
    assert "dataset(s)" not in done.stderr and done.stdout == ""
    assert out.read_text(encoding="utf-8") == OLD


def test_the_sql_dataset_asked_for_is_exported(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "fides.yml"
    done = run_personvern("export", "fides", str(manifest), "--out", str(out),
                          "--dataset", "shop")
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}: 1 dataset(s)" in done.stderr
    [ds] = yaml.safe_load(out.read_text(encoding="utf-8"))["dataset"]
    assert ds["fides_key"] == "shop"
