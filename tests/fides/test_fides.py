"""`personvern import fides` and `personvern export fides`: a Fides user's dataset file becomes
the manifest's data map, the data map becomes a file fideslang itself accepts, and a round
trip gives the same map back. Bad files get located errors; what does not map is said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import Dataset as FidesDataset

from cli_inprocess import run_personvern
from factories import minimal_manifest_dict
from personvern.fides.categories import NO_EQUIVALENT, TO_FIDES, from_fides
from personvern.fides.reader import parse_fides, read_fides
from personvern.fides.writer import datasets_yaml, export_fides
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.loader import load_manifest, parse_manifest
from personvern.manifest.model import Dataset
from personvern.manifest.yamlpos import load_with_positions

DATA = Path(__file__).parent / "data"
SHOP = DATA / "shop_postgres.yml"
ROOT = Path(__file__).resolve().parents[2]
DEMO_MANIFEST = ROOT / "src" / "personvern" / "demo" / "manifest.yaml"


def table(ds: Dataset, name: str) -> Any:
    return next(t for t in ds.tables if t.name == name)


def columns(ds: Dataset, name: str) -> dict[str, tuple[list[str], str | None]]:
    return {c.name: (c.categories, c.identity) for c in table(ds, name).columns}


# ---- import ------------------------------------------------------------------------------

def test_the_fixture_is_a_dataset_fideslang_itself_accepts() -> None:
    [raw] = yaml.safe_load(SHOP.read_text(encoding="utf-8"))["dataset"]
    parsed = FidesDataset.model_validate(raw)
    assert {c.name for c in parsed.collections} == {
        "address", "customer", "orders", "payment_card", "visit"}


def test_a_fides_dataset_becomes_the_data_map() -> None:
    imported = read_fides(SHOP)
    [ds] = imported.datasets
    assert ds.id == "shop_postgres" and ds.url_env == "SHOP_POSTGRES_URL"
    assert [t.name for t in ds.tables] == ["address", "customer", "orders", "payment_card",
                                           "visit"]
    # Identities from fides_meta (email) and fidesops_meta-era names (phone_number).
    assert columns(ds, "customer") == {
        "email": (["user.contact.email"], "email"),
        "id": (["user.unique_id"], None),
        "name": (["user.name"], None),
        "phone": (["user.contact.phone_number"], "phone"),
    }
    # system.operations fields are not personal data: no column, but the key and the
    # references they carry are kept.
    assert "created" not in columns(ds, "customer")
    assert table(ds, "customer").key == "id"
    assert [(r.column, r.to) for r in table(ds, "orders").references] == [
        ("customer_id", "customer.id"), ("shipping_address_id", "address.id")]
    # fidesops_meta (the older spelling) is read as fides_meta.
    assert [(r.column, r.to) for r in table(ds, "payment_card").references] == [
        ("billing_address_id", "address.id"), ("customer_id", "customer.id")]
    # Fides masks a person's fields and keeps the row (no collection says "delete").
    assert {t.erase for t in ds.tables} == {"mask"}
    # Renamed and generalised categories land on Personvern's keys.
    assert columns(ds, "payment_card")["ccn"] == (["user.financial.bank_account"], None)
    assert columns(ds, "address")["street"] == (["user.contact.address"], None)
    assert columns(ds, "address")["zip"] == (["user.contact.address.postal_code"], None)


def test_direction_to_is_a_part_and_what_the_walk_cannot_reach_is_a_located_warning() -> None:
    imported = read_fides(SHOP)
    notes = {(n.level, n.line, n.column): n.message for n in imported.notes}
    # Fides reads address from customer (direction: to): the address row is part of the
    # customer's, walked from the customer (part: true), so the walk reaches it.
    customer = next(t for t in imported.datasets[0].tables if t.name == "customer")
    assert [(r.column, r.to, r.part) for r in customer.references] == [
        ("address_id", "address.id", True)]
    assert not any("no identity leads to" in m for m in notes.values())
    assert "no field primary_key" in notes[("warning", 105, 9)]
    # Read the other way (direction: from), nothing leads to address: warned, with its place.
    turned = SHOP.read_text(encoding="utf-8").replace("direction: to", "direction: from")
    unreached = [n for n in parse_fides(turned).notes if "no identity leads to" in n.message]
    assert [(n.line, n.column) for n in unreached] == [(10, 9)]
    assert unreached[0].message.startswith(
        "table 'address' holds personal data (city, house, state, street, zip) that no "
        "identity leads to")
    assert "user.contact.address.street is mapped to user.contact.address" in \
        notes[("info", 15, 31)]
    assert "user.financial.account_number is user.financial.bank_account" in \
        notes[("info", 88, 31)]


def test_the_imported_map_passes_check(tmp_path: Path) -> None:
    manifest = tmp_path / "personvern.yaml"
    assert run_personvern("init", str(manifest)).returncode == 0
    out = run_personvern("import", "fides", str(SHOP), "--out", str(tmp_path / "map.yaml"))
    assert out.returncode == 0, out.stderr
    assert "wrote " in out.stderr and "5 tables in 1 dataset(s), 1 warning(s)" in out.stderr
    data, _ = load_with_positions(manifest.read_text(encoding="utf-8"))
    data["datasets"] = yaml.safe_load((tmp_path / "map.yaml").read_text())["datasets"]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    loaded = load_manifest(manifest)
    assert [ds.id for ds in loaded.manifest.datasets] == ["shop_postgres"]
    checked = run_personvern("check", str(manifest), "--format", "json")
    assert checked.returncode == 0, checked.stdout
    findings = json.loads(checked.stdout)
    # The map itself is sound; what check adds is that the blank template's purposes do
    # not yet use the shop's data (PV091, a warning per table; PV092 per category of a table
    # a purpose does use): the next step for the user.
    assert {f["rule"] for f in findings if f["path"].startswith("datasets")} == \
        {"PV091", "PV092"}
    assert [f for f in findings if f["severity"] == "error"] == []


def test_import_prints_yaml_and_each_warning_with_its_place() -> None:
    out = run_personvern("import", "fides", str(SHOP))
    assert out.returncode == 0, out.stderr
    printed = yaml.safe_load(out.stdout)
    assert [t["name"] for t in printed["datasets"][0]["tables"]][:2] == ["address", "customer"]
    assert f"{SHOP}:105:9: warning: collection 'visit' marks no field primary_key" in out.stderr
    assert "# warning: collection 'visit' marks no field primary_key" in out.stdout
    assert printed["datasets"][0]["tables"][1]["references"] == [
        {"column": "address_id", "to": "address.id", "part": True}]


# ---- categories ----------------------------------------------------------------------------

def test_every_fideslang_category_has_a_stated_fate() -> None:
    special = {k for k, c in BUILTIN_CATEGORIES.items() if c.special}
    fates: dict[str, str] = {}
    for category in DEFAULT_TAXONOMY.data_category:
        mapped = from_fides(category.fides_key)
        assert mapped.how != "unknown", category.fides_key
        if category.fides_key.startswith("system"):
            assert mapped.key is None
        elif category.fides_key in NO_EQUIVALENT:
            assert mapped.key == "user"
        else:
            assert mapped.key in BUILTIN_CATEGORIES, category.fides_key
        fates[category.fides_key] = str(mapped.key)
    # GDPR Art. 9(1): fideslang's health, genetic and biometric data stay special categories.
    for key in ("user.biometric", "user.biometric.fingerprint", "user.authorization.biometric",
                "user.health_and_medical", "user.health_and_medical.genetic",
                "user.health_and_medical.record_id"):
        assert fates[key] in special, key
    assert fates["user.childrens"] == "user.children"


def test_the_categories_written_to_fides_come_back_as_they_were() -> None:
    fides_keys = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    for ours, theirs in TO_FIDES.items():
        assert theirs in fides_keys
        assert from_fides(theirs).key == ours
    for key in BUILTIN_CATEGORIES:
        assert from_fides(TO_FIDES.get(key, key)).key == key


def test_an_unknown_category_is_named_and_the_column_kept_as_personal_data(
        tmp_path: Path) -> None:
    text = SHOP.read_text(encoding="utf-8").replace(
        "data_categories: [user.name]", "data_categories: [user.contact.emial]")
    path = tmp_path / "typo.yml"
    path.write_text(text, encoding="utf-8")
    out = run_personvern("import", "fides", str(path))
    assert out.returncode == 0
    assert (f"{path}:48:31: warning: customer.name: unknown data category "
            "'user.contact.emial' (not in fideslang's taxonomy nor Personvern's); the column is "
            "kept as user.contact, the nearest known category that covers it; did you mean "
            "'user.contact.email'?\n") in out.stderr
    [ds] = yaml.safe_load(out.stdout)["datasets"]
    customer = next(t for t in ds["tables"] if t["name"] == "customer")
    assert {"name": "name", "categories": ["user.contact"]} in customer["columns"]
    # No known ancestor at all: personal data, kind not said.
    imported = parse_fides(text.replace("user.contact.emial", "customer.nickname"))
    assert columns(imported.datasets[0], "customer")["name"] == (["user"], None)
    strict = run_personvern("import", "fides", str(path), "--strict")
    assert strict.returncode == 1 and strict.stdout == ""
    assert "--strict: nothing written" in strict.stderr


def test_a_category_with_no_personvern_key_is_kept_and_said() -> None:
    imported = parse_fides(_one("people", [
        {"name": "id", "fides_meta": {"primary_key": True}},
        {"name": "email", "data_categories": ["user.contact.email"],
         "fides_meta": {"identity": "email"}},
        {"name": "passport", "data_categories": ["user.government_id.passport_number"]},
    ]))
    assert columns(imported.datasets[0], "people")["passport"] == (["user"], None)
    [warning] = imported.warnings
    assert "user.government_id.passport_number has no Personvern equivalent" in warning.message


# ---- export ----------------------------------------------------------------------------------

def test_export_writes_what_fideslang_parses(tmp_path: Path) -> None:
    path = tmp_path / "fides.yml"
    out = run_personvern("export", "fides", str(DEMO_MANIFEST), "--out", str(path))
    assert out.returncode == 0, out.stderr
    [raw] = yaml.safe_load(path.read_text(encoding="utf-8"))["dataset"]
    ds = FidesDataset.model_validate(raw)
    fields = {c.name: {f.name: f for f in c.fields} for c in ds.collections}
    assert set(fields) == {"users", "guardians", "sessions", "purchases", "invoices",
                           "messages", "login_events", "marketing_list"}
    email = fields["users"]["email"]
    assert email.data_categories == ["user.contact.email"]
    assert email.fides_meta is not None and email.fides_meta.identity == "email"
    phone = fields["users"]["phone"]
    assert phone.fides_meta is not None and phone.fides_meta.identity == "phone_number"
    assert fields["users"]["id"].fides_meta.primary_key is True  # type: ignore[union-attr]
    # What erasure does: users keep their row (mask), sessions are deleted, the id is kept
    # and a birth date nulled.
    collections = {c.name: c for c in ds.collections}
    assert collections["users"].fides_meta is None
    assert collections["sessions"].fides_meta.masking_strategy_override.strategy.value == \
        "delete"  # type: ignore[union-attr]
    assert fields["users"]["id"].fides_meta.read_only is True  # type: ignore[union-attr]
    birth = fields["users"]["birth_date"].fides_meta.masking_strategy_override  # type: ignore[union-attr]
    assert birth is not None and birth.strategy == "null_rewrite"
    ref = fields["invoices"]["purchase_id"].fides_meta.references[0]  # type: ignore[union-attr,index]
    assert (ref.dataset, ref.field, ref.direction.value) == ("app", "purchases.id", "from")
    # Every category written is one Fides knows, or one Personvern says it is not.
    known = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    written = {k for c in ds.collections for f in c.fields for k in f.data_categories or ()}
    assert written <= known, written - known


def test_round_trip_gives_the_same_data_map() -> None:
    for path in [DEMO_MANIFEST, *sorted((ROOT / "examples").glob("*.yaml"))]:
        manifest = load_manifest(path).manifest
        sql = [ds for ds in manifest.datasets if ds.kind == "sql"]
        assert parse_fides(export_fides(manifest).text).datasets == sql, path


def test_round_trip_keeps_what_fides_has_no_place_for() -> None:
    data = minimal_manifest_dict()
    data["categories"] = [{"id": "user.loyalty", "name": {"nb": "Kundeklubb", "en": "Loyalty"}}]
    data["retention"] = [{"id": "books", "trigger": "fiscal_year_end", "duration": "5y"}]
    data["datasets"] = [
        {"id": "shop", "description": {"nb": "Butikken.", "en": "The shop."},
         "url": "sqlite:///shop.db",
         "tables": [
             {"name": "members", "key": "member_no", "keep_flag": "keep",
              "dates": {"last_activity": "seen_at"},
              "columns": [
                  {"name": "fnr", "categories": ["user.government_id."
                                                 "national_identification_number"],
                   "identity": "national_id", "validate_as": "national_id"},
                  {"name": "points", "categories": ["user.loyalty"], "erase": "null"},
                  {"name": "club", "categories": ["user.professional_information.skills"]},
                  {"name": "health", "categories": ["user.health"], "hold": "books"},
                  {"name": "notes"},
                  {"name": "token", "identity": "external_id", "erase": "hash"}]},
             {"name": "receipts", "erase": "keep", "hold": "books",
              "columns": [{"name": "member_no", "categories": ["user.unique_id"]}],
              "references": [{"column": "member_no", "to": "members.member_no"},
                             {"column": "card_ref", "to": "cards.ref"}]},
             {"name": "cards", "columns": [{"name": "last4",
                                            "categories": ["user.financial.credit_card"]}]},
         ]},
        {"id": "crm", "kind": "http", "callback": "https://crm.example.no/personvern"},
    ]
    manifest = parse_manifest(yaml.safe_dump(data, sort_keys=False)).manifest
    exported = export_fides(manifest)
    assert exported.datasets == 1
    assert any("'crm' is not exported: it is kind http" in n for n in exported.notes)
    assert any("user.loyalty (declared in the manifest)" in n for n in exported.notes)
    [raw] = yaml.safe_load(exported.text)["dataset"]
    fides = FidesDataset.model_validate(raw)
    members = {f.name: f for c in fides.collections if c.name == "members" for f in c.fields}
    assert members["health"].data_categories == ["user.health_and_medical"]
    assert members["fnr"].fides_meta.identity == "national_id"  # type: ignore[union-attr]
    back = parse_fides(exported.text)
    assert back.datasets == [manifest.datasets[0]]
    # receipts.card_ref -> cards.ref is walked from cards to receipts, and nothing leads to
    # cards: as true of the manifest's map as of the file.
    [unreached] = back.warnings
    assert unreached.message.startswith("table 'cards' holds personal data (last4) that no "
                                        "identity leads to")
    # Through fideslang's own model (which sorts collections and fields by name) the map
    # is the same but for that order.
    through = yaml.safe_dump({"dataset": [fides.model_dump(mode="json", exclude_none=True)]})
    again = parse_fides(through).datasets[0]
    assert _sorted(again) == _sorted(manifest.datasets[0])


def _sorted(ds: Dataset) -> Dataset:
    tables = [t.model_copy(update={
        "columns": sorted(t.columns, key=lambda c: c.name),
        "references": sorted(t.references, key=lambda r: (r.column, r.to))})
        for t in sorted(ds.tables, key=lambda t: t.name)]
    return ds.model_copy(update={"tables": tables})


def test_export_of_an_unknown_dataset_is_refused() -> None:
    out = run_personvern("export", "fides", str(DEMO_MANIFEST), "--dataset", "nope")
    assert out.returncode == 2
    assert "no dataset 'nope' in the manifest; its datasets: app" in out.stderr


def test_the_generated_yaml_loads_as_a_manifest_section() -> None:
    [ds] = read_fides(SHOP).datasets
    data = minimal_manifest_dict()
    data.update(yaml.safe_load(datasets_yaml([ds])))
    assert parse_manifest(yaml.safe_dump(data)).manifest.datasets == [ds]


# ---- bad input -------------------------------------------------------------------------------

def _one(collection: str, fields: list[dict[str, Any]], key: str = "shop") -> str:
    return yaml.safe_dump({"dataset": [{"fides_key": key, "collections": [
        {"name": collection, "fields": fields}]}]}, sort_keys=False)


def _import(tmp_path: Path, text: str | bytes) -> Any:
    path = tmp_path / "dataset.yml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path, run_personvern("import", "fides", str(path))


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path, out = _import(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"{path}: error: is a binary file, not a YAML Fides dataset\n"
    path, out = _import(tmp_path, "dataset:\n  - fides_key: shop\n    collections: [\n"
                                  "      {name: a, fields: []\n")
    assert out.returncode == 2
    assert out.stderr.startswith(f"{path}:5:1: error: invalid YAML")


@pytest.mark.parametrize(("text", "where", "message"), [
    ("- just\n- a list\n", "1:1", "is not a fideslang dataset: expected a top-level "
                                  "`dataset:` list"),
    ("personvern: 1\nservice: {name: X}\n", "1:1",
     "this is a Personvern manifest: `personvern export fides` writes one"),
    ("dataset:\n  - name: no key\n    collections: []\n", "2:5",
     "dataset[0]: missing required key 'fides_key'"),
    ("dataset:\n  - fides_key: shop\n    collections:\n      - name: users\n        fields:\n"
     "          - name: email\n            data_categories: user.contact.email\n", "7:30",
     "dataset[0].collections[0].fields[0].data_categories: expected a list"),
    ("dataset:\n  - fides_key: shop\n    collections:\n      - name: users\n        fields:\n"
     "          - name: id\n            fides_meta:\n              references:\n"
     "                - {dataset: shop, field: users.id, direction: sideways}\n", "9:63",
     "expected one of from, to; got 'sideways'"),
])
def test_a_yaml_that_is_not_a_fideslang_dataset(tmp_path: Path, text: str, where: str,
                                                message: str) -> None:
    path, out = _import(tmp_path, text)
    assert out.returncode == 2, out.stdout
    assert out.stderr.startswith(f"{path}:{where}: error: ")
    assert message in out.stderr


def test_a_reference_to_a_collection_that_does_not_exist(tmp_path: Path) -> None:
    # The first of them is orders.customer_id's.
    text = SHOP.read_text(encoding="utf-8").replace("field: customer.id", "field: customers.id",
                                                    1)
    path, out = _import(tmp_path, text)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (
        f"{path}:64:26: error: dataset[0].collections[2].fields[0].fides_meta.references[0]"
        ".field: orders.customer_id refers to collection 'customers', which dataset "
        "'shop_postgres' does not have; did you mean 'customer'?\n")


def test_a_reference_to_a_field_that_does_not_exist(tmp_path: Path) -> None:
    _, out = _import(tmp_path, _one("users", [
        {"name": "id", "fides_meta": {"primary_key": True}},
        {"name": "boss_id", "fides_meta": {"references": [
            {"dataset": "shop", "field": "users.uid", "direction": "from"}]}}]))
    assert out.returncode == 2
    assert "users.boss_id refers to field 'users.uid', which collection 'users' does not have" \
        in out.stderr


def test_a_reference_to_another_dataset_is_not_imported_and_said() -> None:
    imported = parse_fides(_one("orders", [
        {"name": "id", "fides_meta": {"primary_key": True}},
        {"name": "email", "data_categories": ["user.contact.email"],
         "fides_meta": {"identity": "email"}},
        {"name": "customer_id", "fides_meta": {"references": [
            {"dataset": "mongo_crm", "field": "customers.id", "direction": "from"}]}}]))
    assert table(imported.datasets[0], "orders").references == []
    [warning] = imported.warnings
    assert "orders.customer_id refers to dataset 'mongo_crm', which is not in this file" in \
        warning.message


def test_nested_fields_become_one_column_and_their_identities_are_said() -> None:
    imported = parse_fides(_one("customer_details", [
        {"name": "id", "fides_meta": {"primary_key": True}},
        {"name": "email", "data_categories": ["user.contact.email"],
         "fides_meta": {"identity": "email"}},
        {"name": "workplace_info", "fields": [
            {"name": "employer", "data_categories": ["user.workplace"]},
            {"name": "position", "data_categories": ["user.job_title"]},
            {"name": "contact", "fields": [
                {"name": "phone", "data_categories": ["user.contact.phone_number"],
                 "fides_meta": {"identity": "phone_number"}}]}]},
        {"name": "loyalty_no", "data_categories": ["user.unique_id"],
         "fides_meta": {"identity": "loyalty_id"}}]))
    cols = columns(imported.datasets[0], "customer_details")
    assert cols["workplace_info"] == (["user.professional_information.workplace",
                                       "user.professional_information.job_title",
                                       "user.contact.phone_number"], None)
    assert cols["loyalty_no"] == (["user.unique_id"], "external_id")
    warnings = [w.message for w in imported.warnings]
    assert any("customer_details.workplace_info.contact.phone is a nested field: its "
               "identity and references are not imported" in w for w in warnings)
    assert any("Fides identity 'loyalty_id' is the service's own; imported as external_id"
               in w for w in warnings)


def test_duplicates_and_text_that_is_not_utf8_are_located_errors(tmp_path: Path) -> None:
    path, out = _import(tmp_path, "dataset:\n  - fides_key: shop\n    collections: []\n"
                                  "  - fides_key: shop\n    collections: []\n")
    assert out.returncode == 2
    assert out.stderr == f"{path}:4:16: error: dataset[1].fides_key: duplicate fides_key 'shop'\n"
    path, out = _import(tmp_path, _one("users", [{"name": "id"}, {"name": "id"}]))
    assert out.returncode == 2 and "error: dataset[0].collections[0].fields[1].name: " \
        "duplicate field users.id" in out.stderr
    path, out = _import(tmp_path, "dataset:\n  - fides_key: bl\xe5b\xe6r\n".encode("latin-1"))
    assert out.returncode == 2 and out.stderr == f"{path}:2:1: error: is not UTF-8 text\n"


def test_what_the_map_holds_otherwise_is_said() -> None:
    text = yaml.safe_dump({"dataset": [{
        "fides_key": "Shop.Prod", "data_categories": ["user.contact"],
        "collections": [{"name": "lines", "data_categories": ["user.behavior"], "fields": [
            {"name": "order_id", "fides_meta": {"primary_key": True}},
            {"name": "line_no", "fides_meta": {"primary_key": True}},
            {"name": "email", "data_categories": ["user.contact.email"],
             "fides_meta": {"identity": "email"}}]}]}]}, sort_keys=False)
    imported = parse_fides(text)
    [ds] = imported.datasets
    assert ds.id == "shop_prod" and ds.tables[0].key == "order_id"
    said = [n.message for n in imported.notes]
    assert "fides_key 'Shop.Prod' is not a manifest id; the dataset's id is 'shop_prod'" in said
    assert any(m.startswith("dataset-wide data_categories ['user.contact'] are not imported")
               for m in said)
    assert any(m.startswith("collection 'lines': collection-wide data_categories "
                            "['user.behavior'] are not imported") for m in said)
    assert any(m.startswith("collection 'lines' has a primary key of 2 fields (order_id, "
                            "line_no); the data map finds rows by one: 'order_id'") for m in said)


def test_export_of_one_dataset() -> None:
    manifest = load_manifest(DEMO_MANIFEST).manifest
    exported = export_fides(manifest, ["app"])
    assert [d["fides_key"] for d in yaml.safe_load(exported.text)["dataset"]] == ["app"]


def test_an_out_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "out.yml"
    for args in (["import", "fides", str(SHOP)], ["export", "fides", str(DEMO_MANIFEST)]):
        out = run_personvern(*args, "--out", str(missing))
        assert out.returncode == 2
        assert out.stderr.endswith(f"error: cannot write {missing}: No such file or "
                                   "directory\n")


@pytest.mark.parametrize(("meta", "message"), [
    ("{personvern: {version: 1, tables: {orders: {erse: keep}}}}",
     "dataset[0].meta.personvern.tables.orders.erse: unknown key 'erse' in meta.personvern"),
    ("{personvern: {version: 1, tables: {orders: {erase: shred}}}}",
     "dataset[0].meta: meta.personvern: tables[2].erase: Input should be"),
    ("{personvern: {version: 2}}",
     "dataset[0].meta.personvern.version: expected one of 1; got 2"),
])
def test_a_broken_personvern_block_is_a_located_error(tmp_path: Path, meta: str,
                                                      message: str) -> None:
    text = SHOP.read_text(encoding="utf-8").replace(
        "    name: Shop Postgres\n", f"    name: Shop Postgres\n    meta: {meta}\n")
    path, out = _import(tmp_path, text)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"{path}:8:")
    assert message in out.stderr


def test_fides_erasure_hints_become_the_maps_erase() -> None:
    text = yaml.safe_dump({"dataset": [{"fides_key": "shop", "collections": [
        {"name": "customer", "fides_meta": {"masking_strategy_override": {"strategy": "delete"}},
         "fields": [
             {"name": "id", "fides_meta": {"primary_key": True, "read_only": True},
              "data_categories": ["user.unique_id"]},
             {"name": "email", "data_categories": ["user.contact.email"],
              "fides_meta": {"identity": "email",
                             "masking_strategy_override": {"strategy": "hash"}}},
             {"name": "name", "data_categories": ["user.name"],
              "fides_meta": {"masking_strategy_override": {"strategy": "null_rewrite"}}},
             {"name": "born", "data_categories": ["user.demographic.date_of_birth"],
              "fides_meta": {"masking_strategy_override": {"strategy": "random_date"}}}]},
        {"name": "audit", "fides_meta": {"skip_processing": True}, "fields": [
            {"name": "id", "fides_meta": {"primary_key": True}},
            {"name": "email", "data_categories": ["user.contact.email"],
             "fides_meta": {"identity": "email"}}]}]}]}, sort_keys=False)
    imported = parse_fides(text)
    [ds] = imported.datasets
    customer, audit = ds.tables
    assert customer.erase == "delete_row" and audit.erase == "mask"
    assert [(c.name, c.erase) for c in customer.columns] == [
        ("id", "keep"), ("email", "hash"), ("name", "null"), ("born", None)]
    warnings = [w.message for w in imported.warnings]
    assert "customer.born: masking strategy 'random_date' has no Personvern equivalent " \
           "(null, hash or mask); the table's erasure applies to the column" in warnings
    assert any(w.startswith("collection 'audit' has skip_processing") for w in warnings)


def test_one_dataset_as_fides_api_returns_it_in_json_is_read() -> None:
    [raw] = yaml.safe_load(SHOP.read_text(encoding="utf-8"))["dataset"]
    imported = parse_fides(json.dumps(raw, indent=2), file="shop.json")
    assert imported.datasets == read_fides(SHOP).datasets
    # Places are the JSON file's own.
    assert any(n.file == "shop.json" and n.line > 1 for n in imported.notes)
