"""Every time-based promise of the five seeds, shown end to end on the seed's own demo
service (``demo init --template``): the promise's clock run forward with ``--now``, the rows
checked kept just before and gone, masked or restricted just after, by SQL on service.db;
and per seed one access request (Art. 15) and one erasure (Art. 17) checked against that
service's tables.

Where the engine or the seed's data map cannot keep a promise, the test shows what happens
and is marked ``xfail(strict=True)`` with the gap, so that closing the gap turns it green.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_inprocess import run_personvern
from demo_support import copy_demo
from personvern.demo.init import init_demo

BUILT = datetime(2027, 1, 1, 12, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUBJECTS = 30


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """Each seed's demo, built once (on first use) for the module; tests work on copies."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            directory = tmp_path_factory.mktemp(name)
            with pytest.MonkeyPatch.context() as mp:  # its own master.key, not the caller's
                for var in ("PERSONVERN_MASTER_KEY_FILE", "PERSONVERN_MASTER_KEY"):
                    mp.delenv(var, raising=False)
                init_demo(directory, SUBJECTS, now=BUILT, template=name)
            cache[name] = directory
        return cache[name]

    yield get


def demo(built: Callable[[str], Path], name: str, target: Path) -> Path:
    """A private copy of the seed's demo, its key with it."""
    template = built(name)
    target.mkdir(exist_ok=True)
    copy_demo(template, target)
    shutil.copy(template / "master.key", target / "master.key")
    return target


def pv(d: Path, *args: str, now: str) -> subprocess.CompletedProcess[str]:
    env = {"PERSONVERN_MASTER_KEY_FILE": str(d / "master.key"),
           "PERSONVERN_DATABASE_URL": f"sqlite:///{d / 'personvern.db'}",
           "PERSONVERN_MANIFEST": str(d / "personvern.yaml"), "PATH": "/usr/bin:/bin"}
    return run_personvern(*args, "--now", now, env=env, cwd=d)


def sql(d: Path, query: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(d / "service.db") as conn:
        return conn.execute(query, params).fetchall()


def one(d: Path, query: str, *params: object) -> object:
    return sql(d, query, *params)[0][0]


def sweep(d: Path, now: str) -> str:
    done = pv(d, "retention", "run", "--reason", "seed promise test", now=now)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# -- access and erasure, the same check for every seed ------------------------------------

def _ids(d: Path, t: str, where: str, uid: int) -> set[int]:
    return {int(str(i)) for (i,) in sql(d, f"SELECT id FROM {t} WHERE {where}",
                                         *[uid] * where.count("?"))}


def access_and_erasure(d: Path, out: Path, dataset: str, table: str, uid: int,
                       owned: dict[str, str], seen: dict[str, str] | None = None) -> None:
    """Art. 15: the package's table files hold exactly the rows that name the person
    (``seen``, else ``owned``: table -> WHERE clause, each ``?`` the person's id); Art. 17:
    the answer's deleted, changed and kept counts of the rows that are theirs (``owned``)
    are what service.db shows afterwards, and the proof is clean."""
    email = one(d, f"SELECT email FROM {table} WHERE id = ?", uid)
    shown = {t: _ids(d, t, where, uid) for t, where in (seen or owned).items()}
    mine = {t: _ids(d, t, where, uid) for t, where in owned.items()}
    opened = pv(d, "request", "open", "access", "--subject", f"ext:{uid}", "--verified-by",
                "test", now="2027-01-02T10:00:00+01:00")
    assert opened.returncode == 0, opened.stderr
    ran = pv(d, "request", "run", f"ext:{uid}", "--reason", "test", "--out", str(out),
             now="2027-01-02T10:05:00+01:00")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (package,) = out.glob("access-*.zip")
    with zipfile.ZipFile(package) as z:
        given = {name.split("/")[1].removesuffix(".csv"): {
            int(r["id"]) for r in csv.DictReader(io.StringIO(z.read(name).decode()))}
            for name in z.namelist() if name.startswith(f"{dataset}/")}
        data = z.read("data.json").decode()
    assert given == {t: ids for t, ids in shown.items() if ids}
    assert str(email) in data

    before = {t: len(ids) for t, ids in mine.items()}
    others = {t: int(str(one(d, f"SELECT count(*) FROM {t}"))) - n for t, n in before.items()}
    opened = pv(d, "request", "open", "erasure", "--subject", f"ext:{uid}", "--verified-by",
                "test", now="2027-01-02T11:00:00+01:00")
    assert opened.returncode == 0, opened.stderr
    ran = pv(d, "request", "run", f"ext:{uid}", "--reason", "test", "--json",
             now="2027-01-02T11:05:00+01:00")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    outcome = json.loads(ran.stdout)["outcome"]
    assert outcome["proof"]["clean"] is True and outcome["proof"]["unexpected"] == []

    def now_mine(t: str) -> int:
        where = owned[t]
        return int(str(one(d, f"SELECT count(*) FROM {t} WHERE {where}",
                           *[uid] * where.count("?"))))

    kept = {f"{k['dataset']}.{k['table']}": k["rows"] for k in outcome["kept"]}
    # What the law makes us keep is kept only for that purpose (Art. 18(2), Art. 17(3)(b)).
    assert all(k["restricted"] and k["until"] for k in outcome["kept"]), outcome["kept"]
    theirs = {f"{dataset}.{t}" for t, n in before.items() if n}
    assert set(outcome["deleted"]) | set(outcome["changed"]) | set(kept) <= theirs, outcome
    for t, n in before.items():
        key = f"{dataset}.{t}"
        # Nobody else's row is touched.
        assert int(str(one(d, f"SELECT count(*) FROM {t}"))) - now_mine(t) == others[t], t
        if not n:
            continue
        if key in outcome["deleted"]:
            assert outcome["deleted"][key] == n and now_mine(t) == 0, t
        elif key in kept:
            assert kept[key] == n and now_mine(t) == n, t
        else:
            assert outcome["changed"].get(key) == n, (t, outcome)
    assert sql(d, f"SELECT count(*) FROM {table} WHERE email = ?", email) == [(0,)]


# -- 000 SnapMentor -----------------------------------------------------------------------

def _on_the_example(d: Path) -> Path:
    """Point the copy at the seed's published map (examples/snapmentor.yaml), not the older
    demo manifest ``demo init --template snapmentor`` writes; the same service under it."""
    text = (EXAMPLES / "snapmentor.yaml").read_text(encoding="utf-8")
    line = "url_env: SNAPMENTOR_DATABASE_URL\n"
    assert text.count(line) == 1
    url = json.dumps(f"sqlite:///{d / 'service.db'}")
    (d / "personvern.yaml").write_text(text.replace(line, f"url: {url}\n"), encoding="utf-8")
    return d


def _snap_pupil(d: Path) -> int:
    """A pupil with sessions (every pupil's sessions were bought: purchases refer to them)."""
    return int(str(one(d, "SELECT u.id FROM users u WHERE role = 'pupil' AND EXISTS "
                          "(SELECT 1 FROM sessions s WHERE s.pupil_id = u.id) ORDER BY u.id")))


@pytest.mark.parametrize("manifest", ["demo", "example"])
def test_snapmentor_profile_goes_two_years_after_the_last_activity(
        built: Callable[[str], Path], tmp_path: Path, manifest: str) -> None:
    """Seed 000: "Din profil hos SnapMentor og tilhørende personopplysninger vil bli slettet
    senest 2 år etter siste registrerte aktivitet (pålogging ...)". GDPR Art. 5(1)(e).
    Under the demo's manifest (rule ``inactive``) and the seed's example (``inactive_profile``),
    whose map puts sessions, messages and sign-ins with the profile ("tilhørende
    personopplysninger"); that the seed names none of them is PV092's."""
    d = demo(built, "snapmentor", tmp_path)
    if manifest == "example":
        _on_the_example(d)
    pupil = _snap_pupil(d)
    sql(d, "UPDATE users SET last_login_at = '2027-01-01 12:00:00.000000' WHERE id = ?", pupil)
    email = one(d, "SELECT email FROM users WHERE id = ?", pupil)
    sessions = one(d, "SELECT count(*) FROM sessions WHERE pupil_id = ?", pupil)

    sweep(d, "2028-12-31T12:00:00+01:00")  # a day short of two years
    assert one(d, "SELECT email FROM users WHERE id = ?", pupil) == email
    assert one(d, "SELECT count(*) FROM sessions WHERE pupil_id = ?", pupil) == sessions

    sweep(d, "2029-01-02T12:00:00+01:00")
    assert str(one(d, "SELECT email FROM users WHERE id = ?", pupil)).startswith("slettet-")
    assert one(d, "SELECT count(*) FROM sessions WHERE pupil_id = ?", pupil) == 0
    assert one(d, "SELECT count(*) FROM messages WHERE sender_id = ?", pupil) == 0


@pytest.mark.parametrize("manifest", ["demo", "example"])
def test_snapmentor_billing_records_are_kept_five_years(
        built: Callable[[str], Path], tmp_path: Path, manifest: str) -> None:
    """Seed 000: "Opplysninger som er nødvendige for faktureringsformål må SnapMentor iht.
    regnskapslovgivningen oppbevare i 5 år." Bokføringsloven § 13: five years after the end
    of the fiscal year; the purchase and its invoice outlive the payer's profile."""
    d = demo(built, "snapmentor", tmp_path)
    if manifest == "example":
        _on_the_example(d)
    purchase, payer = sql(d, "SELECT id, payer_id FROM purchases ORDER BY id LIMIT 1")[0]
    sql(d, "UPDATE purchases SET purchased_at = '2027-03-01 12:00:00.000000' WHERE id = ?",
        purchase)
    sql(d, "UPDATE invoices SET issued_on = '2027-03-01' WHERE purchase_id = ?", purchase)
    invoices = one(d, "SELECT count(*) FROM invoices WHERE purchase_id = ?", purchase)
    assert invoices

    sweep(d, "2029-06-01T12:00:00+02:00")  # the payer's profile is long gone by now
    sweep(d, "2032-12-30T12:00:00+01:00")  # the last days of the fifth year
    assert str(one(d, "SELECT email FROM users WHERE id = ?", payer)).startswith("slettet-")
    assert one(d, "SELECT count(*) FROM purchases WHERE id = ?", purchase) == 1
    assert one(d, "SELECT count(*) FROM invoices WHERE purchase_id = ?", purchase) == invoices

    sweep(d, "2033-01-02T12:00:00+01:00")
    assert one(d, "SELECT count(*) FROM purchases WHERE id = ?", purchase) == 0
    assert one(d, "SELECT count(*) FROM invoices WHERE purchase_id = ?", purchase) == 0


def test_snapmentor_access_and_erasure(built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 000 names the rights to access and erasure; GDPR Art. 15 and 17."""
    d = demo(built, "snapmentor", tmp_path / "d")
    (tmp_path / "out").mkdir()
    pupil = _snap_pupil(d)
    bought = "purchase_id IN (SELECT id FROM purchases WHERE ? IN (payer_id, pupil_id))"
    owned = {"users": "id = ?", "sessions": "pupil_id = ?", "messages": "sender_id = ?",
             "login_events": "user_id = ?", "guardians": "? IN (child_id, guardian_id)",
             "purchases": "? IN (payer_id, pupil_id)", "invoices": bought}
    received = one(d, "SELECT count(*) FROM messages WHERE recipient_id = ?", pupil)
    access_and_erasure(d, tmp_path / "out", "app", "users", pupil, owned, seen={
        **owned, "messages": "? IN (sender_id, recipient_id)"})
    # A message sent to the pupil is its sender's (owner: false): it stays, unlinked.
    assert one(d, "SELECT count(*) FROM messages WHERE recipient_id = ?", pupil) == 0
    assert received


# -- 001 Vekstly --------------------------------------------------------------------------

def _vekstly_courses(d: Path, person: int, *ends: tuple[str, bool]) -> None:
    """Replace the participant's enrolments with courses ending on these dates."""
    course = one(d, "SELECT id FROM courses LIMIT 1")
    sql(d, "DELETE FROM enrolments WHERE participant_id = ?", person)
    for end, keep in ends:
        sql(d, "INSERT INTO enrolments (participant_id, course_id, level, enrolled_at, "
               "course_ends_on, keep_until_next_course) VALUES (?, ?, 'nybegynner', "
               "'2026-12-01 10:00:00', ?, ?)", person, course, end, keep)


def _email(d: Path, table: str, row: int) -> str:
    return str(one(d, f"SELECT email FROM {table} WHERE id = ?", row))


def test_vekstly_course_data_goes_when_the_course_ends(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: "når kurset du deltar på er over sletter vi data om deg". Art. 5(1)(e)."""
    d = demo(built, "vekstly", tmp_path)
    person = 1
    _vekstly_courses(d, person, ("2027-03-01", False))
    email = _email(d, "participants", person)
    cookies = one(d, "SELECT count(*) FROM cookie_records WHERE participant_id = ?", person)

    sweep(d, "2027-02-28T12:00:00+01:00")
    assert _email(d, "participants", person) == email
    assert one(d, "SELECT count(*) FROM enrolments WHERE participant_id = ?", person) == 1

    sweep(d, "2027-03-02T12:00:00+01:00")
    assert _email(d, "participants", person).startswith("slettet-")
    assert one(d, "SELECT count(*) FROM enrolments WHERE participant_id = ?", person) == 0
    assert cookies and one(d, "SELECT count(*) FROM cookie_records WHERE participant_id = ?",
                           person) == 0


def test_vekstly_kept_until_the_next_course_when_asked(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: "med mindre du ønsker at vi beholder dem til neste gang du vil på kurs"
    (the enrolment's keep flag, asked for by the participant; Art. 6(1)(a))."""
    d = demo(built, "vekstly", tmp_path)
    person = 1
    _vekstly_courses(d, person, ("2027-03-01", True))
    email = _email(d, "participants", person)
    sweep(d, "2027-03-02T12:00:00+01:00")
    assert _email(d, "participants", person) == email
    assert one(d, "SELECT count(*) FROM enrolments WHERE participant_id = ?", person) == 1



def test_vekstly_kept_data_goes_when_the_next_course_ends(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: "... med mindre du ønsker at vi beholder dem til neste gang du vil på kurs":
    kept until the next course, which then ends like any other (Art. 5(1)(e))."""
    d = demo(built, "vekstly", tmp_path)
    person = 1
    email = _email(d, "participants", person)
    # The next course comes and ends, this time without the wish: now everything goes.
    _vekstly_courses(d, person, ("2027-03-01", True), ("2027-09-01", False))
    sweep(d, "2027-08-31T12:00:00+02:00")
    assert _email(d, "participants", person) == email
    sweep(d, "2027-09-02T12:00:00+02:00")
    assert _email(d, "participants", person).startswith("slettet-")
    assert one(d, "SELECT count(*) FROM enrolments WHERE participant_id = ?", person) == 0


def test_vekstly_payment_data_goes_after_settlement_and_the_withdrawal_period(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: "Hos oss lagres da informasjonen frem til betalingen har gått igjennom
    eller til angreretten går ut" (angrerettloven § 22: 14 days)."""
    d = demo(built, "vekstly", tmp_path)
    person = 1
    _vekstly_courses(d, person, ("2028-06-01", False))  # the course data outlives the payment
    sql(d, "DELETE FROM payments WHERE participant_id = ?", person)
    sql(d, "INSERT INTO payments (participant_id, stripe_payment_intent, amount_nok, "
           "card_last4, created_at, settled_at) VALUES (?, 'pi_settled', 1000, '4242', "
           "'2027-01-10 12:00:00', '2027-01-10 12:00:00'), (?, 'pi_open', 1000, '4242', "
           "'2027-01-10 12:00:00', NULL)", person, person)

    sweep(d, "2027-01-23T12:00:00+01:00")  # day 13 of the withdrawal period
    assert {r for (r,) in sql(d, "SELECT stripe_payment_intent FROM payments "
                                 "WHERE participant_id = ?", person)} == {"pi_settled", "pi_open"}

    sweep(d, "2027-01-26T12:00:00+01:00")
    # Settled and past the period: gone; not settled: kept (it has not gone through).
    assert sql(d, "SELECT stripe_payment_intent FROM payments WHERE participant_id = ?",
               person) == [("pi_open",)]


def test_vekstly_mailing_list_entry_goes_when_unsubscribed(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: "Om du laster ned materiell eller melder deg på e-post lista vår så lagrer
    vi den informasjonen ... Du kan når som helst velge å melde deg av" (Art. 21(2)-(3))."""
    d = demo(built, "vekstly", tmp_path)
    gone, stays = (r for (r,) in sql(d, "SELECT id FROM newsletter ORDER BY id LIMIT 2"))
    sql(d, "UPDATE newsletter SET unsubscribed_at = '2027-02-01 12:00:00' WHERE id = ?", gone)
    sql(d, "UPDATE newsletter SET unsubscribed_at = NULL WHERE id = ?", stays)

    sweep(d, "2027-01-31T12:00:00+01:00")
    assert one(d, "SELECT count(*) FROM newsletter WHERE id IN (?, ?)", gone, stays) == 2
    sweep(d, "2027-02-02T12:00:00+01:00")
    assert sql(d, "SELECT id FROM newsletter WHERE id IN (?, ?)", gone, stays) == [(stays,)]


def test_vekstly_sales_records_are_kept_as_the_bookkeeping_act_requires(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: sales records are kept "i henhold til bokføringsloven" (§ 13: five years
    after the end of the fiscal year), after the participant's course data has gone."""
    d = demo(built, "vekstly", tmp_path)
    person = 1
    _vekstly_courses(d, person, ("2027-03-01", False))
    sql(d, "DELETE FROM receipts WHERE participant_id = ?", person)
    sql(d, "INSERT INTO receipts (participant_id, number, issued_on, amount_nok, billed_name) "
           "VALUES (?, 'K-TEST-1', '2027-03-01', 1000, 'Kari Nordmann')", person)

    sweep(d, "2032-12-30T12:00:00+01:00")
    assert _email(d, "participants", person).startswith("slettet-")
    assert sql(d, "SELECT billed_name FROM receipts WHERE number = 'K-TEST-1'") == [
        ("Kari Nordmann",)]
    sweep(d, "2033-01-02T12:00:00+01:00")
    assert sql(d, "SELECT id FROM receipts WHERE number = 'K-TEST-1'") == []


def test_vekstly_access_and_erasure(built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 001: "Du har rett på innsyn ... og sletting"; GDPR Art. 15 and 17."""
    d = demo(built, "vekstly", tmp_path / "d")
    (tmp_path / "out").mkdir()
    access_and_erasure(d, tmp_path / "out", "vekstly", "participants", 3, {
        "participants": "id = ?", "enrolments": "participant_id = ?",
        "payments": "participant_id = ?", "receipts": "participant_id = ?",
        "cookie_records": "participant_id = ?"})


# -- 002 Lillemini ------------------------------------------------------------------------

def _lillemini_ended(d: Path) -> tuple[int, int]:
    """A customer whose one subscription ended on 15 January 2027: (customer, subscription)."""
    customer, subscription = sql(d, "SELECT customer_id, min(id) FROM subscriptions "
                                    "GROUP BY customer_id HAVING count(*) = 1 "
                                    "ORDER BY customer_id LIMIT 1")[0]
    sql(d, "UPDATE subscriptions SET ended_on = '2027-01-15' WHERE id = ?", subscription)
    return int(str(customer)), int(str(subscription))


def test_lillemini_subscription_data_goes_six_months_after_it_ends(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 002: "Vi kan bevare kundeopplysninger opptil 6 mnd etter at abonnementer er
    opphørt. Denne oppbevaringen er begrunnet med gjeldende krav til oppbevaring av
    regnskapsdokumentasjon." Shown as the manifest says it: the subscription and its orders
    go after six months. Note: bokføringsloven § 13 asks five years for accounting records;
    ``personvern check`` reports that conflict (PV011) and the engine follows the manifest."""
    d = demo(built, "lillemini", tmp_path)
    _, subscription = _lillemini_ended(d)
    address = one(d, "SELECT delivery_address FROM subscriptions WHERE id = ?", subscription)
    orders = one(d, "SELECT count(*) FROM orders WHERE subscription_id = ?", subscription)
    assert orders

    sweep(d, "2027-07-14T12:00:00+02:00")
    assert one(d, "SELECT delivery_address FROM subscriptions WHERE id = ?",
               subscription) == address
    assert one(d, "SELECT count(*) FROM orders WHERE subscription_id = ?", subscription) == orders

    sweep(d, "2027-07-16T12:00:00+02:00")
    assert one(d, "SELECT delivery_address FROM subscriptions WHERE id = ?",
               subscription) != address
    assert one(d, "SELECT count(*) FROM orders WHERE subscription_id = ?", subscription) == 0
    check = run_personvern("check", str(d / "personvern.yaml"))
    assert "PV011 retention rule 'subscription' keeps bookkeeping data 6 months" in (
        check.stdout + check.stderr)


def test_lillemini_customer_details_go_six_months_after_the_subscription_ends(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 002: "Vi kan bevare kundeopplysninger opptil 6 mnd etter at abonnementer er
    opphørt" – the customer's details (kundeopplysninger), not only the subscription: the
    customer is dated by their subscriptions' end (dates: {subscription_end:
    subscriptions.ended_on})."""
    d = demo(built, "lillemini", tmp_path)
    customer, _ = _lillemini_ended(d)
    email = _email(d, "customers", customer)
    sweep(d, "2027-07-14T12:00:00+02:00")
    assert _email(d, "customers", customer) == email
    sweep(d, "2027-07-16T12:00:00+02:00")
    assert _email(d, "customers", customer) != email


def test_lillemini_access_and_erasure(built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 002: "Du kan når som helst be oss om å slette opplysninger knyttet til deg";
    GDPR Art. 15 and 17."""
    d = demo(built, "lillemini", tmp_path / "d")
    (tmp_path / "out").mkdir()
    access_and_erasure(d, tmp_path / "out", "lillemini", "customers", 3, {
        "customers": "id = ?", "subscriptions": "customer_id = ?",
        "orders": "customer_id = ?", "processor_ids": "customer_id = ?",
        "visits": "customer_id = ?"})


# -- 003 Min Mentor -----------------------------------------------------------------------

def test_minmentor_a_company_that_leaves_goes_with_its_employees(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 003: "If you are representing a company, and your company no longer wishes to
    be part of the competence hub, you must get in touch with QUALA to delete all data
    about your company and employees." GDPR Art. 17(1)(a)."""
    d = demo(built, "minmentor", tmp_path)
    company, orgnr = sql(d, "SELECT id, orgnr FROM companies ORDER BY id LIMIT 1")[0]
    staff = [e for (e,) in sql(d, "SELECT id FROM employees WHERE company_id = ?", company)]
    others = sql(d, "SELECT id, email FROM employees WHERE company_id != ? ORDER BY id",
                 company)
    assert staff and others

    left = pv(d, "org", "leave", str(orgnr), "--reason", "the company left the hub",
              now="2027-01-04T12:00:00+01:00")
    assert left.returncode == 0, left.stdout + left.stderr
    marks = ",".join("?" * len(staff))
    for table, where in (("employees", "company_id = ?"), ("representatives", "company_id = ?"),
                         ("companies", "id = ?"), ("statistics", "company_id = ?")):
        assert one(d, f"SELECT count(*) FROM {table} WHERE {where}", company) == 0, table
    for table in ("education", "skills", "matches"):
        assert one(d, f"SELECT count(*) FROM {table} WHERE employee_id IN ({marks})",
                   *staff) == 0, table
    assert sql(d, "SELECT id, email FROM employees WHERE company_id != ? ORDER BY id",
               company) == others


def test_minmentor_access_and_erasure(built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 003: "You have the right to request deletion of your data at any point";
    GDPR Art. 15 and 17."""
    d = demo(built, "minmentor", tmp_path / "d")
    (tmp_path / "out").mkdir()
    access_and_erasure(d, tmp_path / "out", "minmentor", "employees", 10, {
        "employees": "id = ?", "education": "employee_id = ?", "skills": "employee_id = ?",
        "matches": "employee_id = ?"})


# -- 004 Teoritentamen --------------------------------------------------------------------

def _pupil_emails(d: Path) -> dict[object, object]:
    return {row[0]: row[1] for row in sql(d, "SELECT id, email FROM pupils")}


def test_teoritentamen_a_child_under_13_without_consent_goes_when_discovered(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 004: "ønsker ikke Teoritentamen.no å behandle personopplysninger om barn under
    13 år uten foresattes samtykke. Dersom det viser seg at vi har behandlet slike
    personopplysninger, kan vi kontaktes for sletting." GDPR Art. 8(1),
    personopplysningsloven § 5."""
    d = demo(built, "teoritentamen", tmp_path)
    now = "2027-01-04T12:00:00+01:00"
    listed = pv(d, "children", "check", "--json", now=now)
    assert listed.returncode == 0, listed.stderr
    pupils = _pupil_emails(d)
    guarded = {p for (p,) in sql(d, "SELECT pupil_id FROM guardians")}
    assert _pupil_emails(d) == pupils  # finding erases nothing

    done = pv(d, "children", "check", "--erase", "--reason", "found in the monthly review",
              "--json", now=now)
    assert done.returncode == 0, done.stderr
    [erased] = json.loads(done.stdout)["erased"]
    assert erased["state"] == "completed"
    after = _pupil_emails(d)
    [child] = [p for p in pupils if after[p] != pupils[p]]
    assert str(after[child]).startswith("slettet-") and child not in guarded
    assert one(d, "SELECT count(*) FROM progress WHERE pupil_id = ?", child) == 0


def test_teoritentamen_purchases_are_kept_as_accounting_law_requires(
        built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 004: "Personopplysninger vil ikke bli lagret lenger enn det som er nødvendig for
    å oppfylle formålet med behandlingen og lovpålagte plikter vi har, for eksempel etter
    regnskapslovgivningen." Bokføringsloven § 13: five years after the fiscal year."""
    d = demo(built, "teoritentamen", tmp_path)
    purchase = one(d, "SELECT id FROM purchases ORDER BY id LIMIT 1")
    sql(d, "UPDATE purchases SET purchased_on = '2027-03-01' WHERE id = ?", purchase)
    sweep(d, "2032-12-30T12:00:00+01:00")
    assert one(d, "SELECT count(*) FROM purchases WHERE id = ?", purchase) == 1
    sweep(d, "2033-01-02T12:00:00+01:00")
    assert one(d, "SELECT count(*) FROM purchases WHERE id = ?", purchase) == 0


def test_teoritentamen_access_and_erasure(built: Callable[[str], Path], tmp_path: Path) -> None:
    """Seed 004: "Du har rett til innsyn i og korrigering eller sletting av
    personopplysninger"; GDPR Art. 15 and 17."""
    d = demo(built, "teoritentamen", tmp_path / "d")
    (tmp_path / "out").mkdir()
    access_and_erasure(d, tmp_path / "out", "teoritentamen", "pupils", 3, {
        "pupils": "id = ?", "guardians": "pupil_id = ?", "progress": "pupil_id = ?",
        "purchases": "pupil_id = ?", "marketing_preferences": "pupil_id = ?"})
