"""Seed 000 (SnapMentor, examples/snapmentor.yaml) kept by the sweep.

The policy: "Profilen og opplysningene slettes senest 2 år etter siste registrerte
aktivitet (pålogging eller annen henvendelse til SnapMentor). Trekker du samtykket,
slettes de." and "må SnapMentor iht. regnskapslovgivningen oppbevare [fakturering] i 5 år"
with "sterkt begrenset" access. The law: GDPR Art. 5(1)(e) (storage limitation), Art. 7(3)
and 17(1)(b) (withdrawal, erasure), bokføringsloven § 13 (five years after the end of the
fiscal year), Art. 18 / 5(1)(b) (kept data used for nothing else).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, MetaData, String, Table

from personvern.consent.service import decide_for
from personvern.consent.subjects import record_activity, require_subject
from personvern.consent.tables import Identity, Subject
from personvern.errors import NotFound
from retention.support import (
    build_service,
    create_service_update,
    person,
    plan,
    runtime,
    scalar,
    sweep,
    urls,
    withdraw,
    write_manifest,
)

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
SIGNUP = ("sessions", "subscription", "parent_payment", "complaints")


def _metadata() -> MetaData:
    m = MetaData()
    Table("accounts", m, Column("id", Integer, primary_key=True),
          Column("email", String(200), nullable=False, unique=True),
          Column("name", String(200), nullable=False),
          Column("last_login_at", DateTime(timezone=True)))
    Table("invoices", m, Column("id", Integer, primary_key=True),
          Column("account_id", ForeignKey("accounts.id"), nullable=False),
          Column("billed_name", String(200), nullable=False),
          Column("issued_on", Date, nullable=False))
    return m


def _map(service_url: str, dated_by_login: bool) -> list[dict[str, Any]]:
    accounts: dict[str, Any] = {
        "name": "accounts", "erase": "mask",
        "columns": [{"name": "id", "identity": "user_id", "erase": "keep"},
                    {"name": "email", "identity": "email", "categories": ["user.account"]},
                    {"name": "name", "categories": ["user.account"]}]}
    if dated_by_login:
        accounts["dates"] = {"last_activity": "last_login_at"}
    return [{"id": "customer_database", "url": service_url, "tables": [
        accounts,
        {"name": "invoices", "erase": "keep", "hold": "billing_5y",
         "dates": {"fiscal_year_end": "issued_on"},
         "columns": [{"name": "billed_name",
                      "categories": ["user.behavior.purchase_history"]}],
         "references": [{"column": "account_id", "to": "accounts.id"}]}]}]


def _setup(tmp_path: Path, db_url: str, dated_by_login: bool) -> tuple[Path, str, str]:
    engine_url, service_url = urls(db_url, tmp_path)
    build_service(service_url, _metadata(), {
        "accounts": [
            {"id": 1, "email": "kari.nordmann@example.no", "name": "Kari Nordmann",
             "last_login_at": T0},
            {"id": 2, "email": "ola.hansen@example.no", "name": "Ola Hansen",
             "last_login_at": T0},
            {"id": 3, "email": "per.berg@example.no", "name": "Per Berg",
             "last_login_at": T0}],
        "invoices": [{"id": 10, "account_id": 1, "billed_name": "Kari Nordmann",
                      "issued_on": date(2024, 11, 5)}]})
    manifest = write_manifest(tmp_path / "personvern.yaml", "snapmentor",
                              _map(service_url, dated_by_login))
    return manifest, engine_url, service_url


@pytest.mark.parametrize("source", ["engine", "login column"])
def test_profile_deleted_at_most_two_years_after_last_activity(
        tmp_path: Path, db_url: str, source: str) -> None:
    """"slettes senest 2 år etter siste registrerte aktivitet" (GDPR Art. 5(1)(e)): the
    date is the engine's last activity (an inquiry) or the service's last sign-in."""
    manifest, engine_url, service_url = _setup(tmp_path, db_url, source == "login column")
    with runtime(manifest, engine_url, T0) as rt:
        kari = person(rt, T0, "kari.nordmann@example.no", 1, "parents", SIGNUP)
        ola = person(rt, T0, "ola.hansen@example.no", 2, "parents", SIGNUP)
        person(rt, T0, "per.berg@example.no", 3, "parents", SIGNUP)
        later = datetime(2026, 2, 1, 9, tzinfo=UTC)
        with rt.transaction() as s:  # Ola wrote to SnapMentor: activity
            record_activity(s, require_subject(s, ola), later)
        if source == "login column":  # the service records sign-ins itself
            create_service_update(service_url, "UPDATE accounts SET last_login_at = :at "
                                  "WHERE id = 2", at=later)
        day_before = datetime(2027, 2, 28, 12, tzinfo=UTC)
        assert plan(rt, day_before)["rules"] == []
        assert sweep(rt, day_before)["rules"] == []
        due = datetime(2027, 3, 1, 12, tzinfo=UTC)  # two years after Kari's and Per's
        report = sweep(rt, due)
        assert scalar(service_url, "SELECT email FROM accounts WHERE id = 2") == \
            "ola.hansen@example.no"
        for uid in (1, 3):
            email = scalar(service_url, f"SELECT email FROM accounts WHERE id = {uid}")
            assert email.startswith("slettet-")
        assert scalar(service_url, "SELECT name FROM accounts WHERE id = 3").startswith(
            "slettet-")
        rules = {r["rule"]: r for r in report["rules"]}
        assert rules["inactive_profile"]["rows"] == 2
        with rt.transaction() as s:
            per = s.query(Subject).filter(Subject.erased_at.is_not(None)).all()
            assert len(per) == 1  # Per: nothing left; Kari: her invoice is kept
            assert s.query(Identity).filter(Identity.subject_id == per[0].id).count() == 0
            assert decide_for(s, rt.consent, kari, "subscription", due).code == \
                "retention_ended"
        # Ola is kept until two years after his activity.
        assert sweep(rt, datetime(2028, 2, 2, 12, tzinfo=UTC))["rules"][0]["rows"] == 1


def test_withdrawing_consent_deletes(tmp_path: Path, db_url: str) -> None:
    """"Trekker du samtykket, slettes de" (GDPR Art. 7(3), 17(1)(b)); withdrawing only the
    marketing consent does not delete the profile the sign-up consent keeps."""
    manifest, engine_url, service_url = _setup(tmp_path, db_url, False)
    with runtime(manifest, engine_url, T0) as rt:
        ola = person(rt, T0, "ola.hansen@example.no", 2, "parents",
                     (*SIGNUP, "tailored_marketing"))
        per = person(rt, T0, "per.berg@example.no", 3, "parents", SIGNUP)
        at = datetime(2025, 6, 1, 8, tzinfo=UTC)
        withdraw(rt, at, ola, ("tailored_marketing",))
        withdraw(rt, at, per, SIGNUP)
        report = sweep(rt, datetime(2025, 6, 1, 9, tzinfo=UTC))
        assert [r["rule"] for r in report["rules"]] == ["consent_withdrawn"]
        assert scalar(service_url, "SELECT email FROM accounts WHERE id = 2") == \
            "ola.hansen@example.no"
        assert scalar(service_url, "SELECT email FROM accounts WHERE id = 3").startswith(
            "slettet-")
        with rt.transaction() as s, pytest.raises(NotFound):
            require_subject(s, per)


def test_billing_kept_five_years_after_the_fiscal_year_and_restricted(
        tmp_path: Path, db_url: str) -> None:
    """bokføringsloven § 13: an invoice of 5 Nov 2024 is kept through 31 Dec 2029 and used
    for bookkeeping alone once the profile is gone; it goes on 1 Jan 2030, and with it the
    last of the person in the engine."""
    manifest, engine_url, service_url = _setup(tmp_path, db_url, False)
    with runtime(manifest, engine_url, T0) as rt:
        kari = person(rt, T0, "kari.nordmann@example.no", 1, "parents", SIGNUP)
        sweep(rt, datetime(2027, 3, 2, tzinfo=UTC))
        assert scalar(service_url, "SELECT count(*) FROM invoices") == 1
        with rt.transaction() as s:
            at = datetime(2027, 3, 2, tzinfo=UTC)
            assert decide_for(s, rt.consent, kari, "billing_records", at).allowed
            denied = decide_for(s, rt.consent, kari, "tailored_marketing", at)
            assert (denied.allowed, denied.code) == (False, "retention_ended")
            assert "billing_records" in denied.reason
        assert sweep(rt, datetime(2029, 12, 31, 22, tzinfo=UTC))["rules"] == []
        assert scalar(service_url, "SELECT count(*) FROM invoices") == 1
        report = sweep(rt, datetime(2030, 1, 1, 0, 30, tzinfo=UTC))  # 01:30 in Oslo
        assert scalar(service_url, "SELECT count(*) FROM invoices") == 0
        # Every purpose holding it has ended now; the step of whichever rule comes first
        # takes it (here the profile rule, whose purposes ended earlier).
        assert sum(r["rows"] for r in report["rules"]) == 1
        with rt.transaction() as s, pytest.raises(NotFound):
            require_subject(s, kari)


@pytest.mark.parametrize("source", ["engine", "login column"])
def test_a_restriction_in_force_keeps_the_rows_a_rule_would_take(
        tmp_path: Path, db_url: str, source: str) -> None:
    """GDPR Art. 18(1)(b), (c), 18(2): Kari asked for her data to be restricted rather than
    erased (she needs it for a legal claim); while that is in force only storage is
    allowed, so the two-year rule leaves her profile and says so, and takes it once the
    restriction is lifted (Art. 18(3))."""
    from personvern.requests.engine import Requester, Requests, lift_restriction, open_request
    from personvern.retention.planning import not_enforced

    manifest, engine_url, service_url = _setup(tmp_path, db_url, source == "login column")
    with runtime(manifest, engine_url, T0) as rt:
        kari = person(rt, T0, "kari.nordmann@example.no", 1, "parents", SIGNUP)
        person(rt, T0, "per.berg@example.no", 3, "parents", SIGNUP)
        service = Requests.of(rt)
        try:
            with rt.transaction() as s:
                rid = open_request(s, service.ctx, "restriction", subject=kari,
                                   by=Requester("owner", verified_by="signed letter")).request.id
            assert service.run(rid, reason="identity checked").state == "completed"
        finally:
            service.close()
        due = datetime(2027, 3, 1, 12, tzinfo=UTC)
        planned = plan(rt, due)
        assert planned["restricted"] == 1
        assert ("1 person with a restriction in force (GDPR Art. 18): no rule deletes or "
                "changes their rows until it is lifted (personvern request lift)"
                in not_enforced(planned))
        # Per's profile (and, dated by the service's column, Ola's, whom the engine does
        # not know): never Kari's.
        others = 2 if source == "login column" else 1
        assert planned["rules"][0]["rows"] == others
        report = sweep(rt, due)
        assert report["rules"][0]["rows"] == others and report["restricted"] == 1
        assert scalar(service_url, "SELECT email FROM accounts WHERE id = 1") == \
            "kari.nordmann@example.no"
        assert scalar(service_url, "SELECT email FROM accounts WHERE id = 3").startswith(
            "slettet-")
        with rt.transaction() as s:  # the engine did not forget her either
            assert require_subject(s, kari).id == kari
            lift_restriction(s, Requests.of(rt).ctx, rid, "the claim is settled")
        later = datetime(2027, 3, 2, 12, tzinfo=UTC)
        report = sweep(rt, later)
        assert report["restricted"] == 0 and report["rules"][0]["rows"] == 1
        assert scalar(service_url, "SELECT email FROM accounts WHERE id = 1").startswith(
            "slettet-")
