"""A demo service for every seed (``demo init --template``): the data the seed describes,
a data map that covers every table and matches the data, and the engine's people, on which
retention, access and erasure run."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cli_inprocess import run_personvern
from personvern.check.drift import drift_findings
from personvern.consent.tables import Guardianship, Subject
from personvern.demo.init import init_demo
from personvern.demo.templates import TEMPLATES, get_template
from personvern.errors import InvalidInput
from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest
from personvern.storage.engine import create_engine_for

NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)
SUBJECTS = 30
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The identity table of each service, and a person in it whose rows access must return and
# erasure must remove (Min Mentor's first ids are the companies' representatives).
PERSON_TABLE = {"snapmentor": "users", "vekstly": "participants", "lillemini": "customers",
                "minmentor": "employees", "teoritentamen": "pupils"}
PERSON_ID = {"minmentor": 10}


@pytest.fixture(scope="module", params=TEMPLATES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[str, Path]:
    name: str = request.param
    directory = tmp_path_factory.mktemp(name)
    init_demo(directory, SUBJECTS, now=NOW, template=name)
    return name, directory


def _query(directory: Path, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine_for(f"sqlite:///{directory / 'service.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _mapped(m: Manifest) -> dict[tuple[str, str], tuple[set[str], str | None]]:
    return {(t.name, c.name): (set(c.categories), c.identity)
            for ds in m.datasets for t in ds.tables for c in t.columns}


def test_every_table_is_written_consistent_and_mapped(demo: tuple[str, Path]) -> None:
    name, directory = demo
    template = get_template(name)
    assert _query(directory, "PRAGMA foreign_key_check") == []
    tables = {t.name for t in template.metadata.sorted_tables}
    counts = {t: _query(directory, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    assert all(n for n in counts.values()), counts
    m = load_manifest(directory / "personvern.yaml").manifest
    assert [ds.url for ds in m.datasets] == [f"sqlite:///{directory / 'service.db'}"]
    assert {t.name for t in m.datasets[0].tables} == tables  # the map covers every table
    emails = [e for (e,) in _query(directory, f"SELECT email FROM {PERSON_TABLE[name]}")]
    assert len(set(emails)) == len(emails)
    assert all(str(e).split("@")[1] in {"example.no", "eksempel.no", "test.example.com"}
               for e in emails)  # reserved example domains: nobody real is e-mailed


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_data_map_says_what_the_generator_wrote(name: str) -> None:
    """The generator's labels (which column holds which category and identity) and the
    data map agree both ways, in the demo's manifest and in the seed's example."""
    template = get_template(name)
    sources = {template.manifest, EXAMPLES / f"{name}.yaml"}
    for source in sources:
        mapped = _mapped(load_manifest(source).manifest)
        for where, label in template.labels.items():
            assert where in mapped, f"{source.name}: {where} is not mapped"
            categories, identity = mapped[where]
            assert set(label.categories) <= categories, (source.name, where)
            assert identity == label.identity, (source.name, where)
        extra = {w for w, (cats, ident) in mapped.items() if (cats or ident)} - set(
            template.labels)
        assert not extra, f"{source.name} maps columns the generator did not label: {extra}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_example_reads_its_url_from_the_environment(name: str) -> None:
    """No address or password in the published manifest, and no "no url or url_env"
    finding (PV041): requests and the sweep can reach the data once the variable is set."""
    from personvern.check import run_checks

    loaded = load_manifest(EXAMPLES / f"{name}.yaml")
    assert [(ds.url, ds.url_env) for ds in loaded.manifest.datasets] == [
        (None, get_template(name).url_env)]
    assert [f.message for f in run_checks(loaded) if f.rule in {"PV041", "PV087"}] == []


def test_a_fresh_demo_shows_no_drift(demo: tuple[str, Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``check --datasets`` on the demo, and on the seed's example pointed at the demo by
    its environment variable: nothing missing, nothing undeclared, nothing unseen."""
    name, directory = demo
    template = get_template(name)
    monkeypatch.setenv(template.url_env, f"sqlite:///{directory / 'service.db'}")
    for manifest in (directory / "personvern.yaml", EXAMPLES / f"{name}.yaml"):
        found = drift_findings(load_manifest(manifest))
        assert [(f.rule, f.message) for f in found] == [], manifest


def test_every_person_is_a_subject_of_the_engine(demo: tuple[str, Path]) -> None:
    name, directory = demo
    engine = create_engine_for(f"sqlite:///{directory / 'personvern.db'}")
    try:
        with engine.connect() as conn:
            kinds = dict(conn.execute(select(Subject.kind, func.count())
                                      .group_by(Subject.kind)).all())
            links = conn.scalar(select(func.count()).select_from(Guardianship))
    finally:
        engine.dispose()
    assert sum(kinds.values()) == SUBJECTS
    subjects = {s.id for s in load_manifest(directory / "personvern.yaml").manifest.subjects}
    assert set(kinds) <= subjects  # kinds are the manifest's own subject ids
    # Children with a guardian: SnapMentor's pupils, Teoritentamen's pupils under 13.
    assert bool(links) == (name in {"snapmentor", "teoritentamen"})


def test_retention_plan_runs_on_the_demo(demo: tuple[str, Path]) -> None:
    _, directory = demo
    where = ["-m", str(directory / "personvern.yaml"),
             "--db", f"sqlite:///{directory / 'personvern.db'}"]
    out = run_personvern("retention", "plan", *where, "--json",
                         "--now", "2027-01-02T12:00:00+01:00")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    # Rows due, or rules it says it cannot date or reach: never a silent "nothing is due".
    assert plan["rules"] or plan["undated"] or plan["unmapped"]


def test_access_then_erasure_reach_the_services_tables(
        demo: tuple[str, Path], tmp_path: Path) -> None:
    """Art. 15: the package holds the person's rows of the service's tables; Art. 17: after
    the erasure their e-mail address is nowhere in the identity table."""
    name, directory = demo
    where = ["-m", str(directory / "personvern.yaml"),
             "--db", f"sqlite:///{directory / 'personvern.db'}"]
    table, uid = PERSON_TABLE[name], PERSON_ID.get(name, 3)
    (email,) = _query(directory, f"SELECT email FROM {table} WHERE id = {uid}")[0]
    opened = run_personvern("request", "open", "access", "--subject", f"ext:{uid}",
                            "--verified-by", "test", *where, "--now", "2027-01-02T10:00:00+01:00")
    assert opened.returncode == 0, opened.stderr
    ran = run_personvern("request", "run", f"ext:{uid}", "--reason", "test", "--out", str(tmp_path),
                         *where, "--now", "2027-01-02T10:05:00+01:00")
    assert ran.returncode == 0, ran.stderr
    (package,) = tmp_path.glob("access-*.zip")
    dataset = load_manifest(directory / "personvern.yaml").manifest.datasets[0].id
    with zipfile.ZipFile(package) as z:
        files = set(z.namelist())
        rows = list(csv.DictReader(io.StringIO(z.read(f"{dataset}/{table}.csv").decode())))
    assert [r["email"] for r in rows] == [email]
    assert len(files) > 4  # data.json, summary.html and more than one table of the service

    opened = run_personvern("request", "open", "erasure", "--subject", f"ext:{uid}",
                            "--verified-by", "test", *where, "--now", "2027-01-02T11:00:00+01:00")
    assert opened.returncode == 0, opened.stderr
    ran = run_personvern("request", "run", f"ext:{uid}", "--reason", "test", *where,
                         "--now", "2027-01-02T11:05:00+01:00")
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert _query(directory, f"SELECT count(*) FROM {table} WHERE email = :e", e=email) == [(0,)]


@pytest.mark.parametrize("name", TEMPLATES)
def test_same_seed_same_people(name: str, tmp_path: Path) -> None:
    table = PERSON_TABLE[name]

    def names(d: Path, seed: int) -> list[object]:
        init_demo(d, 12, now=NOW, seed=seed, template=name)
        return [n for (n,) in _query(d, f"SELECT name FROM {table} ORDER BY id")]

    first = names(tmp_path / "a", 3)
    assert first == names(tmp_path / "b", 3)
    assert first != names(tmp_path / "c", 4)


def test_unknown_template_names_the_five(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="choose one of snapmentor, vekstly, lillemini, "
                                           "minmentor, teoritentamen"):
        init_demo(tmp_path, 30, now=NOW, template="fides")
    out = run_personvern("demo", "init", str(tmp_path / "d"), "--template", "nope")
    assert out.returncode == 2 and "unknown demo template 'nope'" in out.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(("name", "least"), [("snapmentor", 3), ("minmentor", 4),
                                             ("teoritentamen", 2), ("vekstly", 2)])
def test_too_few_subjects_for_the_template(name: str, least: int, tmp_path: Path) -> None:
    out = run_personvern("demo", "init", str(tmp_path / "d"), "--template", name,
                         "--subjects", str(least - 1))
    assert out.returncode == 2
    assert f"--subjects must be at least {least}" in out.stderr
    assert not (tmp_path / "d").exists()


def test_cli_tells_the_examples_variable(tmp_path: Path) -> None:
    out = run_personvern("demo", "init", str(tmp_path / "d"), "--template", "lillemini",
                         "--subjects", "5", "--now", "2027-01-01T10:00:00+01:00", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["template"] == "lillemini" and data["url_env"] == "LILLEMINI_DATABASE_URL"
    assert data["rows"]["customers"] == 5
