"""What the data map finds once (identity columns, their types, rows as dicts) gives the
walk exactly what finding it per person and row gave (issue 15, a batch's CPU)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from personvern.demo.init import init_demo
from personvern.manifest.loader import load_manifest
from personvern.requests.datamap import SqlDataset, as_column_type, open_datasets
from personvern.requests.jobs import Job, walk_ids

NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 60, now=NOW)
    [mapped] = open_datasets(load_manifest(directory / "personvern.yaml").manifest)
    yield mapped
    mapped.engine.dispose()


def _job(identities: dict[str, list[str]]) -> Job:
    return Job(request_id="r1", type="erasure", subject_id="s1", subject_kind=None,
               identities=identities, details={}, opened_by="self", actor_subject_id=None,
               channel="api", consent_purposes=frozenset(), engine_records={}, intended={})


def _walk_ids_per_column(job: Job, ds: SqlDataset) -> dict[str, Any]:
    """walk_ids as it was: every identity column's type looked up per person and kind."""
    out: dict[str, Any] = {}
    for kind, values in job.identities.items():
        wanted = {kind, "user_id"} if kind == "external_id" else {kind}
        types = set()
        for t in ds.spec.tables:
            for c in t.columns:
                if c.identity and c.identity in wanted:
                    try:
                        types.add(ds.tables[t.name].c[c.name].type.python_type)
                    except NotImplementedError:
                        types.add(object)
        out[kind] = [int(v) for v in values if v.strip().isdigit()] if types == {int} \
            else values
    return out


def _seeds_per_column(ds: SqlDataset, identities: dict[str, list[Any]]) -> dict[str, Any]:
    """SqlDataset._seeds as it was: each column's type read per person."""
    wanted: dict[str, dict[str, list[Any]]] = {}
    for t in ds.spec.tables:
        for c in t.columns:
            if not c.identity:
                continue
            values = list(identities.get(c.identity, ()))
            if c.identity == "user_id":
                values += list(identities.get("external_id", ()))
            values = as_column_type(ds.tables[t.name].c[c.name], values)
            if values:
                wanted.setdefault(t.name, {})[c.name] = values
    return wanted


IDENTITIES = [
    {"external_id": ["7", " 12", "-5", "x9", "--5"]},
    {"email": ["pupil7@example.no", "NOBODY@example.no"], "phone": ["+4791234567"]},
    {"user_id": ["3"], "external_id": ["4"], "email": []},
    {},
]


@pytest.mark.parametrize("identities", IDENTITIES)
def test_identities_are_typed_as_before(ds: SqlDataset, identities: dict[str, list[str]]
                                        ) -> None:
    job = _job(identities)
    typed = walk_ids(job, ds)
    assert typed == _walk_ids_per_column(job, ds)
    assert ds._seeds(typed) == _seeds_per_column(ds, dict(typed))
    # Asked again (now from what was found once): the same.
    assert walk_ids(job, ds) == typed


def test_identity_columns_are_the_maps(ds: SqlDataset) -> None:
    listed = [(t.name, c.name, c.identity) for t in ds.spec.tables for c in t.columns
              if c.identity]
    assert listed and list(ds.identity_columns()) == listed
    assert list(ds.identity_columns()) == listed  # not used up by the first caller


def test_rows_are_the_rows_sqlalchemy_maps(ds: SqlDataset) -> None:
    """Every found row: the same columns in the same order with the same values and
    types as ``dict(row._mapping)`` of the table's rows."""
    people = {f"p{u}": {"external_id": [str(u)]} for u in range(1, 61)}
    with ds.engine.connect() as conn:
        found = ds.find_many(conn, {pid: walk_ids(_job(ids), ds) for pid, ids in people.items()})
        tables = {name for f in found.values() for name, rows in f.rows.items() if rows}
        assert {"users", "sessions", "messages", "login_events"} <= tables
        for name in tables:
            t = ds.tables[name]
            key = ds.mapped[name].key
            mapped = {r._mapping[key]: dict(r._mapping) for r in conn.execute(select(t))}
            for f in found.values():
                for k, row in f.rows.get(name, {}).items():
                    assert list(row.items()) == list(mapped[k].items())
                    assert [type(v) for v in row.values()] == \
                        [type(v) for v in mapped[k].values()]
