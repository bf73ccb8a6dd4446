"""The imported map at work: the engine's own walk (the one access and erasure use) on a
SQLite database shaped as the Fides file says, finding what the import said it would find,
and missing only what the import warned of."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from personvern.errors import ConfigurationError
from personvern.fides.reader import parse_fides
from personvern.manifest.model import Manifest
from personvern.requests.datamap import open_datasets

SHOP = Path(__file__).parent / "data" / "shop_postgres.yml"
# Two customers, written by hand: no real person.
KARI = {"email": "kari.fjell@butikken.example.no", "name": "Kari Fjell",
        "phone": "+4791234567", "street": "Nygårdsgaten"}
OLA = {"email": "ola.strand@butikken.example.no", "name": "Ola Strand",
       "phone": "+4792345678", "street": "Strandkaien"}
# The database the fixture describes.
SCHEMA = """
create table address (id integer primary key, house text, street text, city text, state text,
                      zip text);
create table customer (id integer primary key, email text, name text, phone text,
                       address_id integer references address(id), created text);
create table orders (id integer primary key, customer_id integer references customer(id),
                     shipping_address_id integer references address(id));
create table payment_card (id integer primary key, ccn text, code text, name text,
                           customer_id integer references customer(id),
                           billing_address_id integer references address(id));
create table visit (email text primary key, last_visit text);
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        for n, person in enumerate((KARI, OLA), start=1):
            db.execute("insert into address values (?, '12', ?, 'Bergen', 'Vestland', '5003')",
                       (n, person["street"]))
            db.execute("insert into customer values (?, ?, ?, ?, ?, '2026-01-01')",
                       (n, person["email"], person["name"], person["phone"], n))
            db.execute("insert into orders values (?, ?, ?)", (n * 10, n, n))
            db.execute("insert into orders values (?, ?, ?)", (n * 10 + 1, n, n))
            db.execute("insert into payment_card values (?, '4111111111111111', '123', ?, ?, ?)",
                       (n, person["name"], n, n))
            db.execute("insert into visit values (?, '2026-11-30')", (person["email"],))
    monkeypatch.setenv("SHOP_POSTGRES_URL", f"sqlite:///{path}")
    return path


def manifest_with(text: str) -> Manifest:
    manifest = Manifest.model_validate({
        "personvern": 1, "service": {"name": "Butikken"}, "controller": {"name": "Butikken AS"}})
    return manifest.model_copy(update={"datasets": parse_fides(text).datasets})


def test_a_map_naming_a_key_the_table_lacks_stops_with_the_warned_column(shop: Path) -> None:
    # The import warned: visit marks no primary key, and the map assumes 'id'.
    with pytest.raises(ConfigurationError, match=r"visit\.id"):
        open_datasets(manifest_with(SHOP.read_text(encoding="utf-8")))


def test_the_walk_finds_a_persons_rows_and_not_what_was_warned_of(shop: Path) -> None:
    # As the warning asks: visit's key field marked (its e-mail).
    text = SHOP.read_text(encoding="utf-8").replace(
        "              data_type: string\n          - name: last_visit",
        "              data_type: string\n              primary_key: true\n"
        "          - name: last_visit")
    [mapped] = open_datasets(manifest_with(text))
    try:
        with mapped.engine.connect() as conn:
            found = mapped.find(conn, {"email": [KARI["email"]]})
    finally:
        mapped.engine.dispose()
    keys = {table: sorted(found.keys(table)) for table in found.rows}
    # Kari's customer row, her orders and card (referring to customer), her visits, and her
    # address: part of her customer row (Fides's direction: to), not Ola's.
    assert keys == {"customer": [1], "orders": [10, 11], "payment_card": [1],
                    "visit": [KARI["email"]], "address": [1]}
    assert found.rows["address"][1]["street"] == KARI["street"]
