"""An organisation leaves Min Mentor (seed 003: "a company that leaves the hub has its and
its employees' data deleted, except what a contract or the law requires"): every member is
erased through the request engine (GDPR Art. 17, with Art. 19 notices and proof), then the
company's own rows, legal holds kept (bokføringsloven § 13); nothing of another company is
touched, and a dataset that is down leaves it waiting, never reported done."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from demo_support import MovingClock
from personvern.consent.subjects import get_subject
from personvern.consent.tables import Identity, Membership, Organisation, Subject
from personvern.errors import Conflict, InvalidInput, NotFound, UnknownSubject
from personvern.requests import organisations as orgs
from personvern.requests.engine import Requests
from personvern.requests.tables import Request
from personvern.runtime import Runtime, open_runtime
from personvern.settings import Settings
from personvern.storage.engine import create_engine_for
from personvern.storage.models import AuditEvent

REASON = "the customer contract ended on 31 December"


def service_rows(demo: Path, sql: str, **params: Any) -> list[Any]:
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def company(demo: Path, orgnr: str) -> int:
    rows = service_rows(demo, "SELECT id FROM companies WHERE orgnr = :o", o=orgnr)
    assert len(rows) == 1
    return int(rows[0][0])


def people_of(demo: Path, cid: int) -> set[int]:
    return {r[0] for r in service_rows(
        demo, "SELECT id FROM employees WHERE company_id = :c UNION "
              "SELECT id FROM representatives WHERE company_id = :c", c=cid)}


def engine_state(rt: Runtime) -> dict[str, Any]:
    with rt.transaction() as s:
        return {"requests": s.scalar(select(func.count()).select_from(Request)),
                "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
                "orgs": sorted((o.id, o.name, o.orgnr, o.left_at)
                               for o in s.scalars(select(Organisation))),
                "members": s.scalar(select(func.count()).select_from(Membership))}


def test_demo_registers_the_companies_as_organisations(rt: Runtime, demo: Path) -> None:
    with rt.transaction() as s:
        listed = orgs.list_organisations(s)
        assert len(listed) == 3 and all(o["members"] == 10 for o in listed)
        for o in listed:
            cid = company(demo, o["orgnr"])
            shown = orgs.show(s, o["orgnr"])
            refs = {m["reference"]: m["role"] for m in shown["members"]}
            assert set(refs) == {f"ext:{uid}" for uid in people_of(demo, cid)}
            # A representative with signing authority administers the company's people.
            signers = {f"ext:{r[0]}" for r in service_rows(
                demo, "SELECT id FROM representatives WHERE company_id = :c AND "
                      "has_signature_right", c=cid)}
            assert {r for r, role in refs.items() if role == "admin"} == signers


def test_an_organisation_leaves_with_its_members_and_its_rows(
        rt: Runtime, service: Requests, demo: Path) -> None:
    with rt.transaction() as s:
        leaving, staying = orgs.list_organisations(s)[:2]
        members = {m["subject_id"]: m["reference"]
                   for m in orgs.show(s, leaving["id"])["members"]}
        others = {m["subject_id"] for m in orgs.show(s, staying["id"])["members"]}
    cid, other = company(demo, leaving["orgnr"]), company(demo, staying["orgnr"])
    uids = people_of(demo, cid)
    other_people = people_of(demo, other)
    other_rows = service_rows(demo, "SELECT count(*) FROM skills WHERE employee_id IN "
                                    "(SELECT id FROM employees WHERE company_id = :c)", c=other)

    report = orgs.organisation_leaves(service, leaving["orgnr"], reason=REASON)

    assert report.complete and not report.errors and not report.waiting
    assert set(report.erased) == set(members)
    assert report.deleted["minmentor.companies"] == 1
    assert report.deleted["minmentor.statistics"] == 3
    # The service database: nothing of the company or of its people is left.
    assert service_rows(demo, "SELECT * FROM companies WHERE id = :c", c=cid) == []
    assert people_of(demo, cid) == set()
    for sql in ("SELECT * FROM statistics WHERE company_id = :c",
                "SELECT * FROM matches WHERE company_id = :c OR partner_company_id = :c"):
        assert service_rows(demo, sql, c=cid) == []
    ids = ",".join(str(u) for u in uids)
    for table in ("education", "skills", "matches"):
        assert service_rows(demo, f"SELECT * FROM {table} WHERE employee_id IN ({ids})") == []
    # Another company's people and their rows are untouched.
    assert people_of(demo, other) == other_people
    assert service_rows(demo, "SELECT count(*) FROM skills WHERE employee_id IN "
                              "(SELECT id FROM employees WHERE company_id = :c)",
                        c=other) == other_rows
    with rt.transaction() as s:
        for sid, ref in members.items():
            with pytest.raises(UnknownSubject):
                get_subject(s, ref)
            assert s.get(Subject, sid).erased_at is not None  # type: ignore[union-attr]
            assert s.scalars(select(Identity).where(Identity.subject_id == sid)).all() == []
        erasures = s.scalars(select(Request).where(Request.subject_id.in_(list(members)))).all()
        assert len(erasures) == len(members)
        assert {(r.type, r.opened_by, r.state) for r in erasures} == \
            {("erasure", "owner", "completed")}
        assert all(get_subject(s, o) for o in others)
        assert len(orgs.show(s, staying["id"])["members"]) == 10
        org = s.get(Organisation, leaving["id"])
        assert org is not None and org.left_at == rt.clock()
        events = {e.action: e.details for e in s.scalars(select(AuditEvent).where(
            AuditEvent.target == f"organisation:{leaving['id']}"))}
        assert events["organisation.leave"]["reason"] == REASON
        assert events["organisation.left"]["members_erased"] == 10
        runs = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "request.run",
                                                          AuditEvent.target.in_(
            [f"request:{r.id}" for r in erasures]))).all()
        assert len(runs) == 10 and all(REASON in d["reason"] for d in runs)

    before = engine_state(rt)
    with pytest.raises(Conflict, match="already left"):
        orgs.organisation_leaves(service, leaving["id"], reason=REASON)
    assert engine_state(rt) == before


def with_bookkeeping_hold(demo: Path, clock: MovingClock) -> Runtime:
    """The demo's map with the monthly statistics kept for bookkeeping (bokføringsloven
    § 13: five years after the end of the fiscal year)."""
    path = demo / "personvern.yaml"
    source = path.read_text(encoding="utf-8")
    # Edited as text: a YAML round trip would read the country code NO as false.
    rule = ("  - id: bookkeeping\n    trigger: fiscal_year_end\n    duration: 5 years\n"
            "    bookkeeping: true\n    statute: bokføringsloven § 13\n"
            "    description: {nb: Regnskapsgrunnlag oppbevares i fem år., "
            "en: Accounting records are kept for five years.}\n")
    text = source.replace("\nretention:\n", "\nretention:\n" + rule, 1).replace(
        "      - name: statistics\n", "      - name: statistics\n        hold: bookkeeping\n", 1)
    assert text.count("hold: bookkeeping") == 1 and text.count("id: bookkeeping") == 1
    path.write_text(text, encoding="utf-8")
    return open_runtime(Settings(manifest=path,
                                 database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)


def test_rows_under_a_legal_hold_are_kept_with_their_until_date(
        demo: Path, clock: MovingClock) -> None:
    rt = with_bookkeeping_hold(demo, clock)
    service = Requests.of(rt)
    try:
        with rt.transaction() as s:
            leaving = orgs.list_organisations(s)[0]
        cid = company(demo, leaving["orgnr"])
        report = orgs.organisation_leaves(service, leaving["id"], reason=REASON)
    finally:
        service.close()
        rt.close()
    assert report.complete
    kept = {(k["table"], k["until"]): k for k in report.kept}
    # The demo's months: November and December 2026, January 2027 (now is 4 January 2027).
    assert kept[("statistics", "2031-12-31")]["rows"] == 2
    assert kept[("statistics", "2032-12-31")]["rows"] == 1
    assert kept[("companies", "2032-12-31")]["why"] == "bookkeeping; needed by the kept " \
        "statistics rows"
    assert all(k["restricted"] for k in report.kept)
    months = service_rows(demo, "SELECT month FROM statistics WHERE company_id = :c", c=cid)
    assert sorted(date.fromisoformat(str(m[0])) for m in months) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    assert len(service_rows(demo, "SELECT * FROM companies WHERE id = :c", c=cid)) == 1
    assert people_of(demo, cid) == set()
    assert service_rows(demo, "SELECT * FROM matches WHERE company_id = :c OR "
                              "partner_company_id = :c", c=cid) == []


def test_a_dataset_that_is_down_leaves_it_waiting_then_it_goes_on(
        rt: Runtime, service: Requests, demo: Path) -> None:
    with rt.transaction() as s:
        leaving = orgs.list_organisations(s)[0]
    db = demo / "service.db"
    saved = db.read_bytes()
    db.write_bytes(b"this is not a database" * 100)

    report = orgs.organisation_leaves(service, leaving["id"], reason=REASON)

    assert not report.complete and report.erased == []
    assert len(report.waiting) == 10 and report.errors
    assert "could not be reached" in (report.waiting[0]["error"] or "") or \
        "dataset" in (report.waiting[0]["error"] or "")
    with rt.transaction() as s:
        org = s.get(Organisation, leaving["id"])
        assert org is not None and org.left_at is None
        states = s.scalars(select(Request.state).where(Request.type == "erasure")).all()
        assert sorted(set(states)) == ["waiting"] and len(states) == 10
        assert len(orgs.show(s, leaving["id"])["members"]) == 10  # nobody forgotten yet

    db.write_bytes(saved)
    again = orgs.organisation_leaves(service, leaving["id"], reason=REASON)
    assert again.complete and len(again.erased) == 10
    with rt.transaction() as s:  # the waiting requests were run, not opened a second time
        states = s.scalars(select(Request.state).where(Request.type == "erasure")).all()
        assert states == ["completed"] * 10


def test_bad_input_is_refused_and_nothing_is_stored(
        rt: Runtime, service: Requests, demo: Path) -> None:
    with rt.transaction() as s:
        first = orgs.list_organisations(s)[0]
        member = orgs.show(s, first["id"])["members"][1]["reference"]
    before = engine_state(rt)
    cases = [
        (lambda s: orgs.create(s, rt.clock, "Fjordkraft Testbedrift AS", "123456789"),
         InvalidInput, "not a valid organisasjonsnummer"),
        (lambda s: orgs.create(s, rt.clock, "Kopi AS", first["orgnr"]), Conflict,
         "already"),
        (lambda s: orgs.create(s, rt.clock, "  ", None), InvalidInput, "1 to 300"),
        (lambda s: orgs.add_member(s, rt.clock, first["id"], member), Conflict,
         "already a member"),
        (lambda s: orgs.add_member(s, rt.clock, first["id"], "ext:99999"), UnknownSubject,
         "no subject"),
        (lambda s: orgs.add_member(s, rt.clock, first["id"], member, "owner"), InvalidInput,
         "role must be"),
        (lambda s: orgs.add_member(s, rt.clock, "Ingen Slik AS", member), NotFound,
         "no organisation"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message), rt.transaction() as s:
            call(s)
    with pytest.raises(InvalidInput):
        orgs.organisation_leaves(service, first["id"], reason="  ")
    assert engine_state(rt) == before


def test_members_are_added_and_removed(rt: Runtime) -> None:
    with rt.transaction() as s:
        org = orgs.create(s, rt.clock, "Nordlys Regnskap AS", "100000067")
        assert org.orgnr == "100000067"
        orgs.add_member(s, rt.clock, "100 000 067", "ext:4", "admin")
        orgs.add_member(s, rt.clock, org.id, "ext:5")
        shown = orgs.show(s, "Nordlys Regnskap AS")
        assert [(m["reference"], m["role"]) for m in shown["members"]] == [
            ("ext:4", "admin"), ("ext:5", "member")]
        orgs.remove_member(s, org.id, "ext:5")
        with pytest.raises(NotFound, match="not a member"):
            orgs.remove_member(s, org.id, "ext:5")
        assert len(orgs.show(s, org.id)["members"]) == 1


def test_without_an_orgnr_the_members_go_and_the_report_says_what_is_left(
        rt: Runtime, service: Requests) -> None:
    with rt.transaction() as s:
        org = orgs.create(s, rt.clock, "Uten Nummer AS")
        # Only a member here: one who also belongs to a demo company would stay with it.
        for other in orgs.list_organisations(s):
            if "ext:4" in {m["reference"] for m in orgs.show(s, other["id"])["members"]}:
                orgs.remove_member(s, other["id"], "ext:4")
        orgs.add_member(s, rt.clock, org.id, "ext:4")
        org_id = org.id
    report = orgs.organisation_leaves(service, org_id, reason=REASON)
    assert not report.complete and len(report.erased) == 1
    assert "has no orgnr" in report.errors[0]
    with rt.transaction() as s:
        left = s.get(Organisation, org_id)
        assert left is not None and left.left_at is None
        with pytest.raises(UnknownSubject):
            get_subject(s, "ext:4")


def test_an_organisation_that_has_left_takes_no_members(
        rt: Runtime, service: Requests) -> None:
    with rt.transaction() as s:
        org = orgs.create(s, rt.clock, "Kortvarig AS", "900001002")
        org_id = org.id
    assert orgs.organisation_leaves(service, org_id, reason=REASON).complete
    with pytest.raises(Conflict, match="takes no members"), rt.transaction() as s:
        orgs.add_member(s, rt.clock, org_id, "ext:5")


def test_a_member_of_another_organisation_stays_a_person_of_that_one(
        rt: Runtime, service: Requests, demo: Path) -> None:
    """Seed 003 erases "a company's and its employees' data" when the company leaves; a
    person who is also a member of a company that stays is that company's person still:
    their membership of the leaving one ends, their rows under it go with it, and they are
    not erased (Art. 17(1)(a) no longer necessary for the company that left, not for the
    other)."""
    with rt.transaction() as s:
        leaving, staying = orgs.list_organisations(s)[:2]
        both = orgs.show(s, leaving["id"])["members"][-1]
        orgs.add_member(s, rt.clock, staying["id"], both["reference"])
    cid = company(demo, leaving["orgnr"])
    report = orgs.organisation_leaves(service, leaving["id"], reason=REASON)
    assert report.complete
    assert report.stayed == [{"subject_id": both["subject_id"],
                              "organisations": [staying["name"]]}]
    assert both["subject_id"] not in report.erased and len(report.erased) == 9
    with rt.transaction() as s:
        assert get_subject(s, both["reference"]).erased_at is None
        assert both["reference"] in {m["reference"] for m in
                                     orgs.show(s, staying["id"])["members"]}
        assert s.scalars(select(Membership).where(
            Membership.organisation_id == leaving["id"])).all() == []
        assert not s.scalars(select(Request).where(
            Request.subject_id == both["subject_id"])).all()
        leave = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "organisation.leave")).one()
        assert leave.details["stayed"] == [both["subject_id"]]
    # Their rows under the leaving company went with the company's own.
    assert people_of(demo, cid) == set()
    assert any("still a member of " + staying["name"] in line
               for line in orgs.leave_lines(report))


def test_another_companys_row_that_names_the_leaving_one_loses_the_link(
        demo: Path, clock: MovingClock) -> None:
    """A row owned by someone else that only names the leaving company (owner: false) stays
    with its owner and loses the link, as a message sent to an erased person does."""
    engine = create_engine_for(f"sqlite:///{demo / 'service.db'}")
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE introductions (id INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL "
            "REFERENCES employees(id), introduced_company_id INTEGER REFERENCES "
            "companies(id), note TEXT)"))
        conn.execute(text(
            "INSERT INTO introductions (employee_id, introduced_company_id, note) SELECT e.id, "
            "c.id, 'met at a fair' FROM employees e JOIN companies c ON c.id <> e.company_id"))
    engine.dispose()
    path = demo / "personvern.yaml"
    source = path.read_text(encoding="utf-8")
    table = ("      - name: introductions\n        columns:\n"
             "          - {name: note, categories: [user.content.private]}\n"
             "        references:\n          - {column: employee_id, to: employees.id}\n"
             "          - {column: introduced_company_id, to: companies.id, owner: false}\n")
    path.write_text(source.replace("      - name: statistics\n",
                                   table + "      - name: statistics\n", 1), encoding="utf-8")
    rt = open_runtime(Settings(manifest=path,
                               database_url=f"sqlite:///{demo / 'personvern.db'}"), clock)
    service = Requests.of(rt)
    try:
        with rt.transaction() as s:
            leaving = orgs.list_organisations(s)[0]
        cid = company(demo, leaving["orgnr"])
        others = service_rows(demo, "SELECT count(*) FROM introductions i JOIN employees e "
                                    "ON e.id = i.employee_id WHERE i.introduced_company_id = :c",
                              c=cid)[0][0]
        assert others > 0
        report = orgs.organisation_leaves(service, leaving["id"], reason=REASON)
    finally:
        service.close()
        rt.close()
    assert report.complete and report.unlinked == {"minmentor.introductions": others}
    assert service_rows(demo, "SELECT count(*) FROM introductions WHERE "
                              "introduced_company_id = :c", c=cid) == [(0,)]
    # The other companies' people keep their rows, without the link; the leaving company's
    # people's own introductions went with them.
    assert service_rows(demo, "SELECT count(*) FROM introductions WHERE introduced_company_id "
                              "IS NULL AND note = 'met at a fair'") == [(others,)]
    assert service_rows(demo, "SELECT count(*) FROM introductions i LEFT JOIN employees e ON "
                              "e.id = i.employee_id WHERE e.id IS NULL") == [(0,)]
    assert any("unlinked" in line for line in orgs.leave_lines(report))
