"""Seeds 001 (Vekstly), 002 (Lillemini) and 004 (Teoritentamen) kept by the sweep.

Each test quotes the policy (shared/seeds/) and cites the law the period comes from.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table

from personvern.law import get_jurisdiction
from retention.support import build_service, column, plan, runtime, sweep, urls, write_manifest

NOW = datetime(2026, 5, 12, 12, tzinfo=UTC)


def _vekstly(tmp_path: Path, db_url: str) -> tuple[Path, str, str]:
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("enrolments", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False), Column("level", String(40)),
          Column("course_ends_on", Date, nullable=False),
          Column("keep_until_next", Boolean, nullable=False, default=False))
    Table("payments", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False), Column("card_last4", String(4)),
          Column("settled_at", DateTime(timezone=True)))
    build_service(service_url, m, {
        "enrolments": [
            {"id": 1, "email": "a@example.no", "level": "nybegynner",
             "course_ends_on": date(2026, 5, 11), "keep_until_next": False},
            {"id": 2, "email": "b@example.no", "level": "viderekommen",
             "course_ends_on": date(2026, 5, 11), "keep_until_next": True},
            {"id": 3, "email": "c@example.no", "level": "nybegynner",
             "course_ends_on": date(2026, 5, 13), "keep_until_next": False}],
        "payments": [
            {"id": 1, "email": "a@example.no", "card_last4": "4242",
             "settled_at": datetime(2026, 4, 28, 10, tzinfo=UTC)},
            {"id": 2, "email": "b@example.no", "card_last4": "1881",
             "settled_at": datetime(2026, 4, 28, 13, tzinfo=UTC)},
            {"id": 3, "email": "c@example.no", "card_last4": "0005", "settled_at": None}]})
    manifest = write_manifest(tmp_path / "personvern.yaml", "vekstly", [{
        "id": "courses", "url": service_url, "tables": [
            {"name": "enrolments", "dates": {"course_end": "course_ends_on"},
             "keep_flag": "keep_until_next",
             "columns": [{"name": "email", "identity": "email"},
                         {"name": "level", "categories": ["user.account.settings"]}]},
            {"name": "payments", "dates": {"payment_settled": "settled_at"},
             "columns": [{"name": "email", "identity": "email"},
                         {"name": "card_last4", "categories": ["user.financial"]}]}]}])
    return manifest, engine_url, service_url


def test_seed001_course_data_deleted_when_the_course_ends_unless_kept_on_request(
        tmp_path: Path, db_url: str) -> None:
    """"Når kurset du deltar på er over, sletter vi opplysningene om deg, med mindre du
    ønsker at vi beholder dem til neste gang" (GDPR Art. 5(1)(e); the keep is the person's
    own request, the rule's requested_by_subject condition)."""
    manifest, engine_url, service_url = _vekstly(tmp_path, db_url)
    with runtime(manifest, engine_url, NOW) as rt:
        planned = plan(rt, NOW)
        course = next(r for r in planned["rules"] if r["rule"] == "course_end")
        assert course["rows"] == 1 and course["tables"][0]["examples"] == [1]
        assert column(service_url, "SELECT id FROM enrolments ORDER BY id") == [1, 2, 3]
        sweep(rt, NOW)
        assert column(service_url, "SELECT id FROM enrolments ORDER BY id") == [2, 3]
        sweep(rt, datetime(2026, 5, 13, 12, tzinfo=UTC))  # C's course is over too
        assert column(service_url, "SELECT id FROM enrolments ORDER BY id") == [2]


def test_seed001_payment_data_kept_until_paid_and_the_withdrawal_period_is_over(
        tmp_path: Path, db_url: str) -> None:
    """"lagres ... frem til betalingen har gått igjennom eller til angreretten går ut": the
    14 days of angrerettloven come from the jurisdiction, counted from settlement; an
    unsettled payment is kept."""
    j = get_jurisdiction("NO")
    assert j.withdrawal_period_days == 14  # angrerettloven
    manifest, engine_url, service_url = _vekstly(tmp_path, db_url)
    with runtime(manifest, engine_url, NOW) as rt:
        sweep(rt, NOW)  # 28 April 10:00 + 14 days = 12 May 10:00: A's goes, B's (13:00) stays
        assert column(service_url, "SELECT id FROM payments ORDER BY id") == [2, 3]
        sweep(rt, datetime(2026, 5, 12, 13, 0, 1, tzinfo=UTC))
        assert column(service_url, "SELECT id FROM payments ORDER BY id") == [3]
        sweep(rt, datetime(2027, 5, 12, tzinfo=UTC))
        assert column(service_url, "SELECT id FROM payments ORDER BY id") == [3]


def test_seed002_kept_up_to_six_months_after_the_subscription_ends(
        tmp_path: Path, db_url: str) -> None:
    """"Vi kan bevare kundeopplysninger opptil 6 mnd etter at abonnementer er opphørt"
    (GDPR Art. 5(1)(e)). The policy's own period is kept; that it is shorter than
    bokføringsloven § 13 is for `personvern check` to say (PV011), not for the sweep."""
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("subscriptions", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False),
          Column("billing_address", String(200)), Column("ended_on", Date))
    build_service(service_url, m, {"subscriptions": [
        {"id": 1, "email": "a@example.no", "billing_address": "Munkegata 1, 7013 Trondheim",
         "ended_on": date(2026, 1, 15)},
        {"id": 2, "email": "b@example.no", "billing_address": "Olav Tryggvasons gate 2",
         "ended_on": None}]})
    manifest = write_manifest(tmp_path / "personvern.yaml", "lillemini", [{
        "id": "shop", "url": service_url, "tables": [{
            "name": "subscriptions", "dates": {"subscription_end": "ended_on"},
            "columns": [{"name": "email", "identity": "email"},
                        {"name": "billing_address", "categories": ["user.contact.address"]}]}]}])
    with runtime(manifest, engine_url, NOW) as rt:
        sweep(rt, datetime(2026, 7, 14, 12, tzinfo=UTC))
        assert column(service_url, "SELECT id FROM subscriptions ORDER BY id") == [1, 2]
        sweep(rt, datetime(2026, 7, 15, 12, tzinfo=UTC))
        assert column(service_url, "SELECT id FROM subscriptions ORDER BY id") == [2]


def test_seed004_accounting_data_per_bokforingsloven(tmp_path: Path, db_url: str) -> None:
    """"lovpålagte plikter vi har, for eksempel etter regnskapslovgivningen": bokføringsloven
    § 13 keeps primary documentation five years after the end of the fiscal year, so an
    order of 31 Dec 2025 is kept through 31 Dec 2030, one of 1 Jan 2026 a year longer."""
    assert get_jurisdiction("NO").bookkeeping_years == 5  # bokføringsloven § 13
    engine_url, service_url = urls(db_url, tmp_path)
    m = MetaData()
    Table("orders", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False), Column("items", String(200)),
          Column("ordered_on", Date, nullable=False))
    build_service(service_url, m, {"orders": [
        {"id": 1, "email": "a@example.no", "items": "Teoripakke 30 dager",
         "ordered_on": date(2025, 12, 31)},
        {"id": 2, "email": "b@example.no", "items": "Teoripakke 7 dager",
         "ordered_on": date(2026, 1, 1)}]})
    manifest = write_manifest(tmp_path / "personvern.yaml", "teoritentamen", [{
        "id": "shop", "url": service_url, "tables": [{
            "name": "orders", "dates": {"fiscal_year_end": "ordered_on"},
            "columns": [{"name": "email", "identity": "email"},
                        {"name": "items", "categories": ["user.behavior.purchase_history"]}]}]}])
    with runtime(manifest, engine_url, NOW) as rt:
        sweep(rt, datetime(2030, 12, 31, 22, 59, tzinfo=UTC))  # 23:59 in Oslo
        assert column(service_url, "SELECT id FROM orders ORDER BY id") == [1, 2]
        sweep(rt, datetime(2030, 12, 31, 23, 1, tzinfo=UTC))  # 00:01 on 1 Jan in Oslo
        assert column(service_url, "SELECT id FROM orders ORDER BY id") == [2]
        sweep(rt, datetime(2032, 1, 1, 12, tzinfo=UTC))
        assert column(service_url, "SELECT id FROM orders ORDER BY id") == []
