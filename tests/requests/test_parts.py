"""A row that is part of the person's row (``part: true``): the user row points at it
(``users.address_id -> postal_addresses.id``, Fides's ``direction: to``), so it holds none
of the person's identities. Access (GDPR Art. 15) exports it and erasure (Art. 17) deletes
it (masked, as the user row is: a row that stays must not point at nothing, PV094);
another person's address is untouched. Without the mark, `personvern check` says the walk
never reaches it (PV093)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from sqlalchemy import text

from demo_support import MovingClock, open_as_owner, with_addresses
from personvern.check.engine import run_checks
from personvern.manifest.loader import load_manifest
from personvern.requests.engine import Context, Requests
from personvern.runtime import open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for

PUPIL, OTHER = 31, 32


def addresses(demo: Path) -> list[tuple[object, ...]]:
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT id, street FROM postal_addresses ORDER BY id"))]
    finally:
        engine.dispose()


def test_access_exports_and_erasure_deletes_the_persons_address_row(
        demo: Path, clock: MovingClock, tmp_path: Path) -> None:
    with_addresses(demo)
    rt = open_runtime(Settings(manifest=demo / "personvern.yaml",
                               database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    service = Requests(rt.sessions, Context(rt.consent, clock))
    try:
        rid = open_as_owner(rt, service, "access", f"ext:{PUPIL}")
        result = service.run(rid, reason="identity checked", out_dir=tmp_path)
        with zipfile.ZipFile(Path(result.outcome["package"]["path"])) as zf:  # type: ignore[index]
            data = json.loads(zf.read("data.json"))
        assert data["datasets"]["app"]["postal_addresses"] == [
            {"id": PUPIL * 100, "street": f"Strandgaten {PUPIL}", "city": "Bergen"}]

        rid = open_as_owner(rt, service, "erasure", f"ext:{PUPIL}")
        outcome = service.run(rid, reason="the pupil asked").outcome
        assert outcome is not None
    finally:
        service.close()
        rt.close()
    [(pupil, street), other] = addresses(demo)
    assert pupil == PUPIL * 100 and "Strandgaten" not in str(street)
    assert other == (OTHER * 100, f"Strandgaten {OTHER}")


def test_check_asks_for_the_mark_and_for_a_kept_rows_part_to_be_masked(demo: Path) -> None:
    with_addresses(demo)
    path = demo / "personvern.yaml"
    assert not {"PV093", "PV094"} & rules_of(path)
    source = path.read_text(encoding="utf-8")
    # A plain reference reads the other way (users found from an address): nothing leads
    # to the address, so access and erasure would miss it.
    path.write_text(source.replace(", part: true}", "}"), encoding="utf-8")
    assert "PV093" in rules_of(path)
    path.write_text(source.replace("      - name: postal_addresses\n        erase: mask\n",
                                   "      - name: postal_addresses\n"), encoding="utf-8")
    assert "PV094" in rules_of(path)


def rules_of(path: Path) -> set[str]:
    return {f.rule for f in run_checks(load_manifest(path))}
