"""A page of many people finds their rows on PostgreSQL: the identities of a page are not
bound one parameter each (the server takes at most 65,535 in a statement)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, func, select

from personvern.manifest.loader import load_manifest
from personvern.requests.datamap import open_datasets
from personvern.retention import clauses
from retention.support import build_service, urls, write_manifest


def test_a_page_of_forty_thousand_people_finds_their_rows(tmp_path: Path, db_url: str) -> None:
    """40,000 e-mail addresses and 40,000 user ids, for the orders table twice (its own
    column and up its reference): 160,000 values in one statement."""
    _, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("users", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False))
    Table("orders", m, Column("id", Integer, primary_key=True),
          Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
          Column("buyer_email", String(200)))
    build_service(service_url, m, {
        "users": [{"id": i, "email": f"kunde{i}@example.no"} for i in (1, 2, 3)],
        "orders": [{"id": 10 + i, "user_id": i, "buyer_email": None} for i in (1, 2, 3)]})
    manifest = load_manifest(write_manifest(tmp_path / "personvern.yaml", "vekstly", [{
        "id": "shop", "url": service_url, "tables": [
            {"name": "users", "columns": [{"name": "id", "identity": "user_id"},
                                          {"name": "email", "identity": "email"}]},
            {"name": "orders", "columns": [{"name": "buyer_email", "identity": "email"}],
             "references": [{"column": "user_id", "to": "users.id"}]}]}]))
    [ds] = open_datasets(manifest.manifest)
    try:
        page = {"email": [f"kunde{i}@example.no" for i in range(2, 40_002)],
                "user_id": [str(i) for i in range(40_000, 80_000)]}
        orders = ds.tables["orders"]
        with ds.engine.connect() as conn:
            found = conn.execute(select(orders.c.id).where(
                clauses.owned(ds, "orders", page)).order_by(orders.c.id)).scalars().all()
            assert found == [12, 13]  # people 2 and 3 by their e-mail; 1 is not in the page
            assert conn.execute(select(func.count()).select_from(orders)).scalar() == 3
    finally:
        ds.engine.dispose()
