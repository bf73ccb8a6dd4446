"""The demo service: synthetic, consistent, mapped by a clean manifest, and registered."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from personvern.check import run_checks
from personvern.consent.subjects import get_subject
from personvern.consent.tables import Guardianship, Subject
from personvern.demo import schema
from personvern.demo.init import init_demo
from personvern.errors import InvalidInput
from personvern.manifest.loader import load_manifest
from personvern.storage.engine import create_engine_for
from personvern.storage.session import make_sessionmaker

NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)
EXE = str(Path(sys.executable).parent / "personvern")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    init_demo(directory, 300, now=NOW)
    return directory


def test_service_data_has_referential_integrity(demo: Path) -> None:
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        counts = {t.name: conn.scalar(select(func.count()).select_from(t))
                  for t in schema.metadata.sorted_tables}
        roles = dict(conn.execute(select(schema.users.c.role, func.count())
                                  .group_by(schema.users.c.role)).all())
        emails = conn.scalars(select(schema.users.c.email)).all()
    engine.dispose()
    assert counts["users"] == 300 and all(counts[n] > 0 for n in counts)
    assert set(roles) == {"parent", "pupil", "mentor"}
    assert len(set(emails)) == len(emails)
    assert all(e.split("@")[1] in {"example.no", "eksempel.no", "test.example.com"}
               for e in emails)  # reserved example domains: nobody real is e-mailed


def test_same_seed_same_people(tmp_path: Path) -> None:
    def names(d: Path) -> list[str]:
        init_demo(d, 50, now=NOW, seed=3)
        engine = create_engine_for(f"sqlite:///{d / 'service.db'}")
        with engine.connect() as conn:
            found = list(conn.scalars(select(schema.users.c.name).order_by(schema.users.c.id)))
        engine.dispose()
        return found

    assert names(tmp_path / "a") == names(tmp_path / "b")


def test_manifest_is_valid_and_clean(demo: Path) -> None:
    loaded = load_manifest(demo / "personvern.yaml")
    assert run_checks(loaded) == []
    assert loaded.manifest.datasets[0].url == f"sqlite:///{demo / 'service.db'}"


def test_every_user_is_a_subject_with_guardians(demo: Path) -> None:
    engine = create_engine_for(f"sqlite:///{demo / 'personvern.db'}")
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Subject)) == 300
        links = s.scalar(select(func.count()).select_from(Guardianship)) or 0
        pupil = get_subject(s, "ext:300")
        assert pupil.kind == "pupil" and pupil.birth_date is not None
    engine.dispose()
    assert links > 0


def test_refuses_to_overwrite_and_too_few(tmp_path: Path, demo: Path) -> None:
    with pytest.raises(InvalidInput, match="use --force"):
        init_demo(demo, 10, now=NOW)
    with pytest.raises(InvalidInput, match="at least 3"):
        init_demo(tmp_path / "x", 2, now=NOW)


def test_cli(tmp_path: Path) -> None:
    out = subprocess.run([EXE, "demo", "init", str(tmp_path / "d"), "--subjects", "30",
                          "--now", "2027-01-01T10:00:00+01:00"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "demo service written to" in out.stdout
    again = subprocess.run([EXE, "demo", "init", str(tmp_path / "d")], capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 2 and "use --force" in again.stderr


def test_without_faker_the_demo_says_which_extra_to_install(tmp_path: Path) -> None:
    # Faker is the optional extra personvern[demo]; the engine itself runs without it.
    code = (
        "import sys; sys.modules['faker'] = None\n"
        "from personvern.cli.entry import run\n"
        f"sys.argv = ['personvern', 'demo', 'init', {str(tmp_path / 'd')!r}, '--subjects', '5']\n"
        "run()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert "pip install 'personvern[demo]'" in out.stderr
