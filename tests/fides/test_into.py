"""`personvern import fides DATASET --into MANIFEST`: the Fides user's minute, from `init` to a
clean `check`, with every other line of the manifest kept and nothing written when the
result would not be a valid manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli_inprocess import run_personvern
from factories import manifest_yaml, minimal_manifest_dict

SHOP = Path(__file__).parent / "data" / "shop_postgres.yml"


@pytest.fixture
def initialised(tmp_path: Path) -> Path:
    path = tmp_path / "personvern.yaml"
    assert run_personvern("init", str(path)).returncode == 0
    return path


def into(manifest: Path, dataset: Path = SHOP) -> tuple[int, str]:
    out = run_personvern("import", "fides", str(dataset), "--into", str(manifest))
    return out.returncode, out.stderr


def without(new: str, old: str) -> list[str]:
    """The lines of ``new`` that ``old`` does not have, checking ``old``'s all stay in order."""
    rest = old.splitlines()
    added = []
    for line in new.splitlines():
        if rest and line == rest[0]:
            rest.pop(0)
        else:
            added.append(line)
    assert rest == [], rest
    return added


def test_from_init_to_a_clean_check_in_three_commands(initialised: Path) -> None:
    before = initialised.read_text(encoding="utf-8")
    code, err = into(initialised)
    assert code == 0, err
    assert err.endswith(f"wrote {initialised}: added shop_postgres, 1 warning(s); next: "
                        f"personvern check {initialised}\n")
    after = initialised.read_text(encoding="utf-8")
    added = without(after, before)  # every line of the template, comments too, is kept
    assert added[0] == "  - id: shop_postgres"
    checked = run_personvern("check", str(initialised))
    assert checked.returncode == 0, checked.stdout
    # No error; the warnings say which imported tables (PV091) and categories (PV092) no
    # purpose of the template uses yet, and nothing else.
    assert " 0 errors, " in checked.stdout.splitlines()[-1]
    warned = checked.stdout.splitlines()[:-1]
    assert warned and all(" warning PV091 shop_postgres." in x or
                          (" warning PV092 " in x and " shop_postgres." in x)
                          for x in warned), warned
    # Again: the dataset is replaced in place, not added twice.
    code, err = into(initialised)
    assert code == 0 and "replaced shop_postgres," in err
    assert initialised.read_text(encoding="utf-8") == after


def test_a_manifest_without_datasets_gets_the_section(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(manifest_yaml(minimal_manifest_dict()).rstrip("\n"), encoding="utf-8")
    code, err = into(path)
    assert code == 0, err
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [ds["id"] for ds in data["datasets"]] == ["shop_postgres"]
    assert data["service"] == {"name": "Leksehjelp"}


def test_an_empty_flow_section_is_written_anew(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(manifest_yaml(minimal_manifest_dict()) + "datasets: []  # none yet\n"
                    "no_profiling: true\n", encoding="utf-8")
    code, err = into(path)
    assert code == 0, err
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [ds["id"] for ds in data["datasets"]] == ["shop_postgres"]
    assert data["no_profiling"] is True


def test_a_dataset_between_others_is_replaced_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    data = minimal_manifest_dict()
    data["datasets"] = [
        {"id": "app", "url_env": "APP_URL", "tables": [
            {"name": "users", "columns": [{"name": "email", "identity": "email",
                                           "categories": ["user.contact.email"]}]}]},
        {"id": "shop_postgres", "url_env": "OLD_URL", "tables": []},
        {"id": "crm", "kind": "http", "callback": "https://crm.example.no/personvern"},
    ]
    path.write_text(manifest_yaml(data), encoding="utf-8")
    code, err = into(path)
    assert code == 0, err
    after = yaml.safe_load(path.read_text(encoding="utf-8"))["datasets"]
    assert [ds["id"] for ds in after] == ["app", "shop_postgres", "crm"]
    assert after[0] == data["datasets"][0] and after[2] == data["datasets"][2]
    assert after[1]["url_env"] == "SHOP_POSTGRES_URL" and len(after[1]["tables"]) == 5


def test_nothing_is_written_when_the_result_would_not_be_valid(
        initialised: Path, tmp_path: Path) -> None:
    text = SHOP.read_text(encoding="utf-8").replace(
        "    description: The shop's own database of customers, orders and addresses.\n",
        "    description: The shop's own database.\n"
        "    meta: {personvern: {version: 1, tables: {orders: {hold: no_such_rule}}}}\n")
    dataset = tmp_path / "held.yml"
    dataset.write_text(text, encoding="utf-8")
    before = initialised.read_bytes()
    code, err = into(initialised, dataset)
    assert code == 2
    assert f"{initialised}: error: the manifest with the imported datasets would not be " \
           "valid; nothing was written" in err
    assert "unknown retention rule 'no_such_rule'" in err
    assert initialised.read_bytes() == before


def test_into_and_out_together_are_refused(initialised: Path, tmp_path: Path) -> None:
    out = run_personvern("import", "fides", str(SHOP), "--into", str(initialised),
                         "--out", str(tmp_path / "x.yaml"))
    assert out.returncode == 2 and out.stderr == "error: give --into or --out, not both\n"
